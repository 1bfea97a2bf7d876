"""Projects and members through the real API, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select

from jupyter_mlp_backend.orm import Membership, Project


def test_admin_creates_project_and_becomes_lead(api):
    admin = api.as_user("admin")
    r = admin.post("/projects", json={"slug": "acme", "name": "  Acme  ", "description": "credit"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["slug"] == "acme" and body["name"] == "Acme" and body["created_by"] == "admin"
    assert body["created_at"].endswith("+00:00")
    members = admin.get("/projects/acme/members").json()
    assert [(m["user"], m["role"]) for m in members["items"]] == [("admin", "lead")]


def test_non_admin_cannot_create_project(api):
    r = api.as_user("alice").post("/projects", json={"slug": "acme", "name": "Acme"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    with api.db.session() as s:
        assert s.execute(select(func.count()).select_from(Project)).scalar_one() == 0


def test_members_see_only_their_projects(api, acme, globex):
    sam = api.as_user("sam")
    page = sam.get("/projects").json()
    assert [(p["slug"], p["role"]) for p in page["items"]] == [("acme", "scientist")]
    assert page["total"] == 1
    who = sam.get("/whoami").json()
    assert who == {"user": "sam", "is_admin": False, "auth_mode": "standalone",
                   "projects": [{"slug": "acme", "name": "Acme credit risk", "role": "scientist"}]}
    admin_page = api.as_user("admin").get("/projects").json()
    assert {p["slug"] for p in admin_page["items"]} == {"acme", "globex"}


def test_lead_manages_members_and_role_changes(api, acme):
    lena = api.as_user("lena")
    assert lena.put("/projects/acme/members/nora", json={"role": "scientist"}).status_code == 200
    assert lena.put("/projects/acme/members/nora", json={"role": "stakeholder"}).json()["role"] == "stakeholder"
    assert lena.delete("/projects/acme/members/nora").status_code == 204
    users = [m["user"] for m in lena.get("/projects/acme/members").json()["items"]]
    assert "nora" not in users


def test_lead_cannot_grant_admin_but_platform_admin_can(api, acme):
    r = api.as_user("lena").put("/projects/acme/members/nora", json={"role": "admin"})
    assert r.status_code == 403
    assert api.as_user("admin").put("/projects/acme/members/nora", json={"role": "admin"}).status_code == 200


def test_scientist_and_viewer_cannot_change_members(api, acme):
    for user in ("sam", "vic"):
        c = api.as_user(user)
        assert c.put("/projects/acme/members/eve", json={"role": "viewer"}).status_code == 403
        assert c.delete("/projects/acme/members/lena").status_code == 403
        assert c.get("/projects/acme/members").status_code == 200  # reading is fine
    with api.db.session() as s:
        assert s.execute(select(Membership).where(Membership.user == "eve")).first() is None


def test_last_lead_cannot_be_removed_or_demoted(api, acme):
    admin = api.as_user("admin")
    assert admin.delete("/projects/acme/members/admin").status_code == 204  # creator's lead seat; lena remains
    r = admin.delete("/projects/acme/members/lena")
    assert r.status_code == 409 and "last lead" in r.json()["error"]["message"]
    assert admin.put("/projects/acme/members/lena", json={"role": "viewer"}).status_code == 409


def test_members_page(api, acme):
    admin = api.as_user("admin")
    for i in range(7):
        admin.put(f"/projects/acme/members/user{i}", json={"role": "viewer"})
    first = admin.get("/projects/acme/members", params={"limit": 5}).json()
    second = admin.get("/projects/acme/members", params={"limit": 5, "offset": 5}).json()
    assert first["total"] == second["total"] == 11
    assert len(first["items"]) == 5 and len(second["items"]) == 5
    assert not {m["user"] for m in first["items"]} & {m["user"] for m in second["items"]}
