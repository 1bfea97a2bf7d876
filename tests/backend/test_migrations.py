"""Alembic migrations: upgrade from empty to head and back, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from jupyter_mlp_backend.db import MIGRATIONS, Database
from jupyter_mlp_backend.orm import Base


def test_upgrade_creates_every_table_and_downgrade_removes_them(database_url):
    db = Database(database_url)
    db.migrate()
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    db.migrate()  # idempotent: a second start changes nothing
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert not set(Base.metadata.tables) & set(inspect(db.engine).get_table_names())
    db.dispose()


def test_models_match_migrations(database_url):
    """A model changed without a migration would make autogenerate produce operations."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    db = Database(database_url)
    db.migrate()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    db.dispose()
