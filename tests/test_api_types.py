"""The panel's TypeScript types are generated from the backend's OpenAPI: fail when either is stale."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from openapi_spec_validator import validate

from jupyter_mlp_backend.openapi import document

ROOT = Path(__file__).parents[1]


def test_openapi_document_is_valid_and_committed_copy_is_current():
    doc = document()
    validate(doc)
    committed = json.loads((ROOT / "labextension" / "openapi.json").read_text())
    for d in (committed, doc):  # the package version is not part of the contract
        d["info"].pop("version", None)
    assert committed == json.loads(json.dumps(doc)), (
        "labextension/openapi.json is stale: run `python -m jupyter_mlp_backend.openapi labextension/openapi.json"
        " && jlpm gen:api`"
    )


def test_generated_types_match_the_committed_ones(tmp_path):
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document(), indent=2, sort_keys=True))
    out = tmp_path / "api-types.ts"
    cli = ROOT / "node_modules" / ".bin" / "openapi-typescript"
    p = subprocess.run([str(cli), str(spec), "--default-non-nullable", "false", "-o", str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    committed = (ROOT / "labextension" / "src" / "common" / "api-types.ts").read_text()
    assert out.read_text() == committed, "labextension/src/common/api-types.ts is stale: run `jlpm gen:api`"


def test_schema_names_are_unique():
    """Two pydantic models with one name get module-qualified names in the document, which renames the types the
    panel imports (it broke the build once): every schema keeps its own short name."""
    qualified = [name for name in document()["components"]["schemas"] if "__" in name]
    assert qualified == [], f"rename one of each pair: {qualified}"
