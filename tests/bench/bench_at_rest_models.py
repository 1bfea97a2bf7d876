"""Encryption at rest for models (issue 20 item 3): what the sealed MLflow artifact store and serving's sealed model
copy cost.

A platform with its own MLflow server (the sealed store, experiments/sealed_artifacts.py) and two projects, one
with encryption on; the same scikit-learn model (a random forest, several MiB pickled) logged in both with plain
MLflow. Then, alternating between the projects: `mlflow.artifacts.download_artifacts("models:/<id>")` (the model's
files through the gateway and MLflow's proxied artifact API: plain files are sent from disk, sealed ones opened
first) and `mlflow.pyfunc.load_model("models:/<id>")` (the same download, then the unpickling). And serving's part:
the sealed copy opened onto tmpfs before a worker loads it (serving/sealed_model.py `open_copy`) against copying
the plain folder there. No peer; the floor is the plain project's download.
Run: nice -n 10 .venv/bin/python -m tests.bench.bench_at_rest_models [--trees N] [--reps N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from tests.bench._floor import print_ratios
from tests.bench._platform import start_platform


def _timed(fn) -> float:  # noqa: ANN001
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trees", type=int, default=60)
    ap.add_argument("--reps", type=int, default=9)
    a = ap.parse_args()
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    import mlflow
    import mlflow.artifacts
    import mlflow.pyfunc
    import mlflow.sklearn
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    from jupyter_mlp import at_rest
    from jupyter_mlp_backend.serving import sealed_model

    p = start_platform("bench-at-rest-models-", project="plain")
    try:
        assert p.api.post("/projects", json={"slug": "sealed", "name": "Sealed"}).status_code == 201
        assert p.api.put("/projects/sealed/encryption", json={"enabled": True}).status_code == 200
        rng = np.random.default_rng(0)
        x = rng.normal(size=(20_000, 8))
        model = RandomForestClassifier(n_estimators=a.trees, random_state=0).fit(x, (x[:, 0] + x[:, 1] > 0))
        env, ids = {}, {}
        for slug in ("plain", "sealed"):
            c = p.api.post(f"/projects/{slug}/kernel-token").json()
            env[slug] = {"MLFLOW_TRACKING_URI": str(p.api.base_url).rstrip("/").removesuffix("/api") + c["tracking_path"],
                         "MLFLOW_TRACKING_TOKEN": c["token"], "MLFLOW_EXPERIMENT_ID": c["experiment_id"]}
            os.environ.update(env[slug])
            mlflow.set_tracking_uri(env[slug]["MLFLOW_TRACKING_URI"])
            with mlflow.start_run():
                ids[slug] = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"],
                                                     serialization_format="cloudpickle").model_id

        def use(slug: str) -> None:
            os.environ.update(env[slug])
            mlflow.set_tracking_uri(env[slug]["MLFLOW_TRACKING_URI"])

        t: dict[str, list[float]] = {k: [] for k in ("dl_plain", "dl_sealed", "load_plain", "load_sealed",
                                                      "copy_plain", "open_sealed")}
        with tempfile.TemporaryDirectory() as tmp:
            folders = {}
            for slug in ("plain", "sealed"):
                use(slug)
                folders[slug] = Path(mlflow.artifacts.download_artifacts(f"models:/{ids[slug]}",
                                                                         dst_path=f"{tmp}/{slug}-first"))
            size = sum(f.stat().st_size for f in folders["plain"].rglob("*") if f.is_file())
            # serving's copy as ensure_folder writes it: the plain files, and sealed ones beside the statement
            dk = at_rest.DataKey.generate()
            copy = Path(tmp, "copy")
            (copy / "model").mkdir(parents=True)
            for name in sealed_model.META:
                (copy / name).write_text("{}")
            for f in folders["plain"].rglob("*"):
                if f.is_file():
                    (copy / "model" / f.relative_to(folders["plain"])).parent.mkdir(parents=True, exist_ok=True)
                    at_rest.write_file(copy / "model" / f.relative_to(folders["plain"]), f.read_bytes(), dk)
            shm = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
            for i in range(a.reps):  # alternating, so that load on the shared machine falls on all alike
                for slug in ("plain", "sealed") if i % 2 == 0 else ("sealed", "plain"):  # and in both orders
                    use(slug)
                    t[f"dl_{slug}"].append(_timed(lambda: mlflow.artifacts.download_artifacts(
                        f"models:/{ids[slug]}", dst_path=f"{tmp}/{slug}-{i}")))
                    t[f"load_{slug}"].append(_timed(lambda: mlflow.pyfunc.load_model(f"models:/{ids[slug]}")))

                def plain_copy() -> None:
                    d = tempfile.mkdtemp(prefix="mlp-model-", dir=shm)
                    shutil.copytree(folders["plain"], Path(d, "model"))
                    shutil.rmtree(d)

                def sealed_open() -> None:
                    shutil.rmtree(sealed_model.open_copy(copy / "model", {dk.id: dk.key}.get).parent)

                t["copy_plain"].append(_timed(plain_copy))
                t["open_sealed"].append(_timed(sealed_open))
        med = {k: statistics.median(v) * 1000 for k, v in t.items()}
        print(f"model: random forest of {a.trees} trees, {size / 2**20:.1f} MiB of files; medians of {a.reps} "
              "alternating repetitions")
        print(f"  download_artifacts(models:/…), plain project     {med['dl_plain']:8.1f} ms")
        print(f"  download_artifacts(models:/…), sealed project    {med['dl_sealed']:8.1f} ms  "
              f"({med['dl_sealed'] / med['dl_plain']:.2f}x)")
        print(f"  pyfunc.load_model(models:/…), plain project      {med['load_plain']:8.1f} ms")
        print(f"  pyfunc.load_model(models:/…), sealed project     {med['load_sealed']:8.1f} ms  "
              f"({med['load_sealed'] / med['load_plain']:.2f}x)")
        print(f"  serving copy onto tmpfs: plain copytree          {med['copy_plain']:8.1f} ms")
        print(f"  serving copy onto tmpfs: sealed open_copy        {med['open_sealed']:8.1f} ms  "
              f"({med['open_sealed'] / med['copy_plain']:.2f}x)")
        print_ratios(None, "no peer", med["dl_sealed"] / med["dl_plain"],
                     "sealed download / plain download of a model")
    finally:
        p.stop()


if __name__ == "__main__":
    main()
