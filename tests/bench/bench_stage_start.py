"""How long a pipeline run waits before its first stage's first cell runs (issue 16 item 2).

Three runs through the backend API on a fresh MLP_HOME, as the Ship's run step makes them: the first run after the
platform started (Dagster not started yet), a run of a newly promoted version (the code location reloads), and the
same version again. Each time is from the POST of the run to the moment the first stage's first cell executes (the
cell appends time.time() to a file), so papermill's own kernel start is inside it; the total is the run's end.
The floor, measured in the same run: the version's stage notebooks run by papermill in a process that has already
imported it (one kernel start and the cells per stage); the ratios line divides the last run by it.

Run: .venv/bin/python -m tests.bench.bench_stage_start
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from tests.bench._floor import print_ratios
from tests.bench._platform import start_platform


def notebook(marker: Path, c: int) -> dict:
    cells = [(f"import time\nopen({str(marker)!r}, 'a').write(f'{{time.time()}}\\n')", ["stage:first"]),
             (f"x = {c}", ["parameters"]),
             ("y = x * 2", ["stage:second"])]
    return {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {"tags": t}, "outputs": [],
                       "source": s} for s, t in cells],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("jupyter_mlp_backend.pipelines.run_service").setLevel(logging.INFO)
    p = start_platform("mlp-bench-stage1-", container_engine="none", eager=True)
    api = p.api
    marker = p.tmp / "first-cell.txt"

    def promote(c: int) -> str:
        r = api.post("/projects/bench/pipelines", json={"notebook": notebook(marker, c), "path": "p.ipynb",
                                                        "name": "p"})
        assert r.status_code == 201, r.text
        return r.json()["versions"][-1]["version"]

    def run(label: str) -> float:
        before = len(marker.read_text().splitlines()) if marker.exists() else 0
        t0 = time.time()
        r = api.post("/projects/bench/pipelines/p/runs", json={})
        assert r.status_code in (200, 201), r.text
        answered = time.time() - t0
        out = p.wait_run("bench", r.json())
        total = time.time() - t0
        assert out["status"] == "SUCCESS", out
        first = float(marker.read_text().splitlines()[before]) - t0
        print(f"  {label:<34} launch answered {answered:5.1f} s   first cell {first:5.1f} s   run {total:5.1f} s",
              flush=True)
        return total

    try:
        time.sleep(5)  # the platform's start-up work (eager) under way, as when a user opens the Ship dialog
        promote(1)
        run("first run after the platform start")
        digest = promote(2)
        run("a newly promoted version")
        again = run("the same version again")
        floor = p.floor("bench", digest)
    finally:
        p.stop()
    print(f"  floor: the version's stages in a warm papermill (kernel start + cells per stage) {floor:5.1f} s")
    print_ratios(None, "no peer", again / floor, "run of the same version again / the floor")


if __name__ == "__main__":
    main()
