"""Fixtures shared by every test layer.

- `api`: an `Api` bound to a real backend app on a real database (SQLite file, and PostgreSQL when available);
  `api.as_user(name)` gives a client with that user's token. Platform admin is `admin`.
- `acme`: project `acme` with lead `lena`, scientist `sam`, viewer `vic`; `globex`: project with lead `gus`.
- `mlflow_server` (session): one managed MLflow (SQLite, Unix socket) for all tests that need it.
- `backend`: a live backend (uvicorn on a free loopback port) in front of that MLflow, with its own database and
  experiment-name prefix; `backend.client(user)`, `backend.kernel_env(user, slug)`.
- `project`: project `acme` on `backend` (lead `lena`, scientist `sam`, viewer `vic`).
- `@pytest.mark.shared_backend` (a module's `pytestmark`): its tests share one `backend` (`module_backend`: one
  Dagster webserver, serving supervisor, run watcher for the module), each with a project of its own from `project`
  (`acme`, `acme-2`, ...); `settings`/`containers` marks go on the module then. Only for modules whose tests leave
  nothing running: a deployment or monitor one test leaves (workers, Dagster's daemon and sensor) slows every later
  test on the shared backend (tests/ship/test_ship_flow.py, one run each: 468 s unshared, 699 s shared as the load
  rose 8 -> 13; its gate test, after the deploying one, 78 -> 151 s). Not a win for modules of pipeline runs either:
  each new pipeline makes the shared Dagster reload its code location, which at low load costs about what a fresh
  webserver does (test_pipeline_runs.py: 3 cancel/kill tests 177 -> 139 s interleaved at load ~10, but the whole
  module 327 -> 355 s and 203 -> 243 s, one run each, load shifting): for cheap tests on many backends.
- `use_mlflow(env)`: points the in-process MLflow client at a gateway with the given credentials.

- `mlp_home`: an empty data directory; `MLP_HOME` points at it for the test.
- `migrated_templates` (session): databases migrated once; each `api`/`backend` database starts as their copy.
- `settings_env(request)`: `@pytest.mark.settings(...)` as `MLP_*` variables, for fixtures that start processes.
- `postgres_url`: a fresh PostgreSQL database per test from `MLP_TEST_POSTGRES_URL` (set by `make test`, which
  starts Debian's PostgreSQL); tests that need it skip, saying why, when it is unset.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from jupyter_mlp.identity import mint_token, read_secret
from jupyter_mlp.settings import Settings
from jupyter_mlp_backend import create_app
from jupyter_mlp_backend.mlflow_service import MlflowService

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def mlp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "mlp-home"
    monkeypatch.setenv("MLP_HOME", str(home))
    for var in [v for v in os.environ if v.startswith("MLP_") and v not in ("MLP_HOME", "MLP_TEST_POSTGRES_URL")]:
        monkeypatch.delenv(var)
    # Each test is a fresh kernel: the dataset reads this process recorded for an earlier test's platform (another
    # MLP_HOME, another project) must not reach this test's runs' lineage (the model card test cited a `train`
    # snapshot of an earlier test's table when run after it in the full suite).
    from jupyter_mlp import datasets

    datasets.clear()
    return home


def fresh_postgres_database(prefix: str = "mlp_test"):
    """A new, empty PostgreSQL database: (SQLAlchemy URL, function that drops it). Skips without a server."""
    base = os.environ.get("MLP_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("MLP_TEST_POSTGRES_URL is unset: `make test` starts PostgreSQL and sets it")
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        drop_database(admin, name)

    return url.set(database=name).render_as_string(hide_password=False), drop


def drop_database(admin: str, name: str) -> None:
    """DROP DATABASE, ending the connections still open on it (FORCE). An autovacuum worker on the database is no
    process of our role, so FORCE refuses it ("must be a member of the role whose process is being terminated":
    CI's teardown of a test once failed so); a plain DROP makes autovacuum leave by itself (waiting up to 5 s), and
    is tried again while the test's own connections are still closing."""
    import psycopg

    for attempt in range(20):
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.errors.InsufficientPrivilege:
            try:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                return
            except psycopg.errors.ObjectInUse:
                if attempt == 19:
                    raise
                time.sleep(0.5)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url, drop = fresh_postgres_database()
    try:
        yield url
    finally:
        drop()


class Api:
    def __init__(self, client: TestClient, settings: Settings):
        self.client = client
        self.settings = settings

    def token(self, user: str) -> str:
        return mint_token(read_secret(self.settings.secret_path), user)

    def as_user(self, user: str) -> TestClient:
        c = TestClient(self.client.app, base_url="http://testserver/api")
        c.headers["Authorization"] = f"Bearer {self.token(user)}"
        return c

    @property
    def db(self):  # noqa: ANN201
        return self.client.app.state.db


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, mlp_home: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{mlp_home / 'mlp.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory) -> dict[str, str]:
    """Databases migrated to head once per session, which each test's platform database starts as a copy of:
    `sqlite` (a file) and, under `make test`, `postgres` (a template database's name). Migrating afresh per test
    cost ~0.5 s (SQLite) to ~2 s (PostgreSQL) of every `api` and `backend` test; the migrations themselves are
    tests/backend/test_migrations.py's, which starts from an empty `database_url`."""
    import sqlite3

    from jupyter_mlp_backend.db import Database

    path = tmp_path_factory.mktemp("migrated") / "mlp.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()
    with sqlite3.connect(path) as conn:  # everything in the one file: a copy needs no -wal beside it
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    templates = {"sqlite": str(path)}
    if os.environ.get("MLP_TEST_POSTGRES_URL"):
        url, drop = fresh_postgres_database("mlp_template")
        db = Database(url)
        db.migrate()
        db.dispose()
        templates["postgres"] = url.rsplit("/", 1)[1]
        yield templates
        drop()
        return
    yield templates


def seed_database(url: str, templates: dict[str, str]) -> None:
    """Make the (new, empty) platform database at `url` a copy of the migrated template; the app's own migrate()
    then finds it at head. A file already there, or a database not made by `fresh_postgres_database`, is left."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.drivername.startswith("sqlite"):
        target = Path(u.database or "")
        if u.database and u.database != ":memory:" and not target.exists():
            import shutil

            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(templates["sqlite"], target)
        return
    if "postgres" not in templates or not (u.database or "").startswith("mlp_test_"):
        return
    import psycopg

    base = make_url(os.environ["MLP_TEST_POSTGRES_URL"])  # connected to as fresh_postgres_database does
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    drop_database(admin, u.database)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{u.database}" TEMPLATE "{templates["postgres"]}"')


@pytest.fixture
def api(mlp_home: Path, database_url: str, migrated_templates: dict[str, str]) -> Iterator[Api]:
    seed_database(database_url, migrated_templates)
    settings = Settings(home=mlp_home, database_url=database_url, admin_users=["admin"])
    with TestClient(create_app(settings)) as client:
        yield Api(client, settings)


@pytest.fixture
def acme(api: Api) -> str:
    """Project `acme` with lead `lena`, scientist `sam`, viewer `vic`."""
    admin = api.as_user("admin")
    assert admin.post("/projects", json={"slug": "acme", "name": "Acme credit risk"}).status_code == 201
    for user, role in [("lena", "lead"), ("sam", "scientist"), ("vic", "viewer")]:
        assert admin.put(f"/projects/acme/members/{user}", json={"role": role}).status_code == 200
    return "acme"


@pytest.fixture
def globex(api: Api) -> str:
    """Project `globex` with lead `gus` only."""
    admin = api.as_user("admin")
    assert admin.post("/projects", json={"slug": "globex", "name": "Globex churn"}).status_code == 201
    assert admin.put("/projects/globex/members/gus", json={"role": "lead"}).status_code == 200
    return "globex"


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("mlflow-home")
    settings = Settings(home=home)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    service = MlflowService(settings)
    service.start()
    asyncio.run(service.wait_ready())
    yield service
    asyncio.run(service.stop())


@dataclass
class Backend:
    url: str
    settings: Settings

    def token(self, user: str) -> str:
        return mint_token(read_secret(self.settings.secret_path), user, 600)

    def client(self, user: str) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api", headers={"Authorization": f"Bearer {self.token(user)}"},
                            timeout=60)

    @property
    def admin(self) -> httpx.Client:
        return self.client("admin")

    def kernel_env(self, user: str, slug: str) -> dict[str, str]:
        creds = self.client(user).post(f"/projects/{slug}/kernel-token")
        assert creds.status_code == 200, creds.text
        c = creds.json()
        return {"MLFLOW_TRACKING_URI": f"{self.url}{c['tracking_path']}", "MLFLOW_TRACKING_TOKEN": c["token"],
                "MLFLOW_EXPERIMENT_ID": c["experiment_id"]}


def settings_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """`@pytest.mark.settings(name=value)` (test, class or module; the closest wins) as the `MLP_*` environment of
    a platform a fixture starts as a process (`mlp up`, the CLI): what a platform admin configured for it."""
    import json

    marks = {k: v for m in reversed(list(request.node.iter_markers("settings"))) for k, v in m.kwargs.items()}
    return {f"MLP_{k.upper()}": v if isinstance(v, str) else json.dumps(v) for k, v in marks.items()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _serve_backend(node, home: Path, mlflow_server: MlflowService, migrated_templates: dict[str, str]):
    """A backend (uvicorn in a thread) on `home` with the `settings`/`containers` marks of `node` (a test or a
    module)."""
    # Pipeline stages run in local subprocesses unless a test is marked `containers` (then Docker or fail).
    engine = "docker" if node.get_closest_marker("containers") else "none"
    settings = Settings(
        home=home,
        container_engine=engine,
        admin_users=["admin"],
        mlflow_url=f"unix://{mlflow_server.socket}",
        mlflow_backend_store_uri=mlflow_server.backend_store_uri,
        mlflow_experiment_prefix=f"t{uuid.uuid4().hex[:8]}-",
        # `@pytest.mark.settings(name=value)` on the test, class or module (the closest wins): what a platform
        # admin configured for this backend
        **{k: v for m in reversed(list(node.iter_markers("settings"))) for k, v in m.kwargs.items()},
    )
    seed_database(settings.effective_database_url, migrated_templates)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield Backend(url, settings)
    finally:
        server.should_exit = True
        thread.join(30)


def _platform_marks(node) -> list:  # noqa: ANN001
    return [(m.name, m.kwargs) for m in node.iter_markers() if m.name in ("settings", "containers")]


@pytest.fixture(scope="module")
def module_backend(request, tmp_path_factory, mlflow_server: MlflowService, migrated_templates: dict[str, str]):
    """One backend for every test of a module marked `shared_backend` (its Dagster webserver, serving supervisor
    and run watcher start once, not once per test); `project` gives each test a project of its own there."""
    home = tmp_path_factory.mktemp("shared-backend") / "mlp-home"
    with _serve_backend(request.node, home, mlflow_server, migrated_templates) as b:
        yield b


@pytest.fixture
def backend(request, mlp_home: Path, mlflow_server: MlflowService, migrated_templates: dict[str, str],
            monkeypatch: pytest.MonkeyPatch):
    """A backend of the test's own; in a module marked `shared_backend`, the module's (`module_backend`)."""
    if request.node.get_closest_marker("shared_backend"):
        module = request.node.getparent(pytest.Module)
        if _platform_marks(request.node) != _platform_marks(module):
            pytest.fail("a test with settings or containers marks of its own cannot use its module's shared backend: "
                        "mark the module, or move the test to a module without `shared_backend`")
        shared = request.getfixturevalue("module_backend")
        monkeypatch.setenv("MLP_HOME", str(shared.settings.home))  # what the test's CLI and SDK calls find
        yield shared
        return
    with _serve_backend(request.node, mlp_home, mlflow_server, migrated_templates) as b:
        yield b


@pytest.fixture
def project(request, backend: Backend) -> str:
    """Project `acme` (lead `lena`, scientist `sam`, viewer `vic`); on a shared backend a new project per test
    (`acme-2`, `acme-3`, ...: projects isolate runs, pipelines, models and deployments)."""
    admin = backend.admin
    shared = request.node.get_closest_marker("shared_backend") is not None
    for n in range(1, 1000):
        slug = f"acme-{n}" if n > 1 else "acme"
        made = admin.post("/projects", json={"slug": slug, "name": "Acme credit"})
        if made.status_code != 409 or not shared:
            break
    assert made.status_code == 201, made.text
    for user, role in [("lena", "lead"), ("sam", "scientist"), ("vic", "viewer")]:
        assert admin.put(f"/projects/{slug}/members/{user}", json={"role": role}).status_code == 200
    return slug


@pytest.fixture
def use_mlflow(monkeypatch):
    """Point the in-process MLflow client at a gateway with given credentials; returns a setter."""
    import mlflow

    def point(env: dict[str, str]) -> None:
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])

    yield point
    mlflow.set_tracking_uri(None)
    if mlflow.active_run():
        mlflow.end_run()
