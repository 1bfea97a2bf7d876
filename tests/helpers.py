"""Small helpers several test folders share."""

from __future__ import annotations

import time


def notebook(cells):
    """An nbformat v4 notebook from (source, tags) pairs."""
    return {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {"tags": t}, "outputs": [],
                       "source": s} for s, t in cells],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def wait_run(client, slug, run_id, timeout=240):
    """Poll a pipeline run until it ends; return it."""
    deadline = time.monotonic() + timeout
    r = None
    while time.monotonic() < deadline:
        r = client.get(f"/projects/{slug}/pipeline-runs/{run_id}").json()
        if r["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            return r
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not finish: {r}")
