"""Webhooks consume the platform events outbox (monitoring/alerts.py `deliver_events`): an alert event not yet
claimed is delivered once to the project's webhooks, whoever asks first, including one an interrupted evaluation
left behind; an event whose alert is gone is claimed and skipped. A real backend app and a real HTTP receiver."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient
from sqlalchemy import select

from jupyter_mlp.settings import Settings
from jupyter_mlp_backend.app import create_app
from jupyter_mlp_backend.monitoring.alerts import deliver_events
from jupyter_mlp_backend.orm import (Alert, Deployment, ModelVersion, Monitor, PlatformEvent, Project,
                                     RegisteredModel, Webhook, WebhookDelivery)
from tests.helpers import recording_server


def test_alert_events_in_the_outbox_reach_webhooks_once(mlp_home):
    settings = Settings(home=mlp_home, admin_users=["admin"], webhook_allow_hosts=["127.0.0.1"])
    with recording_server() as rec, TestClient(create_app(settings)) as client:
        app = client.app
        with app.state.db.session() as s:
            p = Project(slug="acme", name="acme", created_by="admin")
            s.add(p)
            s.flush()
            m = RegisteredModel(project_id=p.id, name="risk", mlflow_name="acme.risk", created_by="sam")
            s.add(m)
            s.flush()
            v = ModelVersion(model_id=m.id, version=1, source="x", lineage="{}", created_by="sam")
            s.add(v)
            s.flush()
            d = Deployment(project_id=p.id, name="risk-api", model_id=m.id, version_id=v.id, status="ready",
                           created_by="sam")
            s.add(d)
            s.flush()
            mon = Monitor(project_id=p.id, deployment_id=d.id, window_size=100, created_by="sam")
            s.add(mon)
            s.add(Webhook(project_id=p.id, name="ops", kind="generic", url=f"{rec.url}/hook", created_by="lena"))
            s.flush()
            # fired and committed, then the evaluation stopped before delivering: only the outbox knows
            a = Alert(project_id=p.id, monitor_id=mon.id, key="drift:x1", kind="drift", severity="warning",
                      state="firing", title="x1 drifted")
            s.add(a)
            s.commit()
            alert_id = a.id

        assert asyncio.run(deliver_events(app)) == [alert_id]
        assert len(rec.received) == 1 and rec.received[0]["path"] == "/hook"
        assert asyncio.run(deliver_events(app)) == []  # claimed once: never again
        assert len(rec.received) == 1

        with app.state.db.session() as s:
            a = s.get(Alert, alert_id)
            a.state = "resolved"
            s.commit()
        assert asyncio.run(deliver_events(app)) == [alert_id]
        assert len(rec.received) == 2
        with app.state.db.session() as s:
            states = [x.state for x in s.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars()]
            assert states == ["firing", "resolved"]
            s.delete(s.get(Alert, alert_id))  # its monitor went: the event stays, the alert is gone
            s.add(Alert(project_id=s.get(Monitor, mon.id).project_id, monitor_id=mon.id, key="drift:x2",
                        kind="drift", severity="warning", state="firing", title="x2 drifted"))
            s.commit()
            s.delete(s.execute(select(Alert)).scalar_one())
            s.commit()
            assert s.execute(select(PlatformEvent).where(PlatformEvent.hooks_at.is_(None))).scalars().all()
        assert len(asyncio.run(deliver_events(app))) == 1 and len(rec.received) == 2  # claimed, nothing to send
