"""What signing and verification cost: our registry against MLflow's plain registry, same server, same models.

One `mlflow server` (SQLite, local artifacts); the platform backend runs in front of it. Two models are logged
through the project's gateway: a logistic regression and a 100-tree random forest (cloudpickle). Per round,
alternating:

- register: our `POST /projects/{slug}/models` (download and hash every file, lineage digests, ed25519-signed
  manifest, MLflow version, our record, audit) against MLflow's own `create_model_version` on the same run's model;
- load: our verified load (`POST .../verify`: download into a private folder, re-hash every file, check the
  signature, then `mlflow.pyfunc.load_model` of that folder) against `mlflow.pyfunc.load_model("models:/…")`
  straight from MLflow (download, then load, nothing checked).

Floors, timed in the same rounds (the least any signed registry must do on this machine):
- register: MLflow's own `create_model_version` (ours makes one too) plus reading and sha256-hashing the model's files
  straight from the local artifact store, in-process (what a signed manifest needs at the least);
- load: `mlflow.pyfunc.load_model` of the files already on local disk (deserialising, nothing fetched or checked).
The `ratios:` lines (tests/bench/_floor.py) give MLflow / ours (peer) and ours / floor per model and operation.

Run: .venv/bin/python -m tests.bench.bench_registry [--rounds 5]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from tests.bench._floor import print_ratios
from tests.bench.bench_run_search import start_backend, start_mlflow


def hash_files(files: list[Path]) -> int:
    size = 0
    for f in files:
        data = f.read_bytes()
        hashlib.sha256(data).digest()
        size += len(data)
    return size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    import mlflow
    import mlflow.sklearn
    import numpy as np
    from mlflow import MlflowClient
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    tmp = Path(tempfile.mkdtemp(prefix="mlp-bench-registry-"))
    db, artifacts = tmp / "mlflow.db", tmp / "artifacts"
    mlflow_proc, mlflow_url = start_mlflow(db, artifacts)
    direct = MlflowClient(tracking_uri=mlflow_url, registry_uri=mlflow_url)
    exp = direct.create_experiment("bench")
    server, api, _ = start_backend(tmp / "home", mlflow_url, f"sqlite:///{db}", exp)
    try:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(5000, 20))
        y = (x[:, 0] + rng.normal(size=5000) > 0).astype(int)
        models = {"logreg": LogisticRegression(max_iter=500).fit(x, y),
                  "forest": RandomForestClassifier(n_estimators=100, random_state=0).fit(x, y)}
        # Log through the platform's gateway, as a notebook in the project would.
        creds = api.post("/projects/bench/kernel-token").json()
        base = str(api.base_url).rstrip("/").removesuffix("/api")
        os.environ["MLFLOW_TRACKING_TOKEN"] = creds["token"]
        mlflow.set_tracking_uri(f"{base}{creds['tracking_path']}")
        runs: dict[str, str] = {}
        model_ids: dict[str, str] = {}
        model_files: dict[str, list[Path]] = {}
        for name, est in models.items():
            with mlflow.start_run(experiment_id=creds["experiment_id"]) as run:
                info = mlflow.sklearn.log_model(est, name="model", serialization_format="cloudpickle",
                                                pip_requirements=["scikit-learn"])
            runs[name] = run.info.run_id
            model_ids[name] = info.model_id
            model_files[name] = sorted(f for f in artifacts.rglob("*") if f.is_file() and info.model_id in str(f))
            size = sum(f.stat().st_size for f in model_files[name])
            print(f"{name}: {size / 1e3:.0f} kB of model files")
        mlflow.set_tracking_uri(mlflow_url)
        os.environ.pop("MLFLOW_TRACKING_TOKEN", None)

        times: dict[tuple[str, str, str], list[float]] = {}

        def add(key: tuple[str, str, str], seconds: float) -> None:
            times.setdefault(key, []).append(seconds)

        for name, run_id in runs.items():
            plain_name = f"plain-{name}"
            direct.create_registered_model(plain_name)
            logged = mlflow.get_logged_model(model_ids[name])
            for r in range(args.rounds + 1):  # round 0 warms both paths and is not counted
                t0 = time.perf_counter()
                resp = api.post("/projects/bench/models", json={"run_id": run_id, "name": name})
                ours_reg = time.perf_counter() - t0
                assert resp.status_code == 201, resp.text
                version = resp.json()["version"]
                t0 = time.perf_counter()
                mv = direct.create_model_version(plain_name, logged.artifact_location, run_id=run_id,
                                                 model_id=logged.model_id)
                plain_reg = time.perf_counter() - t0
                t0 = time.perf_counter()
                hash_files(model_files[name])
                floor_reg = plain_reg + (time.perf_counter() - t0)

                t0 = time.perf_counter()
                ok = api.post(f"/projects/bench/models/{name}/versions/{version}/verify").json()
                assert ok["ok"], ok
                # the verified folder: verify removes its copy, so load the same files the way serving will
                # (fetch_verified leaves them in a private folder); the download+hash+check above is the cost.
                ours_verify = time.perf_counter() - t0
                local = tmp / f"verified-{name}-{r}"
                got = mlflow.artifacts.download_artifacts(logged.artifact_location, dst_path=str(local))
                t0 = time.perf_counter()
                mlflow.pyfunc.load_model(got)
                floor_load = time.perf_counter() - t0
                ours_load = ours_verify + floor_load
                shutil.rmtree(local, ignore_errors=True)

                t0 = time.perf_counter()
                mlflow.pyfunc.load_model(f"models:/{plain_name}/{mv.version}")
                plain_load = time.perf_counter() - t0
                if r:
                    add((name, "register", "ours"), ours_reg)
                    add((name, "register", "mlflow"), plain_reg)
                    add((name, "load", "ours"), ours_load)
                    add((name, "load", "mlflow"), plain_load)
                    add((name, "verify", "ours"), ours_verify)
                    add((name, "register", "floor"), floor_reg)
                    add((name, "load", "floor"), floor_load)
    finally:
        server.should_exit = True
        mlflow_proc.terminate()
        try:
            mlflow_proc.wait(60)
        except subprocess.TimeoutExpired:  # seen on a loaded machine: the figures must still print
            mlflow_proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"median of {args.rounds} rounds, ms (ratio = ours / MLflow; floor ratio = ours / floor):")
    for name in runs:
        for op in ("register", "load"):
            ours, theirs, floor = med[(name, op, "ours")], med[(name, op, "mlflow")], med[(name, op, "floor")]
            print(f"  {name:7s} {op:9s} ours {ours:8.1f}   mlflow {theirs:8.1f}   ratio {ours / theirs:5.2f}   "
                  f"floor {floor:8.1f}   floor ratio {ours / floor:5.2f}")
        print(f"  {name:7s} of which download + re-hash + signature check: {med[(name, 'verify', 'ours')]:.1f} ms")
    floors = {"register": "MLflow version + sha256 of the files", "load": "pyfunc load of local files"}
    for name in runs:
        for op in ("register", "load"):
            ours, theirs, floor = med[(name, op, "ours")], med[(name, op, "mlflow")], med[(name, op, "floor")]
            print_ratios(theirs / ours, f"{name} {op}: MLflow / ours", ours / floor,
                         f"{name} {op}: ours / {floors[op]}")


if __name__ == "__main__":
    main()
