"""Real-time serving: our endpoint against `mlflow models serve`, same models, same load generator, same run.

Two models logged with their signature (20 features, 5000 rows): a scikit-learn logistic regression and a
100-tree random forest. MLflow serves each with `mlflow models serve --env-manager local --workers 1` from the
model's folder; the platform serves each as a deployment with one worker, through the backend's gateway (API key,
rate limits, signature-checked input, micro-batching, prediction id). `wrk` (C, one thread, keep-alive) sends the
same one-row `dataframe_split` request at 1, 10 and 64 concurrent connections for `--seconds` each, alternating
between the two servers, after a warm-up; p50 and p99 come from wrk's latency distribution, throughput from its
requests per second. Every answer is checked to be 200 (wrk counts non-2xx).

A third deployment of each model runs its worker with `MLP_SERVING_FAST=0` (as before issue 17: every batch a
DataFrame, predicted in a thread), timed in the same run as "before".

The floor, measured in the same run: in-process `predict` of the same fitted estimator on the same one-row
DataFrame (a timed loop in this process), plus a bare loopback round trip (`wrk` against a server that answers every
request with a fixed body and does nothing else, at the same concurrency). "Added" is ours minus that floor.

Where each request's time goes: perf_counter spans in the backend (it runs in this process) around the gateway's
call and the worker round trip, printed as HTTP + gateway + worker round trip (p50s subtracted, so approximate).

Run: .venv/bin/python -m tests.bench.bench_serving [--seconds 8] [--models logreg,forest] [--clients 1,10,64]
(needs `wrk`: apt-get install wrk)
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
import warnings
from pathlib import Path

import httpx

from jupyter_mlp_backend.serving.wire import FAST_ENV
from tests.bench._floor import print_ratios
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
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0}


BARE_ANSWER = b'{"predictions": [1], "prediction_id": "00000000000000000000000000000000"}'


def bare_server(port: int) -> None:
    """The loopback floor: an HTTP/1.1 keep-alive server that answers each request (one per `POST`) with a fixed
    JSON body, on uvloop, without parsing anything: what any Python server pays at least per round trip."""
    import asyncio

    import uvloop

    reply = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
             + str(len(BARE_ANSWER)).encode() + b"\r\n\r\n" + BARE_ANSWER)

    class Bare(asyncio.Protocol):
        def connection_made(self, transport):  # noqa: ANN001
            self.t = transport

        def data_received(self, data: bytes) -> None:
            n = data.count(b"POST ")
            if n:
                self.t.write(reply * n)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Bare, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    uvloop.run(main())


def start_bare() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", f"from tests.bench.bench_serving import bare_server; "
                             f"bare_server({port})"], start_new_session=True)
    url = f"http://127.0.0.1:{port}/invocations"
    for _ in range(200):
        try:
            httpx.post(url, content=b"{}", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("the bare loopback server did not start")


def in_process(predict, rounds: int = 3000, max_s: float = 5.0) -> dict:  # noqa: ANN001
    """p50/p99 in ms of `predict()` called in this process, after a warm-up: `rounds` calls, or as many as fit in
    `max_s` seconds (a forest's)."""
    for _ in range(20):
        predict()
    times: list[float] = []
    end = time.perf_counter() + max_s
    while len(times) < rounds and (len(times) < 20 or time.perf_counter() < end):
        t = time.perf_counter()
        predict()
        times.append(time.perf_counter() - t)
    times.sort()
    return {"p50": times[len(times) // 2] * 1000, "p99": times[int(len(times) * 0.99)] * 1000}


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used: a per-request cost that the machine's load does not inflate,
    unlike wall-clock latency."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(pids: dict[str, int], run) -> dict:  # noqa: ANN001
    """run() (a wrk cell), with each process's CPU microseconds per request added as cpu_<name>."""
    before = {k: cpu_s(p) for k, p in pids.items()}
    res = run()
    for k, p in pids.items():
        res[f"cpu_{k}"] = (cpu_s(p) - before[k]) / max(1, res["requests"]) * 1e6
    return res


SPANS: dict[str, list[float]] = {"gateway": [], "worker round trip": []}


def span_backend() -> None:
    """perf_counter spans in the backend (it runs in this process): the gateway's whole call, and within it the
    round trip to the worker (frame out, the worker's parse + predict + answer, frame back). wrk's latency minus the
    gateway's is HTTP (uvicorn, the loopback); the gateway's minus the round trip is its own checks and the log."""
    from jupyter_mlp_backend.serving import gateway, manager

    call, forward = gateway.Gateway.__call__, manager.Manager.forward

    async def timed_call(self, scope, receive, send):  # noqa: ANN001
        t = time.perf_counter()
        try:
            await call(self, scope, receive, send)
        finally:
            SPANS["gateway"].append(time.perf_counter() - t)

    async def timed_forward(self, *args, **kw):  # noqa: ANN001
        t = time.perf_counter()
        try:
            return await forward(self, *args, **kw)
        finally:
            SPANS["worker round trip"].append(time.perf_counter() - t)

    gateway.Gateway.__call__, manager.Manager.forward = timed_call, timed_forward


def spans_p50() -> dict[str, float]:
    """p50 of each span in ms, and its p99 under "<span> p99" (where the tail is: the HTTP side or the worker's)."""
    out = {k: sorted(v)[len(v) // 2] * 1000 for k, v in SPANS.items() if v}
    out.update({f"{k} p99": sorted(v)[int(len(v) * 0.99)] * 1000 for k, v in SPANS.items() if v})
    for v in SPANS.values():
        v.clear()
    return out


def stages(est, folder: Path, body: str, rounds: int = 2000) -> dict[str, dict]:  # noqa: ANN001
    """The worker's steps for one request, each timed alone in this process (p50/p99 ms): where the time above
    predict goes inside the worker, before (DataFrame) and after (array) issue 17."""
    import asyncio

    import yaml

    from jupyter_mlp_backend.serving import protocol, worker
    from jupyter_mlp_backend.serving.model_loading import SklearnModel

    schema = protocol.Schema.from_mlmodel(yaml.safe_load((folder / "MLmodel").read_text()))
    w = worker.Worker(SklearnModel(est, "predict"), schema, name="m", version=1, max_batch=64, max_wait=0)
    raw = body.encode()
    batch = [worker.Item(0, None, 1, "0" * 32, protocol.parse_mlflow(raw, schema))]  # type: ignore[arg-type]
    frame, array = w._frame(batch), w._array(batch)
    loop = asyncio.new_event_loop()

    async def hop() -> None:  # one hand-over to the predict thread and back, as the worker did before
        await loop.run_in_executor(w.pool, int)

    answer = {"predictions": [1], "prediction_id": "0" * 32, "probabilities": [[0.25, 0.75]], "classes": [0, 1]}
    steps = {"parse + signature check": lambda: protocol.parse_mlflow(raw, schema),
             "one-row DataFrame": lambda: w._frame(batch),
             "predict (DataFrame)": lambda: est.predict(frame),
             "predict_proba (DataFrame)": lambda: w.proba(frame) if w.proba else None,
             "numpy array": lambda: w._array(batch),
             "predict (array)": lambda: est.predict(array),
             "predict_proba (array)": lambda: w.proba(array) if w.proba else None,
             "thread hand-over and back": lambda: loop.run_until_complete(hop()),
             "answer JSON": lambda: worker._dumps(answer)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = {k: in_process(f, rounds) for k, f in steps.items()}
    loop.close()
    return out


def profile(args: argparse.Namespace, server, name: str, seconds: float) -> list[subprocess.Popen]:  # noqa: ANN001
    """py-spy on this process (the backend's event loop runs in a thread here) and on the deployment's worker."""
    out = Path(args.profile_dir)
    out.mkdir(parents=True, exist_ok=True)
    worker = server.config.app.state.serving.get("bench", name).pool.workers[0].proc.pid
    return [subprocess.Popen([args.py_spy, "record", "-p", str(pid), "-r", "2000", "-d", str(max(1, int(seconds) - 1)),
                              "-f", "raw", "--nonblocking", "-o", str(out / f"{name}-{who}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for who, pid in (("backend", os.getpid()), ("worker", worker))]


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
    ap.add_argument("--models", default="logreg,forest", help="comma-separated: logreg, forest")
    ap.add_argument("--clients", default=",".join(map(str, CONCURRENCY)), help="comma-separated concurrencies")
    ap.add_argument("--py-spy", metavar="PATH", help="the py-spy binary: profile the backend and the worker while "
                    "'ours' is timed at 1 client (collapsed stacks into --profile-dir)")
    ap.add_argument("--profile-dir", default="serving-profile")
    args = ap.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    wanted = args.models.split(",")
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    # The bench times the path, not the limiter: on a quiet machine 64 clients pass the project's default 5,000
    # req/s (serving_project_rate) and its 429s stopped the run. The key's own rate is set below for the same reason.
    os.environ.setdefault("MLP_SERVING_PROJECT_RATE", "1000000")
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    tmp = Path(tempfile.mkdtemp(prefix="mlp-bench-serving-"))
    span_backend()
    db, artifacts = tmp / "mlflow.db", tmp / "artifacts"
    mlflow_proc, mlflow_url = start_mlflow(db, artifacts)
    exp = MlflowClient(tracking_uri=mlflow_url).create_experiment("bench")
    server, api, _ = start_backend(tmp / "home", mlflow_url, f"sqlite:///{db}", exp)
    bare_proc, bare_url = start_bare()
    procs: list[subprocess.Popen] = [mlflow_proc, bare_proc]
    results: dict[tuple[str, str, int], dict] = {}
    floor: dict[str, dict] = {}
    try:
        rng = np.random.default_rng(0)
        x = pd.DataFrame(rng.normal(size=(5000, FEATURES)), columns=[f"f{i}" for i in range(FEATURES)])
        y = (x.f0 + rng.normal(size=5000) > 0).astype(int)
        models = {"logreg": lambda: LogisticRegression(max_iter=500).fit(x, y),
                  "forest": lambda: RandomForestClassifier(n_estimators=100, random_state=0).fit(x, y)}
        models = {name: fit() for name, fit in models.items() if name in wanted}
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
            for dep, logged in ((name, True), (f"{name}-nolog", False), (f"{name}-before", True)):
                if dep.endswith("-before"):  # its worker as before issue 17: DataFrames, predicted in a thread
                    os.environ[FAST_ENV] = "0"
                try:
                    r = api.post("/projects/bench/deployments", json={
                        "name": dep, "model": name, "alias": "champion", "min_workers": 1, "max_workers": 1,
                        "log_predictions": logged})
                finally:
                    os.environ.pop(FAST_ENV, None)
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
                             "before": (f"{base}/serve/bench/{name}-before/invocations", auth),
                             "mlflow": (f"{url}/invocations", {})}
            # Same answer from both, before timing anything.
            a = httpx.post(servers[name]["ours"][0], content=body, headers={
                **servers[name]["ours"][1], "content-type": "application/json"}).json()["predictions"]
            b = httpx.post(servers[name]["mlflow"][0], content=body, headers={
                "content-type": "application/json"}).json()["predictions"]
            c = httpx.post(servers[name]["before"][0], content=body, headers={
                **servers[name]["before"][1], "content-type": "application/json"}).json()["predictions"]
            assert a == b == c == est.predict(row).tolist(), (a, b, c)
            floor[name] = in_process(lambda est=est: est.predict(row))
            floor[f"{name} stages"] = stages(est, folder, body)
            with warnings.catch_warnings():  # fitted with feature names; the array is in their order
                warnings.simplefilter("ignore", UserWarning)
                floor[f"{name} array"] = in_process(lambda est=est, a=row.to_numpy(): est.predict(a))
            pyfunc = mlflow.pyfunc.load_model(str(folder))
            floor[f"{name} pyfunc"] = in_process(lambda m=pyfunc: m.predict(row), 1000)
        mlflow.set_tracking_uri(mlflow_url)
        wrk(bare_url, body, {}, 10, 2, tmp)  # warm-up
        for c in clients:
            results[("bare", "bare", c)] = timed({"server": bare_proc.pid}, lambda c=c: wrk(
                bare_url, body, {}, c, min(args.seconds, 4), tmp))
        for name in models:
            for who in servers[name]:  # warm-up
                url, headers = servers[name][who]
                wrk(url, body, headers, 10, 3, tmp)
            for c in clients:
                for who in ("mlflow", "ours", "before", "ours, no log") if c % 2 else (
                        "ours, no log", "before", "ours", "mlflow"):
                    url, headers = servers[name][who]
                    spy = args.py_spy and who == "ours" and c == 1
                    spies = profile(args, server, name, args.seconds) if spy else []
                    dep = {"ours": name, "before": f"{name}-before", "ours, no log": f"{name}-nolog"}.get(who)
                    pids = {"backend": os.getpid(), "worker": server.config.app.state.serving.get(
                        "bench", dep).pool.workers[0].proc.pid} if dep else {}
                    results[(name, who, c)] = res = timed(pids, lambda url=url, headers=headers, c=c: wrk(
                        url, body, headers, c, args.seconds, tmp))
                    res["spans"] = spans_p50()
                    for spy in spies:
                        spy.wait()
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
        for c in clients:
            o, m = results[(name, "ours", c)], results[(name, "mlflow", c)]
            print(f"{name:7s} {c:7d} | {o['p50']:8.2f}ms {o['p99']:6.2f}ms {o['rps']:8.0f} | {m['p50']:8.2f}ms "
                  f"{m['p99']:6.2f}ms {m['rps']:8.0f} | {o['rps'] / m['rps']:11.2f}x {o['p50'] / m['p50']:9.2f}"
                  + (f"   (MLflow: {m['socket_errors']} timeouts/socket errors, {m['non2xx']} non-2xx)"
                     if m["socket_errors"] or m["non2xx"] else ""))
    print("floor = in-process predict (same estimator, same one-row DataFrame) + bare loopback round trip (same "
          "concurrency); added = ours - floor")
    for name in models:
        f, pf, af = floor[name], floor[f"{name} pyfunc"], floor[f"{name} array"]
        print(f"  {name}: in-process predict p50 {f['p50']:.3f} ms p99 {f['p99']:.3f} ms (through mlflow.pyfunc: "
              f"p50 {pf['p50']:.3f} ms p99 {pf['p99']:.3f} ms; the estimator on a numpy array: p50 {af['p50']:.3f} "
              f"ms p99 {af['p99']:.3f} ms)")
        for c in clients:
            o, b = results[(name, "ours", c)], results[("bare", "bare", c)]
            fp50, fp99 = f["p50"] + b["p50"], f["p99"] + b["p99"]
            print(f"  {name:7s} {c:3d} clients: ours p50 {o['p50']:.3f} ms vs floor {fp50:.3f} (loopback "
                  f"{b['p50']:.3f}): added {o['p50'] - fp50:+.3f} ms, floor ratio {o['p50'] / fp50:.2f}x | p99 "
                  f"{o['p99']:.3f} vs floor {fp99:.3f}: added {o['p99'] - fp99:+.3f} ms"
                  + f" | MLflow ratio {o['p50'] / results[(name, 'mlflow', c)]['p50']:.2f}")
    for name in models:
        for c in clients:
            o, m, b = results[(name, "ours", c)], results[(name, "mlflow", c)], results[("bare", "bare", c)]
            print_ratios(m["p50"] / o["p50"], f"MLflow p50 / ours, {name}, {c} clients", o["p50"] / (
                floor[name]["p50"] + b["p50"]), "ours p50 / in-process predict + bare loopback")
    print(f"before issue 17 (a deployment whose worker ran with {FAST_ENV}=0: DataFrames, predicted in a thread), "
          "same run:")
    for name in models:
        for c in clients:
            o, b = results[(name, "ours", c)], results[(name, "before", c)]
            print(f"  {name:7s} {c:3d} clients: p50 {o['p50']:.3f} vs before {b['p50']:.3f} ms, p99 {o['p99']:.3f} vs "
                  f"{b['p99']:.3f} ms, {o['rps']:.0f} vs {b['rps']:.0f} req/s")
    print("the worker's steps for one row, each timed alone in this process (p50 / p99 ms):")
    for name in models:
        print(f"  {name}: " + "; ".join(f"{k} {v['p50']:.3f} / {v['p99']:.3f}"
                                        for k, v in floor[f"{name} stages"].items()))
    print("where a request's time goes, p50 ms (perf_counter spans in the backend; HTTP = wrk's latency - the "
          "gateway's call; gateway = its call - the worker round trip; worker round trip = frame out to answer in, "
          "its parse + predict + answer and two process wake-ups):")
    for name in models:
        for c in clients:
            for who in ("ours", "ours, no log", "before"):
                r = results[(name, who, c)]
                sp = r.get("spans", {})
                if "gateway" in sp and "worker round trip" in sp:
                    print(f"  {name:7s} {c:3d} clients, {who:12s}: total {r['p50']:.3f} = HTTP "
                          f"{r['p50'] - sp['gateway']:.3f} + gateway {sp['gateway'] - sp['worker round trip']:.3f} "
                          f"+ worker round trip {sp['worker round trip']:.3f}; p99: total {r['p99']:.3f}, gateway's "
                          f"call {sp['gateway p99']:.3f}, worker round trip {sp['worker round trip p99']:.3f}")
    print("CPU per request, microseconds (user + system, /proc): the backend process (HTTP, gateway, prediction "
          "log) and the worker")
    for c in clients:
        print(f"  bare loopback server, {c:3d} clients: {results[('bare', 'bare', c)]['cpu_server']:.0f}")
    for name in models:
        for c in clients:
            cells = [(who, results[(name, who, c)]) for who in ("ours", "ours, no log", "before")]
            print(f"  {name:7s} {c:3d} clients: " + "; ".join(
                f"{who}: backend {r['cpu_backend']:.0f} + worker {r['cpu_worker']:.0f}" for who, r in cells))
    print("prediction log cost (ours with the log vs the same deployment without it):")
    for name in models:
        for c in clients:
            o, n = results[(name, "ours", c)], results[(name, "ours, no log", c)]
            print(f"  {name:7s} {c:3d} clients: p50 {o['p50']:.2f} vs {n['p50']:.2f} ms, p99 {o['p99']:.2f} vs "
                  f"{n['p99']:.2f} ms, {o['rps']:.0f} vs {n['rps']:.0f} req/s ({o['rps'] / n['rps'] - 1:+.1%})")


if __name__ == "__main__":
    main()
