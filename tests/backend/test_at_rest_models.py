"""Encryption at rest for models (issue 20 item 3, the part after data files): MLflow's artifact store and serving's
copy of a model version, sealed per project with its data key, while plain MLflow clients and the platform's own
readers (registration's hashing and signing, the verified loader, serving, batch) work unchanged.

A backend with its own MLflow server (the sealed store is its `--artifacts-destination`; the suite's shared MLflow
has no platform database and stays plain), one project with encryption on and one without, the same model logged
in both with plain `mlflow`."""

from __future__ import annotations

import io
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
import uvicorn

from jupyter_mlp import at_rest as core
from jupyter_mlp.settings import Settings
from jupyter_mlp_backend import create_app
from tests.conftest import Backend, _free_port, seed_database

SECRET = "SECRET-DIAGNOSIS-4b1e8d"  # logged in a text file: never on disk in the clear once encryption is on
GOOD = {"dataframe_split": {"columns": ["x1", "x2"], "data": [[0.5, -1.0], [-2.0, 0.1], [1.5, 0.3]]}}


@pytest.fixture
def xy():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1]}), (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)


@pytest.fixture
def own_backend(mlp_home: Path, migrated_templates):  # noqa: ANN001
    """A backend that starts and stops its own MLflow server under `mlp_home` (no `mlflow_url`)."""
    import threading

    settings = Settings(home=mlp_home, container_engine="none", admin_users=["admin"],
                        mlflow_experiment_prefix=f"t{uuid.uuid4().hex[:8]}-")
    seed_database(settings.effective_database_url, migrated_templates)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=_free_port(),
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(600):
        if server.started:
            break
        time.sleep(0.05)
    b = Backend(f"http://127.0.0.1:{server.config.port}", settings)
    try:
        yield b
    finally:
        server.should_exit = True
        thread.join(60)


def _project(b: Backend, slug: str) -> None:
    assert b.admin.post("/projects", json={"slug": slug, "name": slug}).status_code == 201
    for user, role in [("lena", "lead"), ("sam", "scientist")]:
        assert b.admin.put(f"/projects/{slug}/members/{user}", json={"role": role}).status_code == 200


def _log(b: Backend, slug: str, use_mlflow, model, x) -> tuple[str, str]:  # noqa: ANN001
    """Plain MLflow in a project kernel: a text file with the known value and a scikit-learn model."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    use_mlflow(b.kernel_env("sam", slug))
    with mlflow.start_run() as r:
        mlflow.log_text(SECRET, "notes/secret.txt")
        mlflow.sklearn.log_model(model, name="model", signature=infer_signature(x, model.predict(x)),
                                 input_example=x.iloc[:2], pip_requirements=["scikit-learn"],
                                 serialization_format="cloudpickle")
    return r.info.run_id, r.info.experiment_id


def _publish_and_deploy(b: Backend, slug: str, run_id: str) -> str:
    """Register (files hashed and signed through MLflow's artifact API), promote, deploy; an API key."""
    sam = b.client("sam")
    v = sam.post(f"/projects/{slug}/models", json={"name": "churn", "run_id": run_id})
    assert v.status_code == 201, v.text
    p = sam.post(f"/projects/{slug}/models/churn/versions/1/promote", json={"alias": "staging"})
    assert p.status_code == 201 and p.json()["status"] == "passed", p.text
    assert sam.post(f"/projects/{slug}/models/churn/versions/1/verify").json()["ok"] is True
    d = sam.post(f"/projects/{slug}/deployments", json={"name": "churn-api", "model": "churn", "version": 1,
                                                        "max_workers": 1})
    assert d.status_code == 201, d.text
    key = b.client("lena").post(f"/projects/{slug}/api-keys", json={"name": "crm"})
    assert key.status_code == 201, key.text
    return key.json()["key"]


def _predict(b: Backend, slug: str, key: str) -> list:
    import httpx

    r = httpx.post(f"{b.url}/serve/{slug}/churn-api/invocations", json=GOOD, timeout=30,
                   headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json()["predictions"]


def _files(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*") if p.is_file())


def _holding(needle: bytes, files: list[Path]) -> list[Path]:
    return [p for p in files if needle in p.read_bytes()]


def test_models_sealed_in_mlflow_and_serving(own_backend, use_mlflow, xy):  # noqa: ANN001
    import mlflow
    import mlflow.artifacts
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException
    from sklearn.linear_model import LogisticRegression

    b, home = own_backend, own_backend.settings.home
    x, y = xy
    model = LogisticRegression().fit(x, y)
    _project(b, "plain")
    _project(b, "acme")
    assert b.admin.put("/projects/acme/encryption", json={"enabled": True}).json()["enabled"] is True

    logged = {slug: _log(b, slug, use_mlflow, model, x) for slug in ("plain", "acme")}
    runs, experiments = {k: v[0] for k, v in logged.items()}, {k: v[1] for k, v in logged.items()}
    keys = {slug: _publish_and_deploy(b, slug, runs[slug]) for slug in ("plain", "acme")}

    # what each client gets back: identical bytes through MLflow's own client, for both projects
    got = {}
    for slug in ("plain", "acme"):
        use_mlflow(b.kernel_env("sam", slug))
        text = Path(mlflow.artifacts.download_artifacts(run_id=runs[slug], artifact_path="notes/secret.txt"))
        assert text.read_text() == SECRET
        listed = {f.path: f.file_size for f in mlflow.MlflowClient().list_artifacts(runs[slug], "notes")}
        assert listed == {"notes/secret.txt": len(SECRET)}  # the plaintext's size, not the sealed file's
        loaded = mlflow.pyfunc.load_model("models:/churn@staging")
        frame = pd.DataFrame(GOOD["dataframe_split"]["data"], columns=["x1", "x2"])
        assert loaded.predict(frame).tolist() == model.predict(frame).tolist()
        folder = Path(mlflow.artifacts.download_artifacts("models:/churn@staging"))
        got[slug] = {p.relative_to(folder).as_posix(): p.read_bytes() for p in _files(folder)}
    assert got["acme"]["model.pkl"] == got["plain"]["model.pkl"] and got["acme"].keys() == got["plain"].keys()
    pickled = got["acme"]["model.pkl"]
    probe = pickled[len(pickled) // 2:len(pickled) // 2 + 48]  # a piece of the pickled model's plaintext

    # the same model answers the same through both deployments
    assert _predict(b, "acme", keys["acme"]) == _predict(b, "plain", keys["plain"]) == \
        model.predict(pd.DataFrame(GOOD["dataframe_split"]["data"], columns=["x1", "x2"])).tolist()

    # the deployment's example request is the logged input example, read from the sealed copy too
    examples = {slug: b.client("sam").get(f"/projects/{slug}/deployments/churn-api").json()["example"]
                for slug in ("plain", "acme")}
    assert examples["acme"] == examples["plain"] and examples["acme"]["data"][0] == pytest.approx(x.iloc[0].tolist())

    # on disk: the plain project's files hold the value and the pickle (the search finds them) ...
    store = home / "mlflow" / "artifacts"
    plain_files = _files(store / experiments["plain"], home / "serving" / "plain")
    assert _holding(SECRET.encode(), plain_files) and _holding(probe, plain_files)
    assert not any(core.is_sealed(p.read_bytes()) for p in plain_files)
    # ... and no file of MLflow's (its store, its database) nor of serving's copy holds them for acme's
    sealed_files = _files(store / experiments["acme"], home / "serving" / "acme" / "churn-api" / "v1" / "model")
    assert len(sealed_files) >= 6 and all(core.is_sealed(p.read_bytes()) for p in sealed_files)
    everywhere = _files(home / "mlflow", home / "serving" / "acme")
    for needle in (SECRET.encode(), probe, b"python_function"):  # the value, the pickle, the MLmodel file
        assert set(_holding(needle, everywhere)) <= set(plain_files), needle
    # acme's worker loaded from a copy opened on tmpfs, gone once it loaded; plain's from the serving folder itself
    import os

    import psutil

    dirs = {}
    for proc in psutil.Process(os.getpid()).children():
        c = proc.cmdline()
        if "jupyter_mlp_backend.serving.worker" in c:
            dirs[c[c.index("--project") + 1]] = c[c.index("--dir") + 1]
    assert dirs["plain"] == str(home / "serving" / "plain" / "churn-api" / "v1" / "model")
    assert dirs["acme"].startswith("/dev/shm/mlp-model-") and not Path(dirs["acme"]).exists(), dirs

    # a batch job scores through a worker started on the sealed copy
    sam = b.client("sam")
    up = sam.post("/projects/acme/deployments/churn-api/batch/upload", params={"format": "csv", "chunk_rows": 50},
                  content=x.iloc[:60].to_csv(index=False).encode(), headers={"content-type": "application/octet-stream"})
    assert up.status_code == 202, up.text
    for _ in range(1800):
        job = sam.get(f"/projects/acme/batch-jobs/{up.json()['id']}").json()
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] == "succeeded" and job["rows"] == 60, job
    out = sam.get(f"/projects/acme/batch-jobs/{up.json()['id']}/output")
    assert pd.read_parquet(io.BytesIO(out.content)).prediction.tolist() == model.predict(x.iloc[:60]).tolist()

    # crypto-shredding: acme's artifacts no longer open, with a clear error (not a 500 and a traceback)
    assert b.admin.delete("/projects/acme/encryption/key", params={"confirm": "acme"}).status_code == 200
    env = b.kernel_env("sam", "acme")
    use_mlflow(env)
    with pytest.raises(MlflowException):  # MLflow's client keeps its own message; the reason is in the answer:
        mlflow.artifacts.download_artifacts(run_id=runs["acme"], artifact_path="notes/secret.txt")
    import httpx  # what the gateway answers: MLflow's JSON error, 409, naming the file and the reason

    raw = httpx.get(f"{env['MLFLOW_TRACKING_URI']}/api/2.0/mlflow-artifacts/artifacts/{experiments['acme']}/"
                    f"{runs['acme']}/artifacts/notes/secret.txt",
                    headers={"Authorization": f"Bearer {env['MLFLOW_TRACKING_TOKEN']}"}, timeout=30)
    assert raw.status_code == 409 and raw.json()["error_code"] == "RESOURCE_CONFLICT", raw.text
    assert "'secret.txt' was encrypted with data key" in raw.json()["message"] and "no longer exists" in raw.text
    again = sam.post("/projects/acme/models", json={"name": "churn", "run_id": runs["acme"]})
    assert again.status_code == 503 and "no longer exists" in again.json()["error"]["message"], again.text
    redeploy = sam.post("/projects/acme/deployments", json={"name": "again", "model": "churn", "version": 1})
    assert redeploy.status_code in (409, 503) and "no longer exists" in redeploy.text, redeploy.text
    # the plain project is untouched
    use_mlflow(b.kernel_env("sam", "plain"))
    assert Path(mlflow.artifacts.download_artifacts(run_id=runs["plain"], artifact_path="notes/secret.txt")
                ).read_text() == SECRET


def test_the_sealed_repository_itself(api, acme, globex, tmp_path, monkeypatch):  # noqa: ANN001
    """The plug-in as MLflow's server calls it, on the `api` app's database: every write path seals (a file, a
    folder, a stream, an async stream), listings give the plaintext's sizes at the segment boundaries, reads give the
    bytes back; a tampered file and another project's experiment are refused with MLflow's 409, never opened."""
    import asyncio

    from mlflow.exceptions import MlflowException

    from jupyter_mlp_backend import at_rest
    from jupyter_mlp_backend.experiments import sealed_artifacts as sa
    from jupyter_mlp_backend.mlflow_service import sealed_destination
    from jupyter_mlp_backend.orm import ProjectExperiment

    app, admin = api.client.app, api.as_user("admin")
    with api.db.session() as s:
        for exp, slug in (("7", "acme"), ("8", "globex")):
            s.add(ProjectExperiment(experiment_id=exp, project_id=at_rest.project_id(app, slug, s), name="e",
                                    created_by="admin"))
        s.commit()
    assert admin.put("/projects/acme/encryption", json={"enabled": True}).status_code == 200
    root = tmp_path / "artifacts"
    root.mkdir()
    for name, value in ((sa.DATABASE_ENV, api.settings.effective_database_url), (sa.HOME_ENV, str(api.settings.home)),
                        (sa.MASTER_KEY_ENV, ""), (sa.ROOT_ENV, str(root))):
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sa, "_KEYS", None)
    repo = sa.SealedArtifactRepository(sealed_destination(root))

    sizes = {"empty.txt": 0, "one.bin": core.SEGMENT, "two.bin": core.SEGMENT + 1, "note.txt": len(SECRET)}
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    for name, n in sizes.items():
        (src / name).write_bytes(SECRET.encode() if name == "note.txt" else b"\x01" * n)
    (src / "sub" / "deep.txt").write_text(SECRET)
    repo.log_artifact(str(src / "note.txt"), "7/run/artifacts/a")
    repo.log_artifacts(str(src), "7/run/artifacts/b")
    repo.log_artifact_from_stream(io.BytesIO(SECRET.encode()), "streamed.txt", "7/run/artifacts/c")

    async def chunks():  # noqa: ANN202
        for piece in (SECRET[:5], SECRET[5:]):
            yield piece.encode()

    asyncio.run(repo.log_artifact_from_async_stream(chunks(), "async.txt", "7/run/artifacts/c"))
    repo.log_artifact(str(src / "note.txt"), "8/run/artifacts")  # globex: encryption off, plain

    acme_files = _files(root / "7")
    assert len(acme_files) == 8 and all(core.is_sealed(p.read_bytes()) for p in acme_files)
    assert not _holding(SECRET.encode(), acme_files) and _holding(SECRET.encode(), _files(root / "8"))
    listed = {f.path: f.file_size for f in repo.list_artifacts("7/run/artifacts/b") if not f.is_dir}
    assert listed == {f"7/run/artifacts/b/{k}": v for k, v in sizes.items()}
    for d in ("dl", "dl2", "dl3", "dl4"):
        (tmp_path / d).mkdir()
    for rel in ("a/note.txt", "b/sub/deep.txt", "c/streamed.txt", "c/async.txt", "b/two.bin"):
        out = Path(repo.download_artifacts(f"7/run/artifacts/{rel}", str(tmp_path / "dl")))
        want = src / rel.split("/", 1)[1] if rel.startswith("b/") else src / "note.txt"
        assert out.read_bytes() == want.read_bytes(), rel
    assert repo.get_local_path("7/run/artifacts/a/note.txt") is None  # sealed: MLflow must not send it as it is
    assert repo.get_local_path("8/run/artifacts/note.txt") == str(root / "8" / "run" / "artifacts" / "note.txt")

    # a master-key rotation: a fresh MLflow process (no cached data key) unwraps with the new master key and reads
    assert admin.post("/security/rotate-master-key").status_code == 200
    monkeypatch.setattr(sa, "_KEYS", None)
    assert Path(repo.download_artifacts("7/run/artifacts/c/async.txt", str(tmp_path / "dl3"))).read_text() == SECRET

    # a sealed file moved into another project's experiment does not open there; a flipped byte is refused
    (root / "8" / "moved.txt").write_bytes((root / "7/run/artifacts/a/note.txt").read_bytes())
    with pytest.raises(MlflowException, match="belongs to another project") as refused:
        repo.download_artifacts("8/moved.txt", str(tmp_path / "dl2"))
    assert refused.value.get_http_status_code() == 409
    raw = bytearray((root / "7/run/artifacts/b/two.bin").read_bytes())
    raw[-5] ^= 1
    (root / "7/run/artifacts/b/two.bin").write_bytes(bytes(raw))
    with pytest.raises(MlflowException, match="'two.bin' fails authentication at segment 1"):
        repo.download_artifacts("7/run/artifacts/b/two.bin", str(tmp_path / "dl4"))
