"""The signed files of a model version over MLflow's registry and artifact store: where a run's model is, its files
fetched and hashed, its lineage digests, the signed statement, and the verified loader.

The backend is the only writer of the registry: clients never reach MLflow's registry endpoints (the gateway does
not pass them) and never name a storage URI. A version is registered from a run of the project (`run_id` and the
logged model's name or an artifact folder of the run); the files are fetched through MLflow's artifact API,
hashed, and the manifest is signed before the version exists anywhere. Nothing is deserialised on the way.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_mlp.signing import canonical, file_digest, sign_statement, verify_model_dir

from ..errors import Invalid, MLPError, NotFound
from ..experiments.paths import InvalidArtifactPath, artifact_path

MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
ALIASES = ("staging", "champion")


class Unavailable(MLPError):
    status = 503
    code = "unavailable"


class Refused(MLPError):
    """The loader (or `verify`) refuses a model version: not signed, or not what was signed."""

    status = 409
    code = "verification_failed"


def mlflow_model_name(settings, slug: str, name: str) -> str:  # noqa: ANN001
    # MLflow forbids '/' and ':' in registered model names; slugs have no '.', so this is unambiguous.
    return f"{settings.mlflow_experiment_prefix}{slug}.{name}"


def _base(uri: str, experiment_ids: list[str]) -> str:
    """The artifact-store path of a platform-stored URI inside one of the project's experiments, else refuse."""
    if not uri.startswith("mlflow-artifacts:/"):
        raise Invalid("The model's files are not in the platform's artifact store", detail=[{"field": "source"}])
    base = uri[len("mlflow-artifacts:/"):].strip("/")
    if base.split("/", 1)[0] not in experiment_ids or ".." in base.split("/"):
        raise Invalid("The model's files are outside the project's artifact root", detail=[{"field": "source"}])
    return base


@dataclass
class Source:
    run_id: str
    base: str  # artifact-store path of the model folder
    uri: str  # mlflow-artifacts:/<base>
    model_id: str | None  # MLflow 3 logged model, when it is one
    name: str  # the logged model's name or the artifact folder


async def resolve_source(exp, experiment_ids: list[str], run_id: str, path: str) -> Source:  # noqa: ANN001
    """A run of the project and a logged model name or artifact folder of it -> where the model files are."""
    try:
        parts = artifact_path(path, allow_empty=False)
    except InvalidArtifactPath as e:
        raise Invalid(str(e), detail=[{"field": "artifact_path"}]) from e
    if not re.fullmatch(r"[0-9a-f]{32}", run_id or "") or exp.experiment_of_run(run_id) not in experiment_ids:
        raise NotFound(f"Run '{run_id}' not found")
    rel = "/".join(parts)
    # A model logged in the run; then one that a pipeline stage's `log_model` made outside any run, which names
    # the stage's run in a tag (jupyter_mlp.lineage) since MLflow links it to no run.
    for flt in (f"source_run_id = '{run_id}'", f"tags.`mlp.pipeline.stage_run` = '{run_id}'"):
        r = await exp.mlflow.client.post("/api/2.0/mlflow/logged-models/search", json={
            "experiment_ids": [exp.experiment_of_run(run_id)], "filter": flt, "max_results": 100})
        for m in r.json().get("models", []) if r.status_code == 200 else []:
            info = m.get("info", {})
            if (info.get("name") == rel and info.get("status") in (None, "READY", "LOGGED_MODEL_READY")
                    and info.get("source_run_id") in (None, "", run_id)):
                base = _base(info.get("artifact_uri", ""), experiment_ids)
                return Source(run_id, base, f"mlflow-artifacts:/{base}", info.get("model_id"), rel)
    run = await exp.mlflow.client.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id})
    if run.status_code != 200:
        raise NotFound(f"Run '{run_id}' not found")
    base = _base(run.json()["run"]["info"].get("artifact_uri", ""), experiment_ids)
    folder = f"{base}/{rel}"
    listing = await exp.mlflow.client.get("/api/2.0/mlflow-artifacts/artifacts", params={"path": folder})
    names = {f["path"] for f in listing.json().get("files", [])} if listing.status_code == 200 else set()
    if "MLmodel" not in names:
        raise NotFound(f"Run '{run_id}' has no logged model named '{rel}' and no artifact folder '{rel}' with "
                       "an MLmodel file")
    return Source(run_id, folder, f"mlflow-artifacts:/{folder}", None, rel)


def _reason(r) -> str:  # noqa: ANN001
    """MLflow's error message in a failed answer (a sealed artifact whose key was destroyed says so)."""
    try:
        return str(r.json().get("message") or r.text)[:500]
    except ValueError:
        return r.text[:500]


async def list_tree(exp, base: str) -> list[tuple[str, int]]:  # noqa: ANN001
    out: list[tuple[str, int]] = []
    pending = [""]
    while pending:
        rel = pending.pop()
        r = await exp.mlflow.client.get("/api/2.0/mlflow-artifacts/artifacts",
                                        params={"path": f"{base}/{rel}".rstrip("/")})
        if r.status_code != 200:
            raise Unavailable(f"MLflow could not list the model's files: {r.text[:200]}")
        for f in r.json().get("files", []):
            name = f"{rel}/{f['path']}".lstrip("/") if rel else f["path"]
            # MLflow answers with names relative to the listed folder; keep only plain ones.
            if any(p in ("", ".", "..") for p in name.split("/")):
                raise Refused(f"The artifact store lists a file name that is not plain: {name!r}")
            if f.get("is_dir"):
                pending.append(name)
            else:
                out.append((name, int(f.get("file_size") or 0)))
    return sorted(out)


async def download_tree(exp, base: str, dest: Path | None, dk=None) -> list[dict[str, Any]]:  # noqa: ANN001
    """Fetch every file of the model folder into dest; return the manifest entries (path, sha256, size) of the
    plaintext. With a data key `dk` (the project encrypts at rest) each file is written sealed as it arrives;
    without `dest` the files are only hashed (registration: nothing written anywhere)."""
    from jupyter_mlp.at_rest import Sealer

    files = []
    for rel, _ in await list_tree(exp, base):
        target = dest / rel if dest is not None else Path(os.devnull)
        if dest is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        size = 0
        sealer = Sealer(dk) if dk is not None else None
        async with exp.mlflow.client.stream("GET", f"/api/2.0/mlflow-artifacts/artifacts/{base}/{rel}") as r:
            if r.status_code != 200:
                await r.aread()
                raise Unavailable(f"MLflow could not serve '{rel}' of the model: {_reason(r)}")
            with open(target, "wb") as f:
                async for chunk in r.aiter_bytes(1 << 20):
                    h.update(chunk)
                    size += len(chunk)
                    f.write(sealer.update(chunk) if sealer else chunk)
                if sealer:
                    f.write(sealer.final())
        files.append({"path": rel, "sha256": h.hexdigest(), "size": size})
    return sorted(files, key=lambda f: f["path"])


def _digest(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def lineage(run: dict[str, Any], pipeline: dict[str, Any] | None, home: Path) -> dict[str, Any]:
    """sha256 digests of data, configuration, code and environment of the run that made a model."""
    tags = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
    params = {p["key"]: p["value"] for p in run["data"].get("params", [])}
    reads: list[Any] = []
    for text in [tags.get("mlp.datasets", "[]"), *(pipeline or {}).get("stage_reads", [])]:
        try:
            reads += [r for r in json.loads(text) if r not in reads]
        except (ValueError, TypeError):
            continue
    pinned = (pipeline or {}).get("snapshots") or {}
    if not pinned:
        try:
            pinned = json.loads(tags.get("mlp.datasets.pinned", "{}"))
        except ValueError:
            pinned = {}
    data = {"reads": reads, "pinned": pinned}
    if pipeline:
        stages = home / "pipelines" / pipeline["project"] / pipeline["version"] / "stages"
        code = {"pipeline_version": pipeline["version"],
                "stage_notebooks": {p.name: file_digest(p) for p in sorted(stages.glob("*.ipynb"))}}
    else:
        code = {"notebook_path": tags.get("mlp.notebook.path"), "notebook_sha256": tags.get("mlp.notebook.sha256"),
                "git_commit": tags.get("mlp.git.commit")}
    return {
        "data_sha256": _digest(data), "data": data,
        "config_sha256": _digest(params), "config": params,
        "code_sha256": _digest(code), "code": code,
        "environment_sha256": tags.get("mlp.env.freeze_sha256"),
        "pipeline_version": (pipeline or {}).get("version") or tags.get("mlp.pipeline.version"),
        "pipeline_run": (pipeline or {}).get("run_id"),
        "mlflow_run": run["info"]["run_id"],
    }


def statement(slug: str, name: str, version: int, files: list[dict[str, Any]], lin: dict[str, Any],
              source: str) -> dict[str, Any]:
    return {"project": slug, "model": name, "version": version, "source": source, "files": files,
            "lineage": {k: v for k, v in lin.items() if k.endswith("_sha256") or k in (
                "pipeline_version", "pipeline_run", "mlflow_run")},
            "signed_at": int(time.time())}


def sign(signer, st: dict[str, Any]):  # noqa: ANN001, ANN201
    return sign_statement(signer, st)


async def fetch_verified(exp, signer, *, slug: str, name: str, version: int, source: str,  # noqa: ANN001
                         statement_json: str | None, signature: str | None, experiment_ids: list[str],
                         dest: Path | None = None, dk=None) -> Path:  # noqa: ANN001
    """Download a version's files into a private folder and verify them; the folder is safe to load only if
    this returns. Raises Refused (nothing loaded) otherwise. With a data key `dk` the files are written sealed
    (serving's copy of an encrypted project's version) and verified by the hashes of their plaintext as it arrived;
    a worker opens them (serving/sealed_model.py) and verifies them again."""
    from jupyter_mlp.signing import VerificationError, verify_files, verify_statement

    st = json.loads(statement_json) if statement_json else None
    folder = Path(dest) if dest else Path(tempfile.mkdtemp(prefix="mlp-model-"))
    os.chmod(folder, 0o700)
    try:
        if st is None or signature is None:
            raise VerificationError("the model version is not signed")
        files = await download_tree(exp, _base(source, experiment_ids), folder, dk)
        if dk is None:
            verify_model_dir(folder, st, signature, signer.public_keys(), project=slug, model=name, version=version)
        else:
            verify_statement(st, signature, signer.public_keys(), project=slug, model=name, version=version)
            verify_files(files, st)
    except VerificationError as e:
        shutil.rmtree(folder, ignore_errors=True)
        raise Refused(f"{name} version {version} refused: {e}") from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def app_signer(app):  # noqa: ANN001, ANN201
    """The platform's signer, made once per app (registration, verification, serving)."""
    if getattr(app.state, "signer", None) is None:
        from jupyter_mlp.signing import make_signer

        app.state.signer = make_signer(app.state.settings.home, app.state.settings.signer)
    return app.state.signer
