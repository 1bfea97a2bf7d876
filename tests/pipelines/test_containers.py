"""Stages in real Docker containers: image built locally from the version's environment, limits, no network,
MLflow and datasets reached through the bridge, cancel removes the container.

`make test` starts a Docker engine (tests/services/docker.sh) and sets MLP_TEST_DOCKER=1, so there these tests
must run; elsewhere they skip when no engine answers. The subprocess path is tested by test_pipeline_runs.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import notebook as _nb
from tests.helpers import wait_run as _wait

pytestmark = pytest.mark.containers


def _engine():
    try:
        import docker

        c = docker.from_env(timeout=5)
        c.ping()
        return c
    except Exception as e:  # noqa: BLE001
        if os.environ.get("MLP_TEST_DOCKER") == "1":
            pytest.fail(f"MLP_TEST_DOCKER=1 but no Docker engine answers: {e}")
        pytest.skip(f"no Docker engine answers here ({type(e).__name__}); `make test` starts one")


@pytest.fixture(scope="module")
def docker_client():
    return _engine()


PROBE = """\
import socket, pathlib
def _first(*paths):
    for p in paths:
        f = pathlib.Path(p)
        if f.exists():
            return f.read_text().split()[0]
    return 'unknown'
mem_limit = _first('/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes')
cpu_quota = _first('/sys/fs/cgroup/cpu.max', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us', '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us')
try:
    socket.create_connection(('deb.debian.org', 80), timeout=3).close()
    network = 1
except OSError:
    network = 0
import os
in_container = int(os.path.exists('/.dockerenv'))
"""


def test_a_pipeline_runs_in_containers_with_limits_and_no_network(backend, project, use_mlflow, monkeypatch,
                                                                   docker_client):
    import pandas as pd

    from jupyter_mlp import datasets

    use_mlflow(backend.kernel_env("sam", project))
    monkeypatch.setenv("MLP_PROJECT", project)
    datasets.register("points", pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]}))
    sam = backend.client("sam")
    # set_experiment (the first line of most MLflow tutorials) is kept as the stage's in a container too
    nb = _nb([("import mlflow\nimport pandas as pd\nfrom jupyter_mlp import datasets\n"
               "mlflow.set_experiment('boxed-tutorial')", ["imports"]),
              ("scale = 3", ["parameters"]),
              ("frame = datasets.read('points')\nframe['y'] = frame.x * scale", ["stage:prep"]),
              (PROBE + "mlflow.log_metrics({'total': float(frame.y.sum()), 'network': network, "
                       "'in_container': in_container})\n"
                       "mlflow.set_tags({'mem_limit': mem_limit, 'cpu_quota': cpu_quota})\n"
                       # a run started after the stage's run ended nests under it (jupyter_mlp.lineage, in the image)
                       "mlflow.end_run()\nwith mlflow.start_run(run_name='later'):\n    mlflow.log_metric('later', 1.0)",
               ["stage:train"])])
    nb["metadata"]["mlp"] = {"container": {"memory": "768m", "cpus": 0.5}}
    r = sam.post(f"/projects/{project}/pipelines", json={"notebook": nb, "path": "c.ipynb", "name": "boxed"})
    assert r.status_code == 201, r.text

    started = sam.post(f"/projects/{project}/pipelines/boxed/runs", json={"parameters": {"scale": 10}})
    assert started.status_code == 201, started.text
    assert started.json()["executor"] == "docker"
    # the first run builds the images: while a stage starts, the run says which step it is at (issue 18 item 4)
    progress, deadline = set(), time.monotonic() + 600
    while (run := sam.get(f"/projects/{project}/pipeline-runs/{started.json()['run_id']}").json())["status"] not in (
            "SUCCESS", "FAILURE", "CANCELED") and time.monotonic() < deadline:
        progress |= {s["progress"] for s in run["stages"] if s.get("progress")}
        time.sleep(0.3)
    logs = {s["name"]: sam.get(f"/projects/{project}/pipeline-runs/{run['run_id']}/stages/{s['name']}/log").text
            for s in run["stages"]}
    assert run["status"] == "SUCCESS", (run, logs)
    assert "stage image" in logs["prep"]  # built (first run on this engine) or reused: said where the panel shows it
    assert "[step 1/3] base image" in logs["prep"] and "[step 2/3] " in logs["prep"], logs["prep"]
    assert "[step 3/3] starting the stage container" in logs["train"]
    assert progress and all(p.startswith("[step ") for p in progress), progress
    assert all(s.get("progress") is None for s in run["stages"])  # nothing in progress once it ended

    child = sam.get(f"/projects/{project}/runs", params={
        "filter": f"tags.mlflow.parentRunId = '{run['mlflow_run_id']}' and tags.mlp.pipeline.stage = 'train'"}
    ).json()["items"][0]
    # datasets and MLflow worked through the bridge; the DataFrame crossed stages as Parquet
    assert child["metrics"]["total"] == 100.0
    assert child["metrics"]["in_container"] == 1.0
    assert child["metrics"]["network"] == 0.0  # no network unless the pipeline asks
    assert child["tags"]["mem_limit"] == str(768 * 1024 * 1024)
    assert child["tags"]["cpu_quota"].split()[0] in ("50000",)  # 0.5 CPU of a 100 ms period
    (later,) = sam.get(f"/projects/{project}/runs", params={
        "filter": f"tags.mlflow.parentRunId = '{child['run_id']}'"}).json()["items"]
    assert later["run_name"] == "later" and later["metrics"]["later"] == 1.0
    assert "boxed-tutorial" not in {e["name"] for e in sam.get(f"/projects/{project}/experiments").json()["items"]}
    parent = sam.get(f"/projects/{project}/runs/{run['mlflow_run_id']}").json()
    assert parent["tags"]["mlp.pipeline.executor"] == "docker"
    assert not docker_client.containers.list(all=True, filters={"label": f"mlp.run={run['run_id']}"})

    # a second version whose environment did not change (another parameter default, the same imports) runs in
    # the same image: no build line in its log (issue 16 item 2)
    nb["cells"][1]["source"] = "scale = 4"
    v2 = sam.post(f"/projects/{project}/pipelines", json={"notebook": nb, "path": "c.ipynb", "name": "boxed"})
    assert v2.status_code == 201 and v2.json()["created"], v2.text
    assert v2.json()["version"] != run["version"]
    again = _wait(sam, project, sam.post(f"/projects/{project}/pipelines/boxed/runs", json={}).json()["run_id"])
    assert again["status"] == "SUCCESS" and again["version"] == v2.json()["version"]
    log2 = sam.get(f"/projects/{project}/pipeline-runs/{again['run_id']}/stages/prep/log").text
    assert log2.count("building") == 0 and "reused (already built for this environment)" in log2, log2


def test_the_platform_checks_the_base_image_at_start_and_says_so(backend, docker_client):
    """Issue 18 item 4: the base image is checked (built when missing) when the platform starts, and the executor
    route says what was found, so a first run does not wait for it unannounced."""
    from jupyter_mlp_backend.pipelines import containers

    lines = []
    status = containers.prepare_base_image_in_background(backend.settings, lines.append)
    status.join(600)
    said = backend.client("sam").get("/pipeline-executor").json()
    assert said["kind"] == "docker" and said["base_image"]["state"] == "ready", said
    assert said["base_image"]["image"] == backend.settings.container_base_image
    assert lines and lines[-1].startswith(f"pipeline base image {backend.settings.container_base_image}: ")
    # and `mlp pipelines executor` says it in the terminal
    env = {**os.environ, "MLP_HOME": str(backend.settings.home), "MLP_BACKEND_URL": backend.url, "USER": "sam",
           "LOGNAME": "sam"}
    out = subprocess.run([str(Path(sys.executable).parent / "mlp"), "pipelines", "executor"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"Base image {backend.settings.container_base_image}: ready" in out.stdout, out.stdout


def test_cancel_removes_the_stage_container(backend, project, docker_client):
    sam = backend.client("sam")
    nb = _nb([("import time", ["imports"]), ("time.sleep(600)", ["stage:wait"])])
    assert sam.post(f"/projects/{project}/pipelines", json={"notebook": nb, "path": "w.ipynb",
                                                           "name": "waits"}).status_code == 201
    run_id = sam.post(f"/projects/{project}/pipelines/waits/runs", json={}).json()["run_id"]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        found = docker_client.containers.list(filters={"label": f"mlp.run={run_id}"})
        if found:
            break
        time.sleep(1)
    assert found, "the stage container never started"
    assert sam.post(f"/projects/{project}/pipeline-runs/{run_id}/cancel").status_code == 200
    assert not docker_client.containers.list(all=True, filters={"label": f"mlp.run={run_id}"})
    assert _wait(sam, project, run_id)["status"] in ("CANCELED", "FAILURE")


def test_bridge_carries_bytes_both_ways(tmp_path):
    from jupyter_mlp.bridge import tcp_to_unix, unix_to_tcp

    echo = socket.socket()
    echo.bind(("127.0.0.1", 0))
    echo.listen(1)
    port = echo.getsockname()[1]

    def serve():
        conn, _ = echo.accept()
        conn.sendall(conn.recv(100).upper())
        conn.close()

    import threading

    threading.Thread(target=serve, daemon=True).start()
    path = str(tmp_path / "b.sock")
    host_side = unix_to_tcp(path, "127.0.0.1", port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        inner = s.getsockname()[1]
    box_side = tcp_to_unix(inner, path)
    with socket.create_connection(("127.0.0.1", inner), timeout=5) as c:
        c.sendall(b"hello")
        assert c.recv(100) == b"HELLO"
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    host_side.close()
    box_side.close()
