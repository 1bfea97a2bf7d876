"""TLS at the serving gateway: one-row predictions over TLS 1.3 against the same request over plain HTTP, same
backend, same deployment, same worker, same client, same run (issue 20 item 2).

One backend with `serving_tls_cert` set (a throwaway CA and server certificate made with `cryptography`); a
logistic regression (20 features) deployed with one worker. The plain path is the backend's own port with the
gateway's TLS requirement lifted in this process for the measurement (the gateway object is the same). One
keep-alive `httpx` client per path sends one-row `dataframe_split` requests one at a time, alternating blocks of
`--block` between the two paths until each has `--requests`; p50/p99 per path, and their ratio. Then `--fresh`
requests each on a new connection (handshake included), alternating, as a client without keep-alive pays.

Run: nice -n 10 .venv/bin/python -m tests.bench.bench_serving_tls [--requests 2000] [--block 100] [--fresh 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from tests.bench._floor import print_ratios
from tests.bench._lab import free_port
from tests.bench._platform import start_platform

FEATURES = 20


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--block", type=int, default=100)
    ap.add_argument("--fresh", type=int, default=100)
    args = ap.parse_args()
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    from tests.serving.test_gateway_tls import issue, make_ca

    pki = Path(tempfile.mkdtemp(prefix="mlp-bench-tls-"))
    ca = make_ca(pki, "Bench CA")
    cert, key_file = issue(pki, ca, "gateway", server=True)
    tls_port = free_port()
    p = start_platform("mlp-bench-tls-", serving_tls_cert=cert, serving_tls_key=key_file, serving_tls_port=tls_port)
    try:
        api = p.api
        base = str(api.base_url).rstrip("/").removesuffix("/api")
        rng = np.random.default_rng(0)
        x = pd.DataFrame(rng.normal(size=(5000, FEATURES)), columns=[f"f{i}" for i in range(FEATURES)])
        y = (x.f0 + rng.normal(size=5000) > 0).astype(int)
        est = LogisticRegression(max_iter=500).fit(x, y)
        creds = api.post("/projects/bench/kernel-token").json()
        os.environ["MLFLOW_TRACKING_TOKEN"] = creds["token"]
        mlflow.set_tracking_uri(f"{base}{creds['tracking_path']}")
        with mlflow.start_run(experiment_id=creds["experiment_id"]) as run:
            mlflow.sklearn.log_model(est, name="model", signature=infer_signature(x, est.predict(x)),
                                     serialization_format="cloudpickle", pip_requirements=["scikit-learn"])
        assert api.post("/projects/bench/models", json={"name": "logreg", "run_id": run.info.run_id}).status_code == 201
        assert api.post("/projects/bench/models/logreg/versions/1/promote",
                        json={"alias": "champion"}).json()["status"] == "passed"
        r = api.post("/projects/bench/deployments", json={"name": "logreg", "model": "logreg", "alias": "champion",
                                                           "min_workers": 1, "max_workers": 1,
                                                           "log_predictions": False})
        assert r.status_code == 201, r.text
        key = api.post("/projects/bench/api-keys", json={"name": "bench", "rate_per_s": 1e6}).json()["key"]
        row = x.iloc[:1]
        body = json.dumps({"dataframe_split": {"columns": list(x.columns), "data": row.values.tolist()}}).encode()
        headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
        urls = {"plain": f"{base}/serve/bench/logreg/invocations",
                "tls": f"https://127.0.0.1:{tls_port}/serve/bench/logreg/invocations"}
        gateway = p.app.state.gateway
        required = gateway.tls_only
        clients = {"plain": httpx.Client(headers=headers, timeout=30),
                   "tls": httpx.Client(headers=headers, timeout=30, verify=str(ca[2]))}
        expected = est.predict(row).tolist()

        def one(path: str, client: httpx.Client) -> float:
            gateway.tls_only = None if path == "plain" else required  # the plain path for this measurement only
            t0 = time.perf_counter()
            r = client.post(urls[path], content=body)
            dt = (time.perf_counter() - t0) * 1000
            assert r.status_code == 200 and r.json()["predictions"] == expected, r.text
            return dt

        for path, c in clients.items():  # warm-up
            for _ in range(50):
                one(path, c)
        times: dict[str, list[float]] = {"plain": [], "tls": []}
        while len(times["tls"]) < args.requests:
            for path, c in clients.items():
                times[path] += [one(path, c) for _ in range(args.block)]
        fresh: dict[str, list[float]] = {"plain": [], "tls": []}
        for _ in range(args.fresh):
            for path in ("plain", "tls"):
                with httpx.Client(headers=headers, timeout=30, verify=str(ca[2])) as c:
                    fresh[path].append(one(path, c))
        gateway.tls_only = required
        # The floor is our own plain path (same gateway and worker): TLS's cost is the ratio to it.
        print_ratios(None, "no peer: a TLS listener of another server would time that server",
                     pct(times["tls"], .5) / pct(times["plain"], .5), "TLS p50 / plain p50, keep-alive")
        print(f"one-row predictions, {args.requests} per path, keep-alive, alternating blocks of {args.block}")
        for label, data in (("keep-alive", times), ("new connection each", fresh)):
            for path in ("plain", "tls"):
                d = data[path]
                print(f"  {label:20s} {path:5s}: p50 {pct(d, .5):6.2f} ms  p99 {pct(d, .99):6.2f} ms  "
                      f"mean {statistics.fmean(d):6.2f} ms  (n={len(d)})")
            print(f"  {label:20s} ratios: tls/plain p50 {pct(data['tls'], .5) / pct(data['plain'], .5):.2f}x  "
                  f"p99 {pct(data['tls'], .99) / pct(data['plain'], .99):.2f}x")
    finally:
        p.server.should_exit = True
        time.sleep(2)


if __name__ == "__main__":
    main()
