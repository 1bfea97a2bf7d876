"""Real-time serving: our endpoint against `mlflow models serve`, same models, same load generator, same run.

Two models logged with their signature (20 features, 5000 rows): a scikit-learn logistic regression and a
100-tree random forest. MLflow serves each with `mlflow models serve --env-manager local --workers 1` from the
model's folder; the platform serves each as a deployment with one worker, through the backend's gateway (API key,
rate limits, signature-checked input, micro-batching, prediction id). `wrk` (C, one thread, keep-alive) sends the
same one-row `dataframe_split` request at 1, 10 and 64 concurrent connections for `--seconds` each, alternating
between the two servers, after a warm-up; p50 and p99 come from wrk's latency distribution, throughput from its
requests per second. Every answer is checked to be 200 (wrk counts non-2xx).

Run: .venv/bin/python -m tests.bench.bench_serving [--seconds 8]   (needs `wrk`: apt-get install wrk)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.bench._lab import free_port
from tests.bench.bench_run_search import start_backend, start_mlflow

CONCURRENCY = (1, 10, 64)
FEATURES = 20


def wrk(url: str, body: str, headers: dict[str, str], connections: int, seconds: float, tmp: Path) -> dict:
    script = tmp / "post.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}",
             'wrk.headers["Content-Type"] = "application/json"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "10s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"p50": ms("50"), "p99": ms("99"), "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0}


def start_mlflow_serve(model_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    # MLflow starts `uvicorn` by name: the environment's scripts must be on PATH, as in an activated venv
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
           "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", str(model_dir),
                             "--env-manager", "local", "--workers", "1", "-h", "127.0.0.1", "-p", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/ping", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("mlflow models serve did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    tmp = Path(tempfile.mkdtemp(prefix="mlp-bench-serving-"))
    db, artifacts = tmp / "mlflow.db", tmp / "artifacts"
    mlflow_proc, mlflow_url = start_mlflow(db, artifacts)
    exp = MlflowClient(tracking_uri=mlflow_url).create_experiment("bench")
    server, api = start_backend(tmp / "home", mlflow_url, db, exp)
    procs: list[subprocess.Popen] = [mlflow_proc]
    results: dict[tuple[str, str, int], dict] = {}
    try:
        rng = np.random.default_rng(0)
        x = pd.DataFrame(rng.normal(size=(5000, FEATURES)), columns=[f"f{i}" for i in range(FEATURES)])
        y = (x.f0 + rng.normal(size=5000) > 0).astype(int)
        models = {"logreg": LogisticRegression(max_iter=500).fit(x, y),
                  "forest": RandomForestClassifier(n_estimators=100, random_state=0).fit(x, y)}
        creds = api.post("/projects/bench/kernel-token").json()
        base = str(api.base_url).rstrip("/").removesuffix("/api")
        os.environ["MLFLOW_TRACKING_TOKEN"] = creds["token"]
        mlflow.set_tracking_uri(f"{base}{creds['tracking_path']}")
        row = x.iloc[:1]
        body = json.dumps({"dataframe_split": {"columns": list(x.columns), "data": row.values.tolist()}})
        key = None
        servers: dict[str, dict[str, tuple[str, dict[str, str]]]] = {}
        for name, est in models.items():
            with mlflow.start_run(experiment_id=creds["experiment_id"]) as run:
                info = mlflow.sklearn.log_model(est, name="model", signature=infer_signature(x, est.predict(x)),
                                                serialization_format="cloudpickle", pip_requirements=["scikit-learn"])
            r = api.post("/projects/bench/models", json={"name": name, "run_id": run.info.run_id})
            assert r.status_code == 201, r.text
            assert api.post(f"/projects/bench/models/{name}/versions/1/promote",
                            json={"alias": "champion"}).json()["status"] == "passed"
            for dep, logged in ((name, True), (f"{name}-nolog", False)):
                r = api.post("/projects/bench/deployments", json={"name": dep, "model": name, "alias": "champion",
                                                                  "min_workers": 1, "max_workers": 1,
                                                                  "log_predictions": logged})
                assert r.status_code == 201, r.text
            if key is None:
                key = api.post("/projects/bench/api-keys", json={"name": "bench", "rate_per_s": 1e6}).json()["key"]
            mlflow.set_tracking_uri(mlflow_url)  # MLflow's own server reads its own model, straight from its store
            folder = Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp / name)))
            mlflow.set_tracking_uri(f"{base}{creds['tracking_path']}")
            proc, url = start_mlflow_serve(folder)
            procs.append(proc)
            auth = {"Authorization": f"Bearer {key}"}
            servers[name] = {"ours": (f"{base}/serve/bench/{name}/invocations", auth),
                             "ours, no log": (f"{base}/serve/bench/{name}-nolog/invocations", auth),
                             "mlflow": (f"{url}/invocations", {})}
            # Same answer from both, before timing anything.
            a = httpx.post(servers[name]["ours"][0], content=body, headers={
                **servers[name]["ours"][1], "content-type": "application/json"}).json()["predictions"]
            b = httpx.post(servers[name]["mlflow"][0], content=body, headers={
                "content-type": "application/json"}).json()["predictions"]
            assert a == b == est.predict(row).tolist(), (a, b)
        mlflow.set_tracking_uri(mlflow_url)
        for name in models:
            for who in servers[name]:  # warm-up
                url, headers = servers[name][who]
                wrk(url, body, headers, 10, 3, tmp)
            for c in CONCURRENCY:
                for who in ("mlflow", "ours", "ours, no log") if c % 2 else ("ours, no log", "ours", "mlflow"):
                    url, headers = servers[name][who]
                    results[(name, who, c)] = res = wrk(url, body, headers, c, args.seconds, tmp)
                    if who != "mlflow":  # MLflow's own failures are reported, not asserted
                        assert res["non2xx"] == 0 and res["socket_errors"] == 0, (name, who, c, res)
    finally:
        for p in procs:
            p.terminate()
        server.should_exit = True
        time.sleep(3)  # the backend's shutdown stops its workers (and workers leave by themselves if it cannot)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"one-row requests, wrk -t1, {args.seconds:.0f} s per cell; ratio = ours vs MLflow")
    print(f"{'model':7s} {'clients':>7s} | {'ours p50':>9s} {'p99':>8s} {'req/s':>8s} | {'mlflow p50':>10s} {'p99':>8s} "
          f"{'req/s':>8s} | {'throughput x':>12s} {'p50 ratio':>9s}")
    for name in models:
        for c in CONCURRENCY:
            o, m = results[(name, "ours", c)], results[(name, "mlflow", c)]
            print(f"{name:7s} {c:7d} | {o['p50']:8.2f}ms {o['p99']:6.2f}ms {o['rps']:8.0f} | {m['p50']:8.2f}ms "
                  f"{m['p99']:6.2f}ms {m['rps']:8.0f} | {o['rps'] / m['rps']:11.2f}x {o['p50'] / m['p50']:9.2f}"
                  + (f"   (MLflow: {m['socket_errors']} timeouts/socket errors, {m['non2xx']} non-2xx)"
                     if m["socket_errors"] or m["non2xx"] else ""))
    print("prediction log cost (ours with the log vs the same deployment without it):")
    for name in models:
        for c in CONCURRENCY:
            o, n = results[(name, "ours", c)], results[(name, "ours, no log", c)]
            print(f"  {name:7s} {c:3d} clients: p50 {o['p50']:.2f} vs {n['p50']:.2f} ms, p99 {o['p99']:.2f} vs "
                  f"{n['p99']:.2f} ms, {o['rps']:.0f} vs {n['rps']:.0f} req/s ({o['rps'] / n['rps'] - 1:+.1%})")


if __name__ == "__main__":
    main()
