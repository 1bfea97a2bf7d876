"""The backend's side of the assistant: the index feed (outbox rows written in the transaction of the change, the
documents built from them, the service token only), the assistant's read-only user token, the ask route's input
and access checks, and the caller's own conversations. In process, on a real database (tests/conftest.py `api`)."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import func, select

from jupyter_mlp.gpu_service import service_headers
from jupyter_mlp.identity import mint_token, read_secret
from jupyter_mlp_backend.orm import (AssistantChange, AssistantConversation, AssistantTurn, Deployment,
                                     GateDecision, ModelAlias, ModelVersion, Project, RegisteredModel)


def _feed(api, after: int = 0, **headers) -> dict:
    c = api.as_user("admin")
    c.headers.update(headers or service_headers(api.settings))
    r = c.get("/assistant/feed", params={"after": after, "limit": 500})
    assert r.status_code == 200, r.text
    return r.json()


def _count(api) -> int:
    with api.db.session() as s:
        return s.execute(select(func.count()).select_from(AssistantChange)).scalar_one()


def test_the_feed_answers_the_service_token_only(api, acme):
    c = api.as_user("lena")
    assert c.get("/assistant/feed").status_code == 403  # a user's token, even a lead's
    assert c.get("/assistant/feed").json()["error"]["code"] == "forbidden"
    assert api.as_user("admin").get("/assistant/feed").status_code == 403  # even a platform admin's
    del c.headers["Authorization"]
    assert c.get("/assistant/feed").status_code == 401
    c.headers["Authorization"] = "Bearer " + service_headers(api.settings)["Authorization"].split()[1] + "x"
    assert c.get("/assistant/feed").status_code == 401  # not the service token, nor anyone's
    c.headers["Authorization"] = "Bearer " + mint_token(read_secret(api.settings.secret_path), "lena", 300,
                                                        scope="assistant")
    assert c.get("/assistant/feed").status_code == 403  # the assistant's own user token: never the feed
    assert c.get("/assistant/feed", params={"after": -1}, headers=service_headers(api.settings)).status_code == 422
    body = _feed(api)
    assert body["changes"] and body["more"] is False
    # the notes listing likewise
    assert api.as_user("lena").get("/assistant/notes").status_code == 403
    notes = api.as_user("lena")
    notes.headers.update(service_headers(api.settings))
    assert notes.get("/assistant/notes").json() == {"enabled": False, "notes": []}  # notes_root unset
    assert notes.get("/assistant/notes", params={"since": -1}).status_code == 422


def test_membership_changes_rewrite_the_project_document(api, acme):
    first = _feed(api)
    docs = [c for c in first["changes"] if c["kind"] == "project"]
    assert [c["record_id"] for c in docs] == ["acme"]  # five writes (project, three members), sent once
    assert "sam (scientist)" in docs[0]["document"]["text"] and docs[0]["document"]["project"] == "acme"
    assert api.as_user("lena").delete("/projects/acme/members/sam").status_code == 204
    after = _feed(api, first["next"])
    assert [(c["kind"], c["record_id"], c["op"]) for c in after["changes"]] == [("project", "acme", "upsert")]
    assert "sam" not in after["changes"][0]["document"]["text"]
    assert _feed(api, after["next"])["changes"] == []  # nothing new: an empty page at the same cursor
    assert _feed(api, after["next"])["next"] == after["next"]


def test_a_rolled_back_write_leaves_no_feed_row(api, acme):
    before = _count(api)
    with api.db.session() as s:
        s.add(Project(slug="ghost", name="Ghost", created_by="admin"))
        s.flush()
        assert _count_in(s) == before + 1  # written in the change's own transaction...
        s.rollback()  # ...and gone with it
    assert _count(api) == before
    r = api.as_user("sam").put("/projects/acme/members/eve", json={"role": "viewer"})  # refused (not a lead)
    assert r.status_code == 403 and _count(api) == before


def _count_in(s) -> int:
    return s.execute(select(func.count()).select_from(AssistantChange)).scalar_one()


def _model_records(api) -> dict:
    """A model with a version, an alias, a gate decision and a deployment in acme, written as the registry does
    (ORM rows in one transaction)."""
    with api.db.session() as s:
        pid = s.execute(select(Project.id).where(Project.slug == "acme")).scalar_one()
        m = RegisteredModel(project_id=pid, name="churn", mlflow_name=f"x-{uuid.uuid4().hex}", created_by="sam")
        s.add(m)
        s.flush()
        v = ModelVersion(model_id=m.id, version=7, mlflow_run_id="r" * 32, source="mlflow-artifacts:/x",
                         lineage=json.dumps({"data_digest": "abc123"}), metrics=json.dumps({"auc": 0.8318}),
                         params=json.dumps({"features": "woe-binning"}), created_by="sam")
        s.add(v)
        s.flush()
        s.add(ModelAlias(model_id=m.id, alias="champion", version_id=v.id))
        d = GateDecision(version_id=v.id, alias="champion", status="approved", evidence=json.dumps({"auc": 0.8318}),
                         requested_by="sam", decided_by="lena", reason="beats v6 on holdout")
        s.add(d)
        s.add(Deployment(project_id=pid, name="churn-api", model_id=m.id, version_id=v.id, status="ready",
                         sla_ms=50.0, created_by="lena"))
        s.commit()
        return {"version_id": v.id, "decision": d.id}


def test_registry_and_serving_records_reach_the_feed_as_documents(api, acme):
    start = _feed(api)["next"]
    ids = _model_records(api)
    page = _feed(api, start)
    by_kind = {c["kind"]: c for c in page["changes"]}
    assert set(by_kind) == {"model_version", "gate_decision", "deployment"}
    v = by_kind["model_version"]
    assert v["record_id"] == "acme/churn/7" and v["op"] == "upsert"
    assert "auc=0.8318" in v["document"]["text"] and "aliases champion" in v["document"]["text"]
    g = by_kind["gate_decision"]
    assert g["record_id"] == str(ids["decision"])
    assert "decided by lena" in g["document"]["text"] and "beats v6 on holdout" in g["document"]["text"]
    assert by_kind["deployment"]["record_id"] == "acme/churn-api"
    assert "SLA 50.0 ms" in by_kind["deployment"]["document"]["text"]
    # A version removed (with what hangs from it, by the database's cascade) becomes a delete at the next read
    with api.db.session() as s:
        s.delete(s.get(ModelVersion, ids["version_id"]))
        s.commit()
    gone = _feed(api, page["next"])["changes"]
    assert ("model_version", "acme/churn/7", "delete") in {(c["kind"], c["record_id"], c["op"]) for c in gone}


def test_a_change_older_than_the_record_is_sent_as_the_record_is_now(api, acme):
    """The feed reads the record when asked: a version deleted after its upsert row is sent as a delete."""
    start = _feed(api)["next"]
    ids = _model_records(api)
    with api.db.session() as s:
        s.delete(s.get(ModelVersion, ids["version_id"]))
        s.commit()
    changes = _feed(api, start)["changes"]
    v = [c for c in changes if c["kind"] == "model_version"]
    assert len(v) == 1 and v[0]["op"] == "delete" and v[0]["document"] is None


# --- the assistant's token ---------------------------------------------------------------------------------------


def _assistant_token(api, user: str, **claims) -> str:
    return mint_token(read_secret(api.settings.secret_path), user, 300, scope="assistant", **claims)


def test_the_assistant_token_reads_as_its_user_and_writes_nothing(api, acme, globex):
    c = api.as_user("lena")
    c.headers["Authorization"] = f"Bearer {_assistant_token(api, 'lena')}"
    r = c.get("/projects")
    assert r.status_code == 200 and [p["slug"] for p in r.json()["items"]] == ["acme"]  # lena's, not globex
    assert c.get("/projects/globex").status_code == 404
    for method, path, body in (("POST", "/projects", {"slug": "x1", "name": "x"}),
                               ("PUT", "/projects/acme/members/eve", {"role": "viewer"}),
                               ("DELETE", "/projects/acme/members/sam", None)):
        r = c.request(method, path, json=body)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", (method, path, r.text)
    # never the assistant itself (no recursion)
    r = c.post("/assistant/ask", json={"question": "which runs?"})
    assert r.status_code == 403 and "assistant" in r.json()["error"]["message"]
    # another scope is not an assistant token, and a forged one is nothing
    c.headers["Authorization"] = "Bearer " + mint_token(read_secret(api.settings.secret_path), "lena", 60,
                                                        scope="mlflow", prj="acme")
    assert c.get("/projects").status_code == 401
    c.headers["Authorization"] = "Bearer " + mint_token(b"f" * 64, "lena", 60, scope="assistant")
    assert c.get("/projects").status_code == 401


# --- ask: input and access ----------------------------------------------------------------------------------------


def test_ask_refuses_bad_input_with_json_errors(api, acme, globex):
    c = api.as_user("lena")
    for body in ({}, {"question": ""}, {"question": "   "}, {"question": 3}, {"question": "x" * 4001},
                 {"question": "ok", "project": "Not A Slug"}, {"question": "ok", "context": {"cell": 1}},
                 {"question": "ok", "conversation_id": "x" * 37}):
        r = c.post("/assistant/ask", json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", (body, r.text)
    r = c.post("/assistant/ask", json={"question": "q" * 1_000_000})  # 1 MB
    assert r.status_code in (413, 422) and "4000" in r.json()["error"]["message"]
    assert api.as_user("lena").post("/assistant/ask", json={"question": "runs?", "project": "globex"}).status_code \
        == 404  # another project's slug: like a missing one
    r = c.post("/assistant/ask", json={"question": "runs?", "project": "acme",
                                       "conversation_id": str(uuid.uuid4())})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    unauth = api.as_user("lena")
    del unauth.headers["Authorization"]
    assert unauth.post("/assistant/ask", json={"question": "runs?"}).status_code == 401
    assert unauth.get("/assistant/conversations").status_code == 401


def test_ask_says_503_when_the_ai_services_process_is_not_there(api, acme):
    r = api.as_user("lena").post("/assistant/ask", json={"question": "which runs?", "project": "acme"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
    assert "AI services" in r.json()["error"]["message"]


# --- conversations ------------------------------------------------------------------------------------------------


def test_conversations_are_their_users_own(api, acme):
    cid = str(uuid.uuid4())
    with api.db.session() as s:
        s.add(AssistantConversation(id=cid, user="lena", project="acme", title="churn"))
        s.flush()
        s.add(AssistantTurn(conversation_id=cid, question="who approved churn v7?",
                            answer=json.dumps({"text": "lena", "citations": []})))
        s.commit()
    lena = api.as_user("lena")
    listed = lena.get("/assistant/conversations", params={"project": "acme"}).json()
    assert [c["id"] for c in listed["items"]] == [cid] and listed["total"] == 1
    assert lena.get("/assistant/conversations", params={"project": "other"}).json()["total"] == 0
    one = lena.get(f"/assistant/conversations/{cid}").json()
    assert one["turns"][0]["question"] == "who approved churn v7?" and one["turns"][0]["answer"]["text"] == "lena"
    for user in ("sam", "admin"):  # a member of the same project, a platform admin: not theirs
        assert api.as_user(user).get(f"/assistant/conversations/{cid}").status_code == 404
        assert api.as_user(user).get("/assistant/conversations").json()["total"] == 0
    assert lena.get("/assistant/conversations/no-such-id").status_code == 404
    assert lena.get("/assistant/conversations", params={"project": "Bad Slug"}).status_code == 422
    # a conversation of another user cannot be continued either
    r = api.as_user("sam").post("/assistant/ask", json={"question": "and v6?", "project": "acme",
                                                        "conversation_id": cid})
    assert r.status_code == 404


def test_feed_rows_name_their_project(api, acme, globex):
    """Every row carries the project slug the indexer files the record under."""
    _model_records(api)
    rows = {(c["project"], c["kind"], c["record_id"]) for c in _feed(api)["changes"]}
    assert ("globex", "project", "globex") in rows
    assert {p for p, kind, rid in rows if kind != "project"} == {"acme"}


def test_pipeline_runs_enter_the_feed_when_they_end_and_monitor_counters_do_not(api, acme):
    from jupyter_mlp_backend.orm import Monitor, Pipeline, PipelineRunRecord, PipelineVersion

    start = _feed(api)["next"]
    _model_records(api)  # a deployment for the monitor
    with api.db.session() as s:
        pid = s.execute(select(Project.id).where(Project.slug == "acme")).scalar_one()
        p = Pipeline(project_id=pid, name="train", source_path="train.ipynb", created_by="sam")
        s.add(p)
        s.flush()
        v = PipelineVersion(pipeline_id=p.id, digest="d" * 64, description="first", created_by="sam")
        s.add(v)
        s.flush()
        run = PipelineRunRecord(id=str(uuid.uuid4()), version_id=v.id, status="RUNNING", created_by="sam")
        dep = s.execute(select(Deployment.id)).scalar_one()
        mon = Monitor(project_id=pid, deployment_id=dep, window_size=100, created_by="lena")
        s.add_all([run, mon])
        s.commit()

    page = _feed(api, start)
    kinds = {c["kind"] for c in page["changes"]}
    assert "pipeline_run" not in kinds and {"pipeline_version", "monitor"} <= kinds  # running: not yet
    with api.db.session() as s:
        m = s.get(Monitor, mon.id)
        m.pending_rows = 57  # served rows counted: nothing to index
        s.commit()
    assert _feed(api, page["next"])["changes"] == []
    with api.db.session() as s:
        r = s.get(PipelineRunRecord, run.id)
        r.status = "FAILURE"
        r.stage_status = json.dumps({"features": {"status": "FAILURE", "error": "KeyError: 'tenure'"}})
        s.commit()
    ended = _feed(api, page["next"])["changes"]
    assert [(c["kind"], c["record_id"]) for c in ended] == [("pipeline_run", run.id)]
    assert "KeyError: 'tenure'" in ended[0]["document"]["text"] and "FAILURE" in ended[0]["document"]["text"]


def test_a_failed_pipeline_run_is_indexed_with_its_failing_cell_and_error(api, acme):
    """Issue 13: the index covers pipeline runs with "stage status, failing cell and error". A run's end stores
    the stages' status without their errors (run_status._close); the stage runner writes the failing stage's cell
    and error to <stage>.error.json in the run's folder, which is where the API reads them, and so does the feed."""
    from jupyter_mlp_backend.orm import Pipeline, PipelineRunRecord, PipelineVersion

    start = _feed(api)["next"]
    with api.db.session() as s:
        pid = s.execute(select(Project.id).where(Project.slug == "acme")).scalar_one()
        p = Pipeline(project_id=pid, name="nightly", source_path="nightly.ipynb", created_by="sam")
        s.add(p)
        s.flush()
        v = PipelineVersion(pipeline_id=p.id, digest="e" * 64, description="{}", created_by="sam")
        s.add(v)
        s.flush()
        run = PipelineRunRecord(id=str(uuid.uuid4()), version_id=v.id, status="RUNNING", created_by="sam")
        s.add(run)
        s.commit()
    run_dir = api.settings.home / "pipeline-runs" / "acme" / run.id
    run_dir.mkdir(parents=True)
    (run_dir / "train.error.json").write_text(json.dumps({
        "stage": "train", "cell": 6, "error": "ValueError: Input X contains NaN.", "traceback": "..."}))
    with api.db.session() as s:
        r = s.get(PipelineRunRecord, run.id)
        r.status = "FAILURE"
        r.stage_status = json.dumps({"load": {"name": "load", "status": "SUCCESS"},
                                     "train": {"name": "train", "status": "FAILURE"}})
        s.commit()
    docs = [c["document"] for c in _feed(api, start)["changes"] if c["kind"] == "pipeline_run"]
    assert len(docs) == 1, docs
    text = docs[0]["text"]
    assert "train FAILURE (cell 6: ValueError: Input X contains NaN.)" in text and "load SUCCESS" in text, text

