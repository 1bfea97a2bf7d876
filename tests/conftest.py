"""Fixtures shared by every test layer.

- `api`: an `Api` bound to a real backend app on a real database (SQLite file, and PostgreSQL when available);
  `api.as_user(name)` gives a client with that user's token. Platform admin is `admin`.
- `acme`: project `acme` with lead `lena`, scientist `sam`, viewer `vic`; `globex`: project with lead `gus`.

- `mlp_home`: an empty data directory; `MLP_HOME` points at it for the test.
- `postgres_url`: a fresh PostgreSQL database per test from `MLP_TEST_POSTGRES_URL` (set by `make test`, which
  starts Debian's PostgreSQL); tests that need it skip, saying why, when it is unset.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jupyter_mlp.identity import mint_token, read_secret
from jupyter_mlp.settings import Settings
from jupyter_mlp_backend import create_app

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def mlp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "mlp-home"
    monkeypatch.setenv("MLP_HOME", str(home))
    for var in [v for v in os.environ if v.startswith("MLP_") and v not in ("MLP_HOME", "MLP_TEST_POSTGRES_URL")]:
        monkeypatch.delenv(var)
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
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url.set(database=name).render_as_string(hide_password=False), drop


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


@pytest.fixture
def api(mlp_home: Path, database_url: str) -> Iterator[Api]:
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
