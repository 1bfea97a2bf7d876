"""Fixtures shared by every test layer.

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

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def mlp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "mlp-home"
    monkeypatch.setenv("MLP_HOME", str(home))
    for var in [v for v in os.environ if v.startswith("MLP_") and v not in ("MLP_HOME", "MLP_TEST_POSTGRES_URL")]:
        monkeypatch.delenv(var)
    return home


@pytest.fixture
def postgres_url() -> Iterator[str]:
    base = os.environ.get("MLP_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("MLP_TEST_POSTGRES_URL is unset: `make test` starts PostgreSQL and sets it")
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"mlp_test_{uuid.uuid4().hex[:12]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
