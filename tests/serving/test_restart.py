"""A backend killed with `kill -9` and started again (as `mlp up --detach` starts it) serves at the same URL, at the
scale the autoscaler had reached, with nothing of the killed one left: no process, no socket folder. The restart
gap — from starting the backend to the deployment answering 200 at the old URL — is measured and printed.

Real parts only: a backend process with its own MLflow, a scikit-learn model logged through the project's gateway,
registered, passed through the gates and deployed on worker processes; loopback only."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from jupyter_mlp.local_backend import ensure_backend, read_record
from jupyter_mlp.settings import Settings
from tests.cli.test_down import processes_of, wait_gone
from tests.conftest import Backend

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux's /proc")

BODY = {"dataframe_split": {"columns": ["x1", "x2"], "data": [[0.5, -0.2], [-1.0, 0.3]]}}


def _settings(home: Path) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text('admin_users = ["admin"]\ncontainer_engine = "none"\n'
                                        "monitor_interval_seconds = 0\n")
    return Settings(home=home)


def _start(settings: Settings):  # noqa: ANN202
    """The backend as `mlp up --detach` starts it: its own session, through `ensure_backend`."""
    started = ensure_backend(settings, wait_seconds=120, detach=True)
    assert started.process is not None
    return started


def _socket_dirs(home: Path) -> set[Path]:
    """The folders of the serving workers' sockets, from the workers' command lines."""
    found = set()
    for pid in processes_of(home):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if "jupyter_mlp_backend.serving.worker" in args and "--socket" in args:
            found.add(Path(args[args.index("--socket") + 1]).parent)
    return found


def _workers(b: Backend) -> list[dict]:
    r = b.client("sam").get("/projects/acme/deployments/churn-api")
    assert r.status_code == 200, r.text
    return r.json()["workers"]


def _cleanup(home: Path) -> None:
    env = {**os.environ, "MLP_HOME": str(home)}
    subprocess.run([str(Path(sys.executable).parent / "mlp"), "down"], env=env, capture_output=True, timeout=60)
    for pid in processes_of(home):  # what a failed run left: only processes of this test's home
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_killed_backend_comes_back_at_the_same_url_and_scale(mlp_home, use_mlflow, xy):
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    settings = _settings(mlp_home)
    first = _start(settings)
    try:
        b = Backend(first.url, settings)
        admin = b.admin
        assert admin.post("/projects", json={"slug": "acme", "name": "Acme"}).status_code == 201
        for user, role in [("lena", "lead"), ("sam", "scientist")]:
            assert admin.put(f"/projects/acme/members/{user}", json={"role": role}).status_code == 200
        x, y = xy
        model = LogisticRegression().fit(x, y)
        use_mlflow(b.kernel_env("sam", "acme"))
        with mlflow.start_run() as run:
            mlflow.sklearn.log_model(model, name="model", signature=infer_signature(x, model.predict(x)),
                                     pip_requirements=["scikit-learn"], serialization_format="cloudpickle")
        c = b.client("sam")
        assert c.post("/projects/acme/models", json={"name": "churn", "run_id": run.info.run_id}).status_code == 201
        assert c.post("/projects/acme/models/churn/versions/1/promote", json={"alias": "staging"}).status_code == 201
        # An SLA no request meets: the autoscaler adds the second worker after the first window with traffic.
        r = c.post("/projects/acme/deployments", json={"name": "churn-api", "model": "churn", "version": 1,
                                                       "min_workers": 1, "max_workers": 2, "sla_ms": 0.001})
        assert r.status_code == 201, r.text
        key = b.client("lena").post("/projects/acme/api-keys", json={"name": "crm"}).json()["key"]
        url = f"{first.url}/serve/acme/churn-api/invocations"
        serve = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=10)
        deadline = time.monotonic() + 60
        while len(_workers(b)) < 2:
            assert time.monotonic() < deadline, "the autoscaler did not add a worker within 60 s"
            for _ in range(20):
                assert serve.post(url, json=BODY).status_code == 200
            time.sleep(0.2)
        assert serve.post(url, json=BODY).status_code == 200
        old_sockets = _socket_dirs(mlp_home)
        assert len(old_sockets) == 1, old_sockets

        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(10)
        assert wait_gone(mlp_home, 20) == {}, "the killed backend's children outlived it"

        # Start again, as `mlp up --detach` does, while a client keeps calling the URL it was given.
        seen: list[tuple[float, int | str]] = []
        t0 = time.monotonic()
        box: dict = {}
        def start() -> None:
            box["started"] = _start(settings)
            box["returned"] = time.monotonic()

        starter = threading.Thread(target=start, daemon=True)
        starter.start()
        gap = None
        while time.monotonic() - t0 < 120:
            try:
                r = serve.post(url, json=BODY, timeout=5)
                seen.append((time.monotonic() - t0, r.status_code))
                if r.status_code == 503:
                    assert r.headers.get("retry-after"), r.headers
                if r.status_code == 200:
                    gap = time.monotonic() - t0
                    break
            except httpx.TransportError as e:
                seen.append((time.monotonic() - t0, type(e).__name__))
            time.sleep(0.05)
        starter.join(120)
        second = box["started"]
        statuses = sorted({s for _, s in seen}, key=str)
        first_seen = {}
        for t, s in seen:
            first_seen.setdefault(s, round(t, 2))
        print(f"\nrestart gap: {gap and round(gap, 2)} s from starting the backend to 200 at the same URL; "
              f"answers meanwhile (first seen at s): {first_seen}; `ensure_backend` returned as {second.url} "
              f"after {box.get('returned', 0) - t0:.2f} s")
        print("".join(ln for ln in (settings.run_dir / "backend.log").read_text().splitlines(True)[-400:]
                      if "restored deployment" in ln or "backend ready" in ln))
        assert gap is not None, seen[-5:]
        assert second.url == first.url, "the backend moved to another port"
        assert 404 not in statuses, seen
        deadline = time.monotonic() + 30  # the first worker answers; the rest of the restored scale follows it
        while len(_workers(b)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        print(f"at the restored scale {time.monotonic() - t0:.2f} s after the start")
        assert len(_workers(b)) == 2, "the deployment came back at another scale"
        assert not any(d.exists() for d in old_sockets), f"the killed backend's socket folder is left: {old_sockets}"
        new_sockets = _socket_dirs(mlp_home)

        down = subprocess.run([str(Path(sys.executable).parent / "mlp"), "down"], capture_output=True, text=True,
                              env={**os.environ, "MLP_HOME": str(mlp_home)}, timeout=60)
        assert down.returncode == 0, down.stderr
        assert wait_gone(mlp_home, 20) == {}
        assert not any(d.exists() for d in new_sockets), f"`mlp down` left the socket folder: {new_sockets}"
    finally:
        _cleanup(mlp_home)


def test_a_taken_port_is_named_with_its_holder(mlp_home):
    """The port kept under MLP_HOME is reused; where another process holds it, the start fails and says which."""
    settings = _settings(mlp_home)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    (settings.run_dir / "ports.json").write_text(f'{{"backend": {port}}}')
    try:
        with pytest.raises(RuntimeError) as e:
            ensure_backend(settings, wait_seconds=60, detach=True)
        message = str(e.value)
        assert str(port) in message and f"pid {os.getpid()}" in message, message
        assert read_record(settings) is None
    finally:
        holder.close()
        _cleanup(mlp_home)
