"""Building a version's drift reference (profiling and calibrating thresholds: seconds, far longer on a loaded machine)
must not hold the platform database's write lock: on SQLite every other request waited behind it and failed after
30 s with "database is locked" (seen as a flaky retraining test: the watcher and the panel's polls both failed)."""

from __future__ import annotations

import sqlite3
import time

import pytest


@pytest.fixture
def probe(mlp_home, monkeypatch):
    from jupyter_mlp_backend.monitoring import drift

    real, seen = drift.build_profile, []

    def build_profile(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        # Another writer, as another request would be, while the profile is being built.
        con = sqlite3.connect(mlp_home / "mlp.db", timeout=0.5, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("ROLLBACK")
            seen.append("free")
        except sqlite3.OperationalError as e:
            seen.append(str(e))
        finally:
            con.close()
        return real(*args, **kwargs)

    monkeypatch.setattr(drift, "build_profile", build_profile)
    return seen


def test_building_a_reference_leaves_the_database_free(probe, monitored, mlp_home):
    if not (mlp_home / "mlp.db").exists():
        pytest.skip("the lock this guards is SQLite's; this backend runs on PostgreSQL")
    deadline = time.monotonic() + 180
    while not probe and time.monotonic() < deadline:  # the reference is built in the background after the gate
        time.sleep(0.5)
    assert probe, "no reference profile was built after the version passed its gate"
    assert set(probe) == {"free"}, probe
