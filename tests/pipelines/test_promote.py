"""Promotion through the API: immutable content-hashed versions, refusals that name the problem."""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import func, select

from jupyter_mlp_backend.orm import Pipeline, PipelineVersion

TRAIN = [
    ("import math", ["imports"]),
    ("alpha = 0.5\nepochs = 3", ["parameters"]),
    ("data = [i * alpha for i in range(epochs)]", ["stage:prep"]),
    ("score = math.fsum(data)", ["stage:train"]),
]


def _promote(client, nb, path="acme/train.ipynb", **extra):
    return client.post("/projects/acme/pipelines", json={"notebook": nb, "path": path, **extra})


def test_same_content_same_version_edit_makes_a_new_one(api, acme, make_nb):
    sam = api.as_user("sam")
    nb = make_nb(*TRAIN)
    first = _promote(sam, nb)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["pipeline"] == "train" and body["created"] is True and len(body["version"]) == 64
    assert [s["name"] for s in body["stages"]] == ["prep", "train"]
    assert body["stages"][1]["inputs"] == ["data"]

    nb_rerun = json.loads(json.dumps(nb))  # executing the notebook changes outputs and counts, not the version
    for c in nb_rerun["cells"]:
        c["execution_count"] = 7
        c["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi"}]
    again = _promote(sam, nb_rerun)
    assert again.status_code == 200 and again.json()["version"] == body["version"] and again.json()["created"] is False

    edited = make_nb(*TRAIN[:3], ("score = math.fsum(data) * 2", ["stage:train"]))
    new = _promote(sam, edited)
    assert new.status_code == 201 and new.json()["version"] != body["version"]

    old_dir = api.settings.home / "pipelines" / "acme" / body["version"]
    stage = json.loads((old_dir / "stages" / "train.ipynb").read_text())
    assert "math.fsum(data)\n" not in stage and any(c["source"] == "score = math.fsum(data)" for c in stage["cells"])
    assert not os.access(old_dir / "pipeline.json", os.W_OK) or os.geteuid() == 0  # files are read-only
    assert oct(os.stat(old_dir / "pipeline.json").st_mode & 0o777) == "0o444"

    detail = sam.get("/projects/acme/pipelines/train").json()
    assert [v["version"] for v in detail["versions"]] == [new.json()["version"], body["version"]]
    listed = api.as_user("vic").get("/projects/acme/pipelines").json()
    assert listed["total"] == 1 and listed["items"][0]["versions"] == 2


def test_stage_notebooks_pass_values_through_pipeline_io(api, acme, make_nb, tmp_path, monkeypatch):
    """The generated notebooks, run in order in one namespace each, hand `data` from prep to train."""
    body = _promote(api.as_user("sam"), make_nb(*TRAIN)).json()
    folder = api.settings.home / "pipelines" / "acme" / body["version"] / "stages"
    monkeypatch.setenv("MLP_STAGE_IO", str(tmp_path))
    results = {}
    for stage in ("prep", "train"):
        ns: dict = {}
        for cell in json.loads((folder / f"{stage}.ipynb").read_text())["cells"]:
            exec(cell["source"], ns)  # noqa: S102 - the test runs the notebooks it just generated
        results[stage] = ns
    assert results["train"]["score"] == pytest.approx(0.0 + 0.5 + 1.0)


def test_preflight_reports_without_storing(api, acme, make_nb):
    r = api.as_user("sam").post("/projects/acme/pipelines/preflight",
                                json={"notebook": make_nb(("y = nope", ["stage:a"])), "path": "acme/x.ipynb"})
    assert r.status_code == 200
    rep = r.json()
    assert rep["ok"] is False and rep["problems"][0]["cell"] == 1 and rep["problems"][0]["code"] == "undefined"
    with api.db.session() as s:
        assert s.execute(select(func.count()).select_from(Pipeline)).scalar_one() == 0


@pytest.mark.parametrize("cells, code", [
    ([("x = 1", ["stage:a", "depends:b"]), ("y = x", ["stage:b"])], "cycle"),
    ([("x = 1", ["stgae:a"])], "unknown_tag"),
    ([("%run helpers.ipynb\nx = 1", ["stage:a"])], "magic"),  # shell escapes run in stages; %run needs a file
    ([("from os import *", ["stage:a"])], "star_import"),
])
def test_promotion_refused_with_the_problem_named(api, acme, make_nb, cells, code):
    r = _promote(api.as_user("sam"), make_nb(*cells))
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "preflight_failed"
    assert code in [p["code"] for p in err["detail"]]
    with api.db.session() as s:
        assert s.execute(select(func.count()).select_from(PipelineVersion)).scalar_one() == 0
    assert not (api.settings.home / "pipelines" / "acme").exists() or not any(
        p for p in (api.settings.home / "pipelines" / "acme").iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("body, field", [
    ({"notebook": {"cells": "nope"}, "path": "a.ipynb"}, "notebook"),
    ({"notebook": {"nbformat": 3, "cells": []}, "path": "a.ipynb"}, "notebook"),
    ({"notebook": "not an object", "path": "a.ipynb"}, "notebook"),
    ({"path": "a.ipynb"}, "notebook"),
    ({"notebook": {}, "path": ""}, "path"),
    ({"notebook": {}, "path": "a.ipynb", "name": "Bad Name!"}, "name"),
    ({"notebook": {}, "path": "a.ipynb", "stages": ["x"]}, "stages"),
])
def test_malformed_requests_name_the_field(api, acme, body, field):
    r = api.as_user("sam").post("/projects/acme/pipelines", json=body)
    assert r.status_code == 422, r.text
    assert field in json.dumps(r.json()["error"])


def test_roles_and_projects(api, acme, globex, make_nb):
    nb = make_nb(*TRAIN)
    assert _promote(api.as_user("vic"), nb).status_code == 403  # viewers cannot promote
    theirs = api.as_user("gus").post("/projects/acme/pipelines", json={"notebook": nb, "path": "x.ipynb"})
    missing = api.as_user("gus").post("/projects/nope/pipelines", json={"notebook": nb, "path": "x.ipynb"})
    assert theirs.status_code == missing.status_code == 404
    assert _promote(api.as_user("sam"), nb).status_code == 201
    assert api.as_user("gus").get("/projects/acme/pipelines/train").status_code == 404
    assert api.as_user("sam").get("/projects/acme/pipelines/nope").status_code == 404


def test_re_promoting_proposes_the_notebooks_pipeline_and_latest_is_newest(api, acme, make_nb):
    """Issue 18 item 5: a notebook promoted under another name proposes that pipeline again (preflight and a
    promotion without a name), and a pipeline's versions read newest first, so the newest is the latest."""
    sam = api.as_user("sam")
    fresh = sam.post("/projects/acme/pipelines/preflight", json={"notebook": make_nb(*TRAIN), "path": "acme/train.ipynb"})
    assert (fresh.json()["pipeline"], fresh.json()["existing"]) == ("train", False)
    first = _promote(sam, make_nb(*TRAIN), name="churn")
    assert first.status_code == 201 and first.json()["pipeline"] == "churn"

    edited = make_nb(*TRAIN[:3], ("score = math.fsum(data) * 2", ["stage:train"]))
    again = sam.post("/projects/acme/pipelines/preflight", json={"notebook": edited, "path": "acme/train.ipynb"})
    assert (again.json()["pipeline"], again.json()["existing"]) == ("churn", True)
    second = _promote(sam, edited)  # no name: the notebook's pipeline, not a new one called "train"
    assert second.status_code == 201 and second.json()["pipeline"] == "churn"
    assert [p["name"] for p in sam.get("/projects/acme/pipelines").json()["items"]] == ["churn"]

    other = sam.post("/projects/acme/pipelines/preflight", json={"notebook": edited, "path": "acme/other.ipynb"})
    assert (other.json()["pipeline"], other.json()["existing"]) == ("other", False)

    detail = sam.get("/projects/acme/pipelines/churn").json()
    assert [v["version"] for v in detail["versions"]] == [second.json()["version"], first.json()["version"]]
    listed = sam.get("/projects/acme/pipelines").json()["items"][0]
    assert listed["latest_version"] == second.json()["version"] == detail["versions"][0]["version"]
