"""Backend fixtures: a real app on a real database (SQLite file, and PostgreSQL when available).

- `api`: an `Api` bound to a running app; `api.as_user(name)` gives an httpx-like client with that user's token.
  Platform admin is `admin`; everyone else is a plain user until added to a project.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jupyter_mlp.identity import mint_token, read_secret
from jupyter_mlp.settings import Settings
from jupyter_mlp_backend import create_app


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
