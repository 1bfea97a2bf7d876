"""The hub fixture tests/hub's modules share: a real JupyterHub (`mlp hub`) on loopback with the platform backend
as its service /services/mlp, configurable-http-proxy, JupyterHub's DummyAuthenticator (with a password) and
SimpleLocalProcessSpawner; helpers to sign in through the hub's login form and to start a user's server.

With MLP_TEST_POSTGRES_URL (always under `make test`) the deployment runs on PostgreSQL as every store: four fresh
databases on that server (platform, MLflow, Dagster, JupyterHub), dropped afterwards; without it, on SQLite."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from jupyter_mlp.hub import free_port, proxy_command
from jupyter_mlp.settings import Settings
from tests.conftest import fresh_postgres_database

PASSWORD = "hub-test-password"
# The deployment's stores and the settings that put each on PostgreSQL (docs/deployment.md)
STORES = {"platform": "MLP_DATABASE_URL", "mlflow": "MLP_MLFLOW_BACKEND_STORE_URI",
          "dagster": "MLP_DAGSTER_POSTGRES_URL", "hub": "MLP_HUB_DB_URL"}


def _proxy_or_skip() -> str:
    try:
        return proxy_command(Settings())
    except RuntimeError as e:
        pytest.skip(f"configurable-http-proxy (npm) is not installed: {e}")


class Hub:
    def __init__(self, url: str, proc: subprocess.Popen, log: Path):
        self.url, self.proc, self.log = url, proc, log

    def login(self, name: str) -> httpx.Client:
        """`name` signs in through the hub's login form (with its xsrf token), as a browser does."""
        client = httpx.Client(base_url=self.url, follow_redirects=True, timeout=30)
        page = client.get("/hub/login")
        assert page.status_code == 200, page.text
        xsrf = re.search(r'name="_xsrf"\s+value="([^"]+)"', page.text).group(1)
        r = client.post("/hub/login?next=", data={"username": name, "password": PASSWORD, "_xsrf": xsrf})
        assert r.status_code == 200 and "jupyterhub-session-id" in client.cookies, r.text[:500]
        client.headers["X-XSRFToken"] = client.cookies.get("_xsrf", path="/hub/") or xsrf
        return client

    def token(self, client: httpx.Client, name: str) -> str:
        """The user's own API token, asked of the hub's REST API with their login session."""
        r = client.post(f"/hub/api/users/{name}/tokens", json={"note": "test"})
        assert r.status_code == 201, r.text
        return r.json()["token"]

    def mlp(self, token: str) -> httpx.Client:
        """A client of the platform backend through the hub's proxy, carrying a hub token."""
        return httpx.Client(base_url=f"{self.url}/services/mlp", timeout=30,
                            headers={"Authorization": f"token {token}"})


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Hub:
    proxy = _proxy_or_skip()
    home = tmp_path_factory.mktemp("mlp-home")
    (home / "hub").mkdir()
    # The site's own config, loaded after the shipped one: a shared password for the dummy authenticator, anyone
    # may sign in, and `lead` is a hub admin (MLP_ADMIN_USERS is empty: the backend learns it from the hub).
    (home / "hub" / "jupyterhub_config.py").write_text(
        f"c.DummyAuthenticator.password = {PASSWORD!r}\n"
        "c.Authenticator.allow_all = True\n"
        "c.Authenticator.admin_users = {'lead'}\n"
        f"c.SimpleLocalProcessSpawner.home_dir_template = {str(home / 'users' / '{username}')!r}\n"
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLP_", "JUPYTERHUB_"))}
    env.update(MLP_HOME=str(home), MLP_HUB_PORT=str(port), MLP_HUB_AUTHENTICATOR="dummy",
               MLP_HUB_SPAWNER="simple", MLP_HUB_PROXY_COMMAND=proxy, MLP_CONTAINER_ENGINE="none")
    # Under `make test` (MLP_TEST_POSTGRES_URL) the team deployment runs on PostgreSQL as every store, as teams run
    # it: the platform DB, MLflow's backend store, Dagster's storage and JupyterHub's own DB, four fresh databases on
    # that one server. Without it, SQLite (the embedded default, covered by the rest of the suite).
    stores: dict[str, str] = {}
    drops = []
    if os.environ.get("MLP_TEST_POSTGRES_URL"):
        for name, var in STORES.items():
            stores[name], drop = fresh_postgres_database(f"mlp_hub_{name}")
            drops.append(drop)
            env[var] = stores[name]
    log = home / "hub.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "jupyter_mlp.cli", "hub"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    hub = Hub(url, proc, log)
    hub.home, hub.stores = home, stores
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"mlp hub exited: {log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{url}/services/mlp/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the hub and its service did not answer: {log.read_text()[-3000:]}"
            time.sleep(0.5)
        # The backend starts its MLflow in the background; on an empty PostgreSQL store MLflow's migrations take
        # ~30 s on a loaded machine, which the first call that needs it (a 30 s client) must not wait out
        _wait_mlflow(home, proc, log, time.monotonic() + 180)
        yield hub
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # JupyterHub stops its proxy, service and single-user servers
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        try:
            if stores:  # whatever the module did (pipelines, monitors, models...), no store of it went to SQLite
                _check_postgres_stores(hub.home, stores)
        finally:
            for drop in drops:
                drop()


def _wait_mlflow(home: Path, proc: subprocess.Popen, log: Path, deadline: float) -> None:
    """Until the backend's managed MLflow answers on its Unix socket."""
    sock = home / "run" / "mlflow" / "mlflow.sock"
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://mlflow", timeout=2) as client:
        while True:
            assert proc.poll() is None, f"mlp hub exited: {log.read_text()[-3000:]}"
            try:
                if sock.exists() and client.get("/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the backend's MLflow did not answer: {log.read_text()[-3000:]}"
            time.sleep(0.5)


def start_server(hub: Hub, client: httpx.Client, name: str) -> None:
    r = client.post(f"/hub/api/users/{name}/server")
    # Signing in through the form lands on /hub/spawn, which may have started the server already (a race with
    # this call: "already running" once it has)
    assert r.status_code in (201, 202) or (r.status_code == 400 and "already running" in r.text), r.text
    wait_ready(client, name)


def wait_ready(client: httpx.Client, name: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        r = client.get(f"/hub/api/users/{name}")
        assert r.status_code == 200, r.text
        server = r.json().get("servers", {}).get("")
        if server and server.get("ready"):
            return
        assert time.monotonic() < deadline, f"{name}'s server did not start: {r.text}"
        time.sleep(0.5)


def sql(url: str, query: str, *args) -> list[tuple]:
    """Rows of `query` in the PostgreSQL database at `url` (a SQLAlchemy URL, any driver)."""
    import psycopg
    from sqlalchemy.engine import make_url

    with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        return conn.execute(query, args).fetchall()


# Where each store would be on SQLite, the embedded default
SQLITE_FILES = {"platform": "mlp.db", "mlflow": "mlflow/mlflow.db", "hub": "hub/jupyterhub.sqlite"}


def assert_every_store_is_postgres(hub: Hub) -> None:
    """The stores are PostgreSQL's and nothing of them went to SQLite under MLP_HOME (skips on the SQLite
    fallback, without MLP_TEST_POSTGRES_URL)."""
    if not hub.stores:
        pytest.skip("MLP_TEST_POSTGRES_URL is unset: the hub runs on SQLite (`make test` sets it)")
    _check_postgres_stores(hub.home, hub.stores)


def _check_postgres_stores(home: Path, stores: dict[str, str]) -> None:
    found = [rel for rel in SQLITE_FILES.values() if (home / rel).exists()]
    found += [str(p.relative_to(home)) for p in (home / "dagster").rglob("*.db")]
    assert not found, f"SQLite files of stores that are on PostgreSQL: {found}"
    # every pipeline run the platform launched (a schedule's tick, say) is a run in Dagster's PostgreSQL storage
    launched = {r[0] for r in sql(stores["platform"], "SELECT dagster_run_id FROM pipeline_runs "
                                                      "WHERE dagster_run_id IS NOT NULL")}
    if launched:
        in_dagster = {r[0] for r in sql(stores["dagster"], "SELECT run_id FROM runs")}
        assert launched <= in_dagster, (launched, in_dagster)
