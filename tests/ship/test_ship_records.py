"""A Ship's record as the API reads it, without running a chain (fast): a Ship whose backend stopped reads
`interrupted`; the new API key goes to the shipper's first read only; members read Ships, others get 404."""

from __future__ import annotations

import json
import uuid


def _record(home, status: str, endpoint: dict | None = None) -> str:  # noqa: ANN001
    ship_id = str(uuid.uuid4())
    steps = [{"name": n, "status": "done" if status == "succeeded" else "pending", "message": None,
              "started_at": None, "ended_at": None, "seconds": None, "links": {}, "progress": []}
             for n in ("promote", "image", "run", "register", "gates", "approval", "deploy", "monitor", "endpoint")]
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


def test_the_key_goes_to_one_reader_and_again_to_its_claim_only(api, acme):
    """The race behind the browser test's flaky "key shown once": a read of the finished Ship that hands out the key
    but whose answer never reaches the view (sent twice by the proxy or the browser, or lost), or a list of the
    project's Ships read meanwhile, took the key from the view's own read. Now a list never hands out the key, and
    the view's reads carry a claim: the read that took the key with a claim gets it again, no other reader."""
    endpoint = {"url": "http://x/serve/acme/churn-api/invocations", "v2_url": "http://x/v2", "api_key": None,
                "key_prefix": "abc", "key_message": None, "body": {}, "example_from": None,
                "requests": {"curl": "", "python": "", "mlflow_deployments": ""}}
    ship_id = _record(api.settings.home, "succeeded", endpoint)
    api.client.app.state.ships.keys[ship_id] = "mlpk_abc_secret"
    sam = api.as_user("sam")
    listed = sam.get("/projects/acme/ship").json()
    assert listed["items"][0]["endpoint"]["api_key"] is None
    url = f"/projects/acme/ship/{ship_id}"
    assert sam.get(url, params={"claim": "view-1234"}).json()["endpoint"]["api_key"] == "mlpk_abc_secret"
    assert sam.get(url, params={"claim": "view-1234"}).json()["endpoint"]["api_key"] == "mlpk_abc_secret"
    assert sam.get(url, params={"claim": "view-9999"}).json()["endpoint"]["api_key"] is None
    assert sam.get(url).json()["endpoint"]["api_key"] is None
    assert api.as_user("lena").get(url, params={"claim": "view-1234"}).json()["endpoint"]["api_key"] is None
    bad = sam.get(url, params={"claim": "x"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error", bad.text


def test_the_image_step_follows_the_platforms_base_image_record(tmp_path):
    """The Ship's `image` step reads what the platform's base image check at start recorded
    (MLP_HOME/run/base-image.json, pipelines.containers.prepare_base_image): building (with its time so far),
    ready, failed (the first stage builds it again), or no image at all for local stages."""
    import time

    from jupyter_mlp.settings import Settings
    from jupyter_mlp_backend.ship.service import image_state

    assert image_state(Settings(home=tmp_path, container_engine="none"))[0] == "skipped"
    docker = Settings(home=tmp_path, container_engine="docker")
    assert image_state(docker)[:2] == ("running", "the platform is checking the stage base image")
    record = tmp_path / "run" / "base-image.json"
    record.parent.mkdir(parents=True)
    since = time.time() - 42
    record.write_text(json.dumps({"state": "building", "image": "mlp-base:bookworm", "since": since, "at": since,
                                  "detail": "missing: building it with debootstrap since 10:00:00 UTC"}))
    status, message, progress = image_state(docker)
    assert (status, message) == ("running", "building base image mlp-base:bookworm (the platform started it at its "
                                            "start)")
    assert progress[0].startswith("building base image mlp-base:bookworm: missing: building it with debootstrap")
    assert progress[1] in ("42 s so far", "43 s so far")
    record.write_text(json.dumps({"state": "ready", "image": "mlp-base:bookworm", "since": since, "at": time.time(),
                                  "detail": "built in 61 s"}))
    assert image_state(docker) == ("done", "base image mlp-base:bookworm ready (built in 61 s)", [])
    record.write_text(json.dumps({"state": "failed", "image": "mlp-base:bookworm", "since": since, "at": since,
                                  "detail": "debootstrap failed: E: no mirror"}))
    assert image_state(docker)[0] == "done" and "builds it again" in image_state(docker)[1]
    record.write_text(json.dumps({"state": "unused", "image": "mlp-base:bookworm", "since": since, "at": since,
                                  "detail": "no Docker engine: stages run in local subprocesses"}))
    assert image_state(docker) == ("skipped", "no image: no Docker engine: stages run in local subprocesses", [])
