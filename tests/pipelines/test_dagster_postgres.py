"""`dagster_postgres_url`: the managed Dagster keeps runs, event logs and schedules in PostgreSQL (dagster-postgres),
its webserver and daemon on that one instance, and writes nothing of it to SQLite under `$MLP_HOME/dagster`."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import fresh_postgres_database
from tests.helpers import notebook as _nb
from tests.helpers import wait_run as _wait

pytestmark = pytest.mark.postgres


@pytest.fixture
def dagster_pg(request):
    url, drop = fresh_postgres_database("mlp_dagster")
    # what a platform admin configured: the backend fixture reads `settings` markers
    request.node.add_marker(pytest.mark.settings(dagster_postgres_url=url))
    yield make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    drop()


def _rows(url: str, sql: str, *args) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def test_runs_events_and_the_daemon_use_the_postgres_instance(dagster_pg, request):
    backend = request.getfixturevalue("backend")
    project = request.getfixturevalue("project")
    sam = backend.client("sam")
    # the stage (the user's notebook code) never sees Dagster's storage URL, which holds its password
    nb = _nb([("import os\nimport mlflow", ["imports"]), ("n = 1", ["parameters"]),
              ("assert 'JUPYTER_MLP_DAGSTER_PG_URL' not in os.environ, 'leaked'\nmlflow.log_metric('n', n)",
               ["stage:log"])])
    r = sam.post(f"/projects/{project}/pipelines", json={"notebook": nb, "path": "pg.ipynb", "name": "pg"})
    assert r.status_code == 201, r.text
    # a schedule: the backend starts dagster-daemon, which must tick on the same (PostgreSQL) instance
    r = sam.post(f"/projects/{project}/pipelines/pg/schedules", json={"cron": "0 3 * * *"})
    assert r.status_code == 201, r.text
    r = sam.post(f"/projects/{project}/pipelines/pg/runs", json={"parameters": {"n": 3}})
    assert r.status_code == 201, r.text
    run = _wait(sam, project, r.json()["run_id"])
    assert run["status"] == "SUCCESS", run

    dagster_yaml = (backend.settings.home / "dagster" / "dagster.yaml").read_text()
    assert "postgres_url:" in dagster_yaml and make_url(dagster_pg).password not in dagster_yaml  # no password on disk

    # The run, its tags and its event log are rows in the PostgreSQL database
    found = _rows(dagster_pg, "SELECT r.run_id, r.status FROM runs r JOIN run_tags t ON t.run_id = r.run_id "
                              "WHERE t.key = 'mlp/run_id' AND t.value = %s", run["run_id"])
    assert len(found) == 1 and found[0][1] == "SUCCESS", found
    events = _rows(dagster_pg, "SELECT dagster_event_type FROM event_logs WHERE run_id = %s", found[0][0])
    kinds = {e[0] for e in events}  # Dagster stores a run's success under its legacy name PIPELINE_SUCCESS
    assert {"PIPELINE_SUCCESS", "STEP_SUCCESS"} <= kinds, kinds

    # The daemon's heartbeats land there too (it reads the same dagster.yaml and environment)
    deadline = time.monotonic() + 120
    while not _rows(dagster_pg, "SELECT daemon_type FROM daemon_heartbeats"):
        assert time.monotonic() < deadline, "dagster-daemon wrote no heartbeat to PostgreSQL within 120 s"
        time.sleep(1)

    # and nothing of Dagster's storage went to SQLite under MLP_HOME
    assert not [p for p in (backend.settings.home / "dagster").rglob("*.db")], \
        sorted(map(str, (backend.settings.home / "dagster").rglob("*")))


def test_the_setting_must_name_postgresql(tmp_path, monkeypatch):
    """A URL of another database is refused by name when the settings load, not at the first pipeline call; the
    default dagster.yaml has no storage section (SQLite under DAGSTER_HOME)."""
    from pydantic import ValidationError

    from jupyter_mlp.settings import load_settings
    from jupyter_mlp_backend.pipelines.dagster_service import dagster_yaml

    monkeypatch.setenv("MLP_HOME", str(tmp_path))
    monkeypatch.setenv("MLP_DAGSTER_POSTGRES_URL", "sqlite:///dagster.db")
    with pytest.raises(ValidationError, match="dagster_postgres_url"):
        load_settings()
    monkeypatch.setenv("MLP_DAGSTER_POSTGRES_URL", "postgresql+psycopg://u:secret@db/dagster")
    assert "postgres_url:\n      env: JUPYTER_MLP_DAGSTER_PG_URL" in dagster_yaml(load_settings())
    monkeypatch.delenv("MLP_DAGSTER_POSTGRES_URL")
    assert "storage:" not in dagster_yaml(load_settings())
