"""One notebook three ways, same run: plain papermill, a one-stage pipeline, and split into three stages.

The pipelines go through everything a user's run does: the backend API, Dagster's webserver (GraphQL launch,
a run worker process), papermill per stage, MLflow parent and child runs, values passed between stages.
Dagster is warmed by one untimed run first. Budget (issue 4): a one-stage run costs at most 2x plain papermill;
goal (issue 17): 1.2x, three stages 2x.

Two ratios (issue 17): to the peer (the papermill CLI on the whole notebook, as a user runs it) and to the floor,
measured in the same round: the version's own stage notebooks run by papermill in a process that has already
imported it, one after the other (one kernel start and the cells per stage, nothing else: no interpreter start,
no papermill import, no Dagster, no MLflow).

Then where the seconds of a pipeline run go, median over the rounds, from the POST of the run to the poll that saw
it end: Dagster's run and step times (GraphQL), the stage runner's marks (`<stage>.timings.json`) and papermill's
cell times in each executed stage notebook, and how many of each run's stages took a standby (a stage process and
kernel started between runs, warm_papermill).

Before each measurement, ours or the peer's, the bench waits until the platform's processes are idle (settle): what
they start between runs (the next run's worker, its standbys) is never timed with the next measurement.

Run: .venv/bin/python -m tests.bench.bench_pipeline_run [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

from tests.bench._floor import print_ratios
from tests.bench._platform import Platform, start_platform

SETUP = "import numpy as np\nfrom sklearn.linear_model import LogisticRegression"
PARAMS = "n = 2000\nseed = 0"
LOAD = "rng = np.random.default_rng(seed)\nX = rng.normal(size=(n, 20))\ny = (X[:, 0] + rng.normal(size=n) > 0)"
FIT = "model = LogisticRegression(max_iter=500).fit(X, y)"
SCORE = "score = model.score(X, y)\nprint(score)"


def notebook(stages: list[str] | None) -> dict:
    cells = [(SETUP, ["imports"]), (PARAMS, ["parameters"])]
    bodies = [LOAD, FIT, SCORE]
    for i, body in enumerate(bodies):
        tags = [f"stage:{stages[i]}"] if stages and i < len(stages) and stages[i] else []
        cells.append((body, tags))
    return {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {"tags": t}, "outputs": [],
                       "source": s} for s, t in cells],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def ts(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


def breakdown(p: Platform, project: str, run: dict, t0: float, answered: float, seen: float) -> dict[str, float]:
    """Seconds of each phase of one finished run (keys in the order they happen)."""
    url = p.app.state.dagster._url  # the bench asks Dagster itself for the run's own start and end
    q = """query R($f: RunsFilter!) { runsOrError(filter: $f, limit: 1) { ... on Runs { results {
             startTime endTime stepStats { stepKey startTime endTime } } } } }"""
    d = httpx.post(f"{url}/graphql", json={"query": q, "variables": {"f": {"tags": [
        {"key": "mlp/run_id", "value": run["run_id"]}]}}}, timeout=30).json()
    r = d["data"]["runsOrError"]["results"][0]
    run_dir = p.tmp / "home" / "pipeline-runs" / project / run["run_id"]
    prepared = PREPARED.get(run["run_id"], answered)
    out = {"API and prepare (code location, MLflow parent run, token)": prepared - t0,
           "GraphQL launch answered (run worker started meanwhile)": answered - prepared,
           "launched -> Dagster run started": r["startTime"] - answered}
    prev = r["startTime"]
    steps = sorted(r["stepStats"], key=lambda s: s["startTime"])
    acc: dict[str, float] = {}

    def add(k: str, v: float) -> None:
        acc[k] = acc.get(k, 0.0) + v

    for step in steps:
        stage = step["stepKey"].rsplit("__", 1)[-1]
        m = json.loads((run_dir / f"{stage}.timings.json").read_text())
        STANDBYS.setdefault(run["run_id"], []).append(bool(m.get("standby")))
        nb = json.loads((run_dir / f"{stage}.ipynb").read_text())
        cells = [c["metadata"]["papermill"] for c in nb["cells"]
                 if c["metadata"].get("papermill", {}).get("start_time")]
        first, last = ts(cells[0]["start_time"]), ts(cells[-1]["end_time"])
        add("between steps (Dagster)", step["startTime"] - prev)
        add("step start -> stage code", m["entered"] - step["startTime"])
        add("MLflow child run (import, create, params)", m["child_run"] - m["entered"])
        add("papermill handed its stage -> first cell (kernel start; interpreter and papermill import unless "
            "started ahead)", first - m["papermill_start"])
        add("cells", last - first)
        add("last cell -> papermill exit (save, kernel shutdown)", m["papermill_end"] - last)
        add("after papermill (artifact, end child run, cleanup)", m["finished"] - m["papermill_end"])
        add("stage code end -> step end", step["endTime"] - m["finished"])
        add("child run -> papermill handed its stage", m["papermill_start"] - m["child_run"])
        prev = step["endTime"]
    out.update(acc)
    out["last step end -> Dagster run end"] = r["endTime"] - prev
    out["Dagster run end -> poll saw it (poll, close)"] = seen - r["endTime"]
    return out


PREPARED: dict[str, float] = {}  # run id -> when the backend had prepared it (its log line)
STANDBYS: dict[str, list[bool]] = {}  # run id -> for each stage, whether its kernel was a standby (started ahead)


def settle(timeout: float = 60.0) -> None:
    """Wait until the platform's processes (this process's descendants: backend, Dagster, the run worker started
    ahead for the next run and the standby stage processes it starts) are idle, so that what they do between runs is
    never timed with the next measurement, ours or the peer's."""
    import psutil

    def cpu() -> float:
        total = 0.0
        for proc in psutil.Process().children(recursive=True):
            try:
                t = proc.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    deadline = time.monotonic() + timeout
    before = cpu()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu()
        if now - before < 0.05:  # under a tenth of one CPU over the half second
            return
        before = now


class _Prepared(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if "prepared in" in str(record.msg) and record.args:
            PREPARED[str(record.args[0])] = record.created


def main() -> None:
    log = logging.getLogger("jupyter_mlp_backend.pipelines.run_service")
    log.setLevel(logging.INFO)
    log.addHandler(_Prepared())
    log.propagate = False
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    # stages as local processes (the path this measures; a container adds its image build and start)
    p = start_platform("mlp-bench-pipe-", container_engine="none")
    api, tmp = p.api, p.tmp
    digests = {}
    for name, stages in (("one", None), ("three", ["load", "fit", "score"])):
        r = api.post("/projects/bench/pipelines", json={"notebook": notebook(stages), "path": f"{name}.ipynb",
                                                        "name": name})
        assert r.status_code == 201, r.text
        body = r.json()
        digests[name] = body.get("version") or body["versions"][-1]["version"]
    plain = tmp / "plain.ipynb"
    plain.write_text(json.dumps(notebook(None)))
    phases: dict[str, list[dict[str, float]]] = {"one": [], "three": []}

    def run_pipeline(name: str) -> float:
        t0 = time.time()
        run = api.post(f"/projects/bench/pipelines/{name}/runs", json={}).json()
        answered = time.time()
        run = p.wait_run("bench", run)
        seen = time.time()
        assert run["status"] == "SUCCESS", run
        phases[name].append({**breakdown(p, "bench", run, t0, answered, seen), "run_id": run["run_id"]})
        return seen - t0

    def run_papermill() -> float:
        # The papermill CLI, as a user would run it (in-process papermill would share this process's event loop
        # with the backend under test).
        t0 = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "papermill"), str(plain), str(tmp / "out.ipynb"),
                        "-k", "python3", "--no-progress-bar"], check=True, capture_output=True)
        return time.perf_counter() - t0

    try:
        phases_warm = run_pipeline("one")  # starts Dagster and MLflow
        phases["one"].clear()
        times: dict[str, list[float]] = {"papermill": [], "one": [], "three": [], "floor one": [], "floor three": []}
        for _ in range(args.rounds):
            for key, measure in (("papermill", run_papermill),
                                 ("floor one", lambda: p.floor("bench", digests["one"])),
                                 ("one", lambda: run_pipeline("one")),
                                 ("floor three", lambda: p.floor("bench", digests["three"])),
                                 ("three", lambda: run_pipeline("three"))):
                settle()
                times[key].append(measure())
    finally:
        p.stop()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"same notebook (2000x20 logistic regression), median of {args.rounds}, end to end:")
    print(f"  plain papermill (peer):   {med['papermill']:6.2f} s")
    print(f"  floor, one stage:         {med['floor one']:6.2f} s   (papermill imported; kernel start + cells)")
    print(f"  floor, three stages:      {med['floor three']:6.2f} s")
    for name in ("one", "three"):
        print(f"  {name}-stage pipeline:{' ' * (7 - len(name))}    {med[name]:6.2f} s   peer ratio "
              f"{med[name] / med['papermill']:.2f}   floor ratio {med[name] / med['floor ' + name]:.2f}")
    print(f"  (first pipeline run, starting Dagster and MLflow: {phases_warm:.1f} s)")
    for name in ("one", "three"):
        print_ratios(med["papermill"] / med[name], f"papermill CLI / {name}-stage run",
                     med[name] / med[f"floor {name}"], f"{name}-stage run / its stages in a warm papermill")
    for name in ("one", "three"):
        took = [sum(STANDBYS.get(x["run_id"], [])) for x in phases[name]]
        print(f"\nwhere a {name}-stage run's seconds go (median of {args.rounds}; stages whose kernel was a standby "
              f"started before the run, per run: {took}):")
        for k in (k for k in phases[name][0] if k != "run_id"):
            print(f"  {statistics.median(x[k] for x in phases[name]):6.2f} s  {k}")


if __name__ == "__main__":
    main()
