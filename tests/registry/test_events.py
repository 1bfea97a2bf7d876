"""The registry's state changes as platform events, through the real flow (MLflow run through the gateway,
registration, gates, a lead's approval): the outbox rows the Kafka relay publishes (docs/events.md)."""

from __future__ import annotations

import json

from sklearn.linear_model import LogisticRegression
from sqlalchemy import create_engine, text


def test_registry_flow_writes_its_events_in_order(backend, project, log_model, xy):
    x, y = xy
    sam, lena = backend.client("sam"), backend.client("lena")
    run = log_model(LogisticRegression().fit(x, y))
    assert sam.post(f"/projects/{project}/models", json={"name": "churn", "run_id": run}).status_code == 201
    assert lena.put(f"/projects/{project}/models/churn/gates", json={"require_approval": True}).status_code == 200
    staged = sam.post(f"/projects/{project}/models/churn/versions/1/promote", json={"alias": "staging"}).json()
    asked = sam.post(f"/projects/{project}/models/churn/versions/1/promote", json={"alias": "champion"}).json()
    assert asked["status"] == "pending", asked
    ok = lena.post(f"/projects/{project}/gate-decisions/{asked['id']}/approve", json={"reason": "reviewed"})
    assert ok.status_code == 200, ok.text
    bad = lena.post(f"/projects/{project}/gate-decisions/{asked['id']}/approve", json={"reason": "twice"})
    assert bad.status_code == 409  # refused: nothing changed, nothing announced

    engine = create_engine(backend.settings.effective_database_url)
    with engine.connect() as conn:
        events = [json.loads(b) for (b,) in conn.execute(text("SELECT body FROM events ORDER BY seq"))]
    engine.dispose()
    got = [(e["type"], e["subject"]) for e in events]
    assert got == [
        ("mlp.experiments.run.finished", f"runs/{run}"),
        ("mlp.registry.version.registered", "models/churn/versions/1"),
        ("mlp.registry.gate.decided", f"models/churn/decisions/{staged['id']}"),
        ("mlp.registry.alias.moved", "models/churn/aliases/staging"),
        ("mlp.registry.gate.decided", f"models/churn/decisions/{asked['id']}"),
        ("mlp.registry.approval.decided", f"models/churn/decisions/{asked['id']}"),
        ("mlp.registry.alias.moved", "models/churn/aliases/champion"),
    ], got
    assert all(e["partitionkey"] == project and e["source"] == f"/mlp/projects/{project}" for e in events)
    assert [e["data"]["status"] for e in events if e["type"].startswith("mlp.registry.gate")] == ["passed", "pending"]
    approval = events[5]["data"]
    assert (approval["status"], approval["decided_by"], approval["requested_by"]) == ("approved", "lena", "sam")
