"""A platform admin who is also a project member: the sidebar shows their effective role (admin) and their
membership role (what the members table shows), so the two never seem to disagree."""

from __future__ import annotations


def test_projects_carry_the_callers_membership_role_beside_the_effective_one(api, acme):
    admin = api.as_user("admin")
    assert admin.put("/projects/acme/members/admin", json={"role": "lead"}).status_code == 200
    listed = {p["slug"]: p for p in admin.get("/projects").json()["items"]}
    assert listed["acme"]["role"] == "admin" and listed["acme"]["member_role"] == "lead"
    one = admin.get("/projects/acme").json()
    assert one["role"] == "admin" and one["member_role"] == "lead"
    table = {m["user"]: m["role"] for m in admin.get("/projects/acme/members").json()["items"]}
    assert table["admin"] == one["member_role"]

    assert admin.delete("/projects/acme/members/admin").status_code in (200, 204)
    assert admin.get("/projects/acme").json()["member_role"] is None  # acting as platform admin only

    created = admin.post("/projects", json={"slug": "initech", "name": "Initech"}).json()
    assert created["role"] == "admin" and created["member_role"] == "lead"  # the creator is made a lead

    lena = api.as_user("lena")
    mine = lena.get("/projects/acme").json()
    assert mine["role"] == mine["member_role"] == "lead"
