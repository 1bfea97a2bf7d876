"""Platform events are outbox rows written in the transaction of the change (events.py): a CloudEvents 1.0
envelope per state change users care about, none for a change that rolled back. On a real database (SQLite and,
with `make test`, PostgreSQL), through the ORM the domains write with."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from jupyter_mlp_backend.db import Database
from jupyter_mlp_backend.orm import (Alert, Deployment, GateDecision, ModelAlias, ModelVersion, Monitor, Pipeline,
                                     PipelineRunRecord, PipelineVersion, PlatformEvent, Project, RegisteredModel,
                                     Retraining)


@pytest.fixture
def db(database_url):
    d = Database(database_url)
    d.migrate()
    yield d
    d.dispose()


def _events(db) -> list[dict]:
    with db.session() as s:
        return [json.loads(b) for b in s.execute(select(PlatformEvent.body).order_by(PlatformEvent.seq)).scalars()]


def _model(db, slug: str = "acme") -> tuple[int, int]:
    with db.session() as s:
        p = Project(slug=slug, name=slug, created_by="admin")
        s.add(p)
        s.flush()
        m = RegisteredModel(project_id=p.id, name="churn", mlflow_name=f"{slug}.churn", created_by="sam")
        s.add(m)
        s.flush()
        v = ModelVersion(model_id=m.id, version=1, source="x", lineage="{}", created_by="sam")
        s.add(v)
        s.commit()
        return p.id, v.id


def test_a_rolled_back_change_writes_no_event(db):
    _model(db)
    before = _events(db)
    assert [e["type"] for e in before] == ["mlp.registry.version.registered"]
    with db.session() as s:
        mid = s.execute(select(RegisteredModel.id)).scalar_one()
        s.add(ModelVersion(model_id=mid, version=2, source="y", lineage="{}", created_by="sam"))
        s.flush()  # the event row is written on this connection ...
        assert len(s.execute(select(PlatformEvent)).all()) == 2
        s.rollback()  # ... and goes with the change
    assert _events(db) == before
    with pytest.raises(RuntimeError), db.session() as s:
        s.add(ModelVersion(model_id=mid, version=3, source="z", lineage="{}", created_by="sam"))
        s.flush()
        raise RuntimeError("the request failed after the write")
    assert _events(db) == before


def test_the_envelope_is_cloudevents_keyed_by_project(db):
    _model(db)
    (e,) = _events(db)
    assert e["specversion"] == "1.0" and e["datacontenttype"] == "application/json"
    assert e["source"] == "/mlp/projects/acme" and e["partitionkey"] == "acme"
    assert e["subject"] == "models/churn/versions/1" and e["time"].endswith("Z")
    # RFC 3339 in UTC, as CloudEvents' `time` requires: one zone designator (it was written '...+00:00Z').
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", e["time"]), e["time"]
    assert e["data"]["model"] == "churn" and e["data"]["version"] == 1 and e["data"]["created_by"] == "sam"
    with db.session() as s:
        row = s.execute(select(PlatformEvent)).scalar_one()
        assert (row.id, row.project, row.type, row.sent_at) == (e["id"], "acme", e["type"], None)


def test_every_state_change_users_care_about(db):
    pid, vid = _model(db)
    with db.session() as s:
        m = s.execute(select(RegisteredModel)).scalar_one()
        v2 = ModelVersion(model_id=m.id, version=2, source="y", lineage="{}", created_by="sam")
        s.add(v2)
        s.flush()
        s.add(ModelAlias(model_id=m.id, alias="champion", version_id=vid))
        s.commit()
        alias = s.get(ModelAlias, (m.id, "champion"))
        alias.version_id = v2.id  # moved
        s.commit()
        d = GateDecision(version_id=v2.id, alias="champion", status="pending", evidence="{}", requested_by="sam")
        s.add(d)
        s.commit()
        d.status, d.decided_by = "approved", "lena"
        s.commit()
        dep = Deployment(project_id=pid, name="churn", model_id=m.id, version_id=v2.id, status="deploying",
                         created_by="sam")
        s.add(dep)
        s.commit()
        dep.status = "ready"
        s.commit()
        dep.min_workers = 2  # not a status change: no event
        s.commit()
        mon = Monitor(project_id=pid, deployment_id=dep.id, window_size=100, created_by="sam")
        s.add(mon)
        s.flush()
        a = Alert(project_id=pid, monitor_id=mon.id, key="drift:x", kind="drift", severity="warning",
                  state="firing", title="x drifted")
        s.add(a)
        s.commit()
        a.windows = 2  # still firing: no second event
        s.commit()
        a.state = "resolved"
        s.commit()
        r = Retraining(monitor_id=mon.id, alert_id=a.id, status="launching")
        s.add(r)
        s.commit()
        r.status = "launched"
        s.commit()
        r.status = "awaiting approval"
        s.commit()
        r.status = "deployed"
        s.commit()
        pl = Pipeline(project_id=pid, name="train", source_path="train.ipynb", created_by="sam")
        s.add(pl)
        s.flush()
        pv = PipelineVersion(pipeline_id=pl.id, digest="d" * 64, description="", created_by="sam")
        s.add(pv)
        s.flush()
        ok = PipelineRunRecord(id="run-ok", version_id=pv.id, created_by="sam")
        bad = PipelineRunRecord(id="run-bad", version_id=pv.id, created_by="sam")
        s.add_all([ok, bad])
        s.commit()
        ok.status = "STARTED"
        s.commit()
        ok.status = "SUCCESS"
        bad.status = "FAILURE"
        s.commit()
    events = _events(db)
    got = [(e["type"], e["subject"]) for e in events]
    assert got[:8] == [
        ("mlp.registry.version.registered", "models/churn/versions/1"),
        ("mlp.registry.version.registered", "models/churn/versions/2"),
        ("mlp.registry.alias.moved", "models/churn/aliases/champion"),
        ("mlp.registry.alias.moved", "models/churn/aliases/champion"),
        ("mlp.registry.gate.decided", f"models/churn/decisions/{d.id}"),
        ("mlp.registry.approval.decided", f"models/churn/decisions/{d.id}"),
        ("mlp.serving.deployment.status_changed", "deployments/churn"),
        ("mlp.serving.deployment.status_changed", "deployments/churn"),
    ]
    assert events[2]["data"] | {} == {"model": "churn", "alias": "champion", "version": 1, "previous_version": None}
    assert events[3]["data"]["version"] == 2 and events[3]["data"]["previous_version"] == 1
    assert events[5]["data"]["status"] == "approved" and events[5]["data"]["decided_by"] == "lena"
    assert [e["data"]["status"] for e in events[6:8]] == ["deploying", "ready"]
    assert events[7]["data"]["previous_status"] == "deploying"
    assert got[8:12] == [
        ("mlp.monitoring.alert.firing", f"alerts/{a.id}"),
        ("mlp.monitoring.alert.resolved", f"alerts/{a.id}"),
        ("mlp.monitoring.retraining.started", f"retrainings/{r.id}"),
        ("mlp.monitoring.retraining.finished", f"retrainings/{r.id}"),
    ]
    assert events[11]["data"]["status"] == "deployed"
    assert sorted(got[12:]) == [("mlp.pipelines.run.failed", "pipelines/train/runs/run-bad"),
                                ("mlp.pipelines.run.finished", "pipelines/train/runs/run-ok")]
    assert len(events) == 14 and all(e["partitionkey"] == "acme" for e in events)
