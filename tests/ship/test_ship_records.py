"""A Ship's record as the API reads it, without running a chain (fast): a Ship whose backend stopped reads
`interrupted`; the new API key goes to the shipper's first read only; members read Ships, others get 404."""

from __future__ import annotations

import json
import uuid


def _record(home, status: str, endpoint: dict | None = None) -> str:  # noqa: ANN001
    ship_id = str(uuid.uuid4())
    steps = [{"name": n, "status": "done" if status == "succeeded" else "pending", "message": None,
              "started_at": None, "ended_at": None, "seconds": None, "links": {}, "progress": []}
             for n in ("promote", "run", "register", "gates", "approval", "deploy", "monitor", "endpoint")]
    plan = {"pipeline": {"name": "churn"}, "model": {"name": "churn"}, "gates": {},
            "deployment": {"name": "churn-api"}, "monitor": {}}
    rec = {"id": ship_id, "project": "acme", "path": "acme/churn.ipynb", "created_by": "sam",
           "created_at": "2026-01-01T00:00:00+00:00", "status": status, "message": None, "failed_step": None,
           "plan": plan, "steps": steps, "endpoint": endpoint}
    folder = home / "ships" / "acme"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{ship_id}.json").write_text(json.dumps(rec))
    return ship_id


def test_a_ship_without_its_task_reads_interrupted(api, acme, globex):
    ship_id = _record(api.settings.home, "running")
    got = api.as_user("vic").get(f"/projects/acme/ship/{ship_id}")
    assert got.status_code == 200, got.text
    assert got.json()["status"] == "interrupted" and "ship again" in got.json()["message"]
    page = api.as_user("vic").get("/projects/acme/ship").json()
    assert page["total"] == 1 and page["items"][0]["status"] == "interrupted"
    assert api.as_user("gus").get(f"/projects/acme/ship/{ship_id}").status_code == 404
    assert api.as_user("sam").get("/projects/acme/ship/not-a-uuid").status_code == 404


def test_the_new_key_goes_to_the_shippers_first_read_only(api, acme):
    endpoint = {"url": "http://x/serve/acme/churn-api/invocations", "v2_url": "http://x/v2", "api_key": None,
                "key_prefix": "abc", "key_message": None, "body": {}, "example_from": None,
                "requests": {"curl": "", "python": "", "mlflow_deployments": ""}}
    ship_id = _record(api.settings.home, "succeeded", endpoint)
    api.client.app.state.ships.keys[ship_id] = "mlpk_abc_secret"
    assert api.as_user("lena").get(f"/projects/acme/ship/{ship_id}").json()["endpoint"]["api_key"] is None
    first = api.as_user("sam").get(f"/projects/acme/ship/{ship_id}").json()
    assert first["endpoint"]["api_key"] == "mlpk_abc_secret"
    assert api.as_user("sam").get(f"/projects/acme/ship/{ship_id}").json()["endpoint"]["api_key"] is None
    stored = (api.settings.home / "ships" / "acme" / f"{ship_id}.json").read_text()
    assert "secret" not in stored
