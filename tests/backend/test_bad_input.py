"""Bad input gets a JSON error that names the field, and nothing is half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from jupyter_mlp_backend.orm import AuditEntry, Project


def _count(api, model) -> int:
    with api.db.session() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def test_malformed_json_is_400(api):
    r = api.as_user("admin").post("/projects", content=b'{"slug": "a",', headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_json"
    assert _count(api, Project) == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ({"slug": "acme"}, "name"),
        ({"slug": 5, "name": "x"}, "slug"),
        ({"slug": "Acme Corp", "name": "x"}, "slug"),
        ({"slug": "-acme", "name": "x"}, "slug"),
        ({"slug": "a" * 65, "name": "x"}, "slug"),
        ({"slug": "acme", "name": "x" * 201}, "name"),
        ({"slug": "acme", "name": "   "}, "name"),
        ({"slug": "acme", "name": "x", "owner": "mallory"}, "owner"),
        ({"slug": "acme", "name": ["x"]}, "name"),
        ({"slug": "acme", "name": "x", "description": "d" * 2001}, "description"),
    ],
)
def test_invalid_project_fields_are_named(api, body, field):
    r = api.as_user("admin").post("/projects", json=body)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    assert field in [d["field"] for d in err["detail"]]
    assert field in err["message"]
    assert _count(api, Project) == 0


def test_duplicate_slug_is_409_and_first_project_kept(api):
    admin = api.as_user("admin")
    assert admin.post("/projects", json={"slug": "acme", "name": "First"}).status_code == 201
    before = _count(api, AuditEntry)
    r = admin.post("/projects", json={"slug": "acme", "name": "Second"})
    assert r.status_code == 409
    assert r.json()["error"]["detail"] == [{"field": "slug"}]
    assert _count(api, AuditEntry) == before  # the refused create left no record of a change
    assert admin.get("/projects/acme").json()["name"] == "First"
    assert _count(api, Project) == 1


@pytest.mark.parametrize("body", [{"role": "owner"}, {"role": 3}, {}, {"role": "lead", "user": "x"}])
def test_invalid_member_body(api, acme, body):
    r = api.as_user("admin").put("/projects/acme/members/nora", json=body)
    assert r.status_code == 422
    assert r.json()["error"]["detail"]


@pytest.mark.parametrize("user", ["-dash", "with space", "a" * 129, "sem;colon"])
def test_invalid_member_names(api, acme, user):
    r = api.as_user("admin").put(f"/projects/acme/members/{user}", json={"role": "viewer"})
    assert r.status_code in (404, 422)
    assert "error" in r.json()


def test_paging_bounds(api, acme):
    admin = api.as_user("admin")
    assert admin.get("/projects", params={"limit": 0}).status_code == 422
    assert admin.get("/projects", params={"offset": -1}).status_code == 422
    assert admin.get("/projects", params={"limit": "many"}).json()["error"]["detail"][0]["field"] == "limit"
