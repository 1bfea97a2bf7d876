"""Column policies on monitoring's writes and summaries (issue 20 item 1): saving a monitor answers with what the
caller's role may see of it (nothing refused after the write), and alerts and the stakeholder dashboard quote a
drift statistic only where the role sees the feature's values.

In-process app (`api`), its Dagster left unstarted: the launcher setting names a module that is not installed, so
the monitor route's sensor sync fails at once and the monitor says so (the path a platform without Dagster takes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from jupyter_mlp.settings import Settings
from jupyter_mlp_backend import create_app

from tests.backend.test_column_policies import (CREDIT, SQLITE_ONLY, audit_entries, deployment_with_log, set_policy,
                                                write)
from tests.conftest import Api, seed_database


@pytest.fixture
def api(mlp_home: Path, database_url: str, migrated_templates: dict[str, str]) -> Iterator[Api]:
    seed_database(database_url, migrated_templates)
    settings = Settings(home=mlp_home, database_url=database_url, admin_users=["admin"],
                        dagster_run_launcher="nowhere_pkg.Launcher", webhook_allow_hosts=["127.0.0.1"])
    with TestClient(create_app(settings)) as client:
        yield Api(client, settings)


def _profile(version_id: int, home: Path):  # noqa: ANN202 - drift.ReferenceProfile
    """A reference profile as drift.build_profile makes it for 240 training rows (its calibration left out), saved
    where the monitor reads it; its categories of ssn are known values (`-99-0000`)."""
    from jupyter_mlp_backend.monitoring.drift import ReferenceProfile
    from jupyter_mlp_backend.monitoring.reference import profile_dir

    profile = ReferenceProfile(
        features=["ssn", "income"], kinds={"ssn": "categorical", "income": "continuous"},
        tests={"ssn": "psi", "income": "ks"}, thresholds={"ssn": 1.66, "income": 0.004}, window_size=50,
        method={"alpha": 0.008}, reference_rows=240, values={"income": np.arange(240, dtype=float)},
        categories={"ssn": np.array([f"{i:03d}-99-0000" for i in range(7)], dtype=object)},
        counts={"ssn": np.array([36, 36, 36, 35, 34, 33, 30])}, category_types={"ssn": "str"},
        expected_values={"ssn": 50.0, "income": 50.0}, min_values={"ssn": 30, "income": 30},
        small_thresholds={"ssn": 1.66})
    profile.save(profile_dir(home, version_id))
    return profile


def _ready_profile_row(api, version_id: int, profile) -> None:  # noqa: ANN001
    from jupyter_mlp_backend.orm import ReferenceProfile as Row

    with api.db.session() as s:
        s.add(Row(version_id=version_id, dataset="credit", status="ready", window_size=50, rows=240,
                  features=json.dumps(profile.describe()), thresholds=json.dumps(profile.thresholds)))
        s.commit()


@SQLITE_ONLY
def test_saving_a_monitor_answers_with_a_denied_feature_withheld_not_refused(api, acme):
    """A scientist whose role is denied a feature's column saves a monitor: saving reads no rows, so it is saved
    and the answer (200) is the monitor as that role may see it, the denied feature's statistics withheld and the
    policy named. Before, the monitor was saved and the answer was a 403."""
    from sqlalchemy import select

    from jupyter_mlp_backend.orm import Monitor

    write(api, acme, "credit", CREDIT, "sam")
    deployment_id, version_id = deployment_with_log(api, acme, "risk-api", [])
    _ready_profile_row(api, version_id, _profile(version_id, api.settings.home))
    assert set_policy(api, acme, "credit", "lena", "ssn", "scientist", "deny").status_code == 200

    url = f"/projects/{acme}/deployments/risk-api/monitor"
    r = api.as_user("sam").put(url, json={"window_size": 50})
    assert r.status_code == 200, r.text
    with api.db.session() as s:  # the answer and the stored state agree: saved, with what was asked
        saved = s.execute(select(Monitor).where(Monitor.deployment_id == deployment_id)).scalar_one()
        assert (saved.window_size, saved.created_by) == (50, "sam")
    shown = {f["feature"]: f for f in r.json()["profile"]["features"]}
    assert "-99-0000" not in r.text and "top" not in shown["ssn"]  # the reference's categories: values
    assert "credit.ssn:scientist=deny" in shown["ssn"]["withheld"]
    assert shown["ssn"]["test"] == "psi" and shown["ssn"]["threshold"] == 1.66
    assert "mean" in shown["income"]  # the other feature as it is
    assert "Dagster" in r.json()["message"]  # the sensor could not be told: the monitor says so
    assert audit_entries(api, acme, "datasets.policy.applied")[0]["detail"] == {
        "path": "monitor-profile", "role": "scientist", "policies": ["credit.ssn:scientist=deny"]}
    # reading the profile's statistics is what the deny refuses
    again = api.as_user("sam").get(url)
    assert again.status_code == 403 and "credit.ssn:scientist=deny" in again.json()["error"]["message"]
    # a role no policy names sees the categories
    assert "-99-0000" in api.as_user("lena").put(url, json={"window_size": 50}).text


def _fire_alerts(api, slug: str) -> tuple[str, dict]:  # noqa: ANN001
    """A window whose ssn values (`-55-0000`, none in the reference) drifted, checked and turned into alerts by the
    monitor's own code; returns the ssn statistic as titles quote it, and ssn's drift result."""
    from datetime import datetime, timezone

    from jupyter_mlp_backend.monitoring import drift
    from jupyter_mlp_backend.monitoring.alerts import _update_alerts
    from jupyter_mlp_backend.orm import Deployment, Monitor, MonitorWindow

    deployment_id, version_id = deployment_with_log(api, slug, "risk-api", [])
    profile = _profile(version_id, api.settings.home)
    window = pd.DataFrame({"ssn": [f"{i % 5:03d}-55-0000" for i in range(50)], "income": [5 * i for i in range(50)]})
    result = drift.check_window(profile, window).to_dict()
    ssn = next(f for f in result["features"] if f["feature"] == "ssn")
    assert ssn["status"] == "drift" and ssn["statistic"] > 1.66
    with api.db.session() as s:
        m = Monitor(project_id=s.get(Deployment, deployment_id).project_id, deployment_id=deployment_id,
                    window_size=50, created_by="sam")
        s.add(m)
        s.flush()
        now = datetime.now(timezone.utc)
        s.add(MonitorWindow(monitor_id=m.id, version_id=version_id, seq=0, start_ts=now, end_ts=now, rows=50,
                            status=result["status"], drift=json.dumps(result)))
        s.commit()
        monitor_id = m.id
    fired, _ = _update_alerts(api.client.app, monitor_id)
    assert fired
    statistic = f"{ssn['statistic']:.4g}"
    return statistic, ssn


@SQLITE_ONLY
def test_alerts_and_the_dashboard_withhold_a_masked_features_drift_statistic(api, acme):
    """A window whose ssn values (known: `-55-0000`) drifted fires alerts through the monitor's own code (check,
    then alerts). No alert names a value; the drift alert's title and detail quote the test statistic, which a
    viewer who sees ssn masked gets withheld (the policy named) in the alert list and on the stakeholder dashboard,
    as in the monitor's windows; a lead sees it."""
    write(api, acme, "credit", CREDIT, "sam")
    statistic, ssn = _fire_alerts(api, acme)

    def alerts(user: str) -> tuple[str, dict]:
        page = api.as_user(user).get(f"/projects/{acme}/alerts")
        assert page.status_code == 200, page.text
        return page.text, {a["key"]: a for a in page.json()["items"]}

    def dashboard(user: str) -> tuple[str, dict]:
        r = api.as_user(user).get("/dashboard", params={"project": acme})
        assert r.status_code == 200, r.text
        (d,) = r.json()["projects"][0]["deployments"]
        return r.text, {a["key"]: a for a in d["alerts"]}

    lead_text, lead = alerts("lena")
    assert "-55-0000" not in lead_text and "-99-0000" not in lead_text  # no alert names a value, for any role
    assert statistic in lead["drift:ssn"]["title"] and lead["drift:ssn"]["detail"]["statistic"] == ssn["statistic"]
    assert statistic in dashboard("lena")[1]["drift:ssn"]["title"]

    assert set_policy(api, acme, "credit", "lena", "ssn", "viewer", "mask").status_code == 200
    text, seen = alerts("vic")
    assert "-55-0000" not in text and statistic not in json.dumps(seen["drift:ssn"])
    assert "credit.ssn:viewer=mask" in seen["drift:ssn"]["title"] and "***" in seen["drift:ssn"]["title"]
    detail = seen["drift:ssn"]["detail"]
    assert detail["statistic"] is None and "message" not in detail and "credit.ssn:viewer=mask" in detail["withheld"]
    assert (detail["status"], detail["threshold"], detail["window"]) == ("drift", 1.66, 0)  # the verdict stays
    assert {k: a for k, a in seen.items() if k != "drift:ssn"} == {k: a for k, a in lead.items() if k != "drift:ssn"}
    text, board = dashboard("vic")
    assert "-55-0000" not in text and statistic not in board["drift:ssn"]["title"]
    assert "credit.ssn:viewer=mask" in board["drift:ssn"]["title"]
    assert [e["detail"]["path"] for e in audit_entries(api, acme, "datasets.policy.applied")] == [
        "dashboard", "alerts"]
    # a denied feature is withheld alike (an alert list holds much else): not refused
    assert set_policy(api, acme, "credit", "lena", "ssn", "viewer", "deny").status_code == 200
    text, seen = alerts("vic")
    assert statistic not in json.dumps(seen["drift:ssn"]) and "credit.ssn:viewer=deny" in seen["drift:ssn"]["title"]
    assert statistic not in dashboard("vic")[1]["drift:ssn"]["title"]


@SQLITE_ONLY
def test_an_alert_leaves_without_the_statistic_of_a_column_a_policy_names(api, acme):
    """Where an alert's title goes with no reader's role to shape it for (webhooks, the platform events, the
    assistant's index, the audit log), a drift alert of a column that a policy masks for some role is stored without
    its statistic, naming the policy; the statistic stays in the detail, for the roles that see the column."""
    import asyncio

    from sqlalchemy import select

    from jupyter_mlp_backend.assistant.documents import alert_doc
    from jupyter_mlp_backend.monitoring.alerts import deliver_events
    from jupyter_mlp_backend.orm import Alert, PlatformEvent, Project, Webhook
    from tests.helpers import recording_server

    write(api, acme, "credit", CREDIT, "sam")
    assert set_policy(api, acme, "credit", "lena", "ssn", "viewer", "mask").status_code == 200
    with recording_server() as rec:
        with api.db.session() as s:
            project_id = s.execute(select(Project.id).where(Project.slug == acme)).scalar_one()
            s.add(Webhook(project_id=project_id, name="ops", kind="generic", url=f"{rec.url}/hook", created_by="lena"))
            s.commit()
        statistic, ssn = _fire_alerts(api, acme)
        assert asyncio.run(deliver_events(api.client.app))
        sent = [r["body"].decode() for r in rec.received]
    ssn_sent = [b for b in sent if "drift:ssn" in b]
    assert ssn_sent and all(statistic not in b and str(ssn["statistic"]) not in b for b in ssn_sent)
    assert all("credit.ssn:viewer=mask" in b for b in ssn_sent)
    with api.db.session() as s:
        alert = s.execute(select(Alert).where(Alert.key == "drift:ssn")).scalar_one()
        stored, alert_id = alert.title, alert.id
        events = [b for (b,) in s.execute(select(PlatformEvent.body)) if "alert" in b]
        doc = alert_doc(s, acme, str(alert_id))
    assert statistic not in stored and "credit.ssn:viewer=mask" in stored and "1.66" in stored
    assert events and all(statistic not in b for b in events)
    assert statistic not in json.dumps(doc)
    fired = [e for e in audit_entries(api, acme, "alert.fire") if e["target"] == "risk-api:drift:ssn"]
    assert fired and statistic not in json.dumps(fired)
    lead = {a["key"]: a for a in api.as_user("lena").get(f"/projects/{acme}/alerts").json()["items"]}
    assert lead["drift:ssn"]["title"] == stored and lead["drift:ssn"]["detail"]["statistic"] == ssn["statistic"]
