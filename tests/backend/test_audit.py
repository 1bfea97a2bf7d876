"""The hash-chained audit log: every decision recorded, and `verify` names the first bad entry."""

from __future__ import annotations

import json

from sqlalchemy import delete, select, update

from jupyter_mlp_backend import audit
from jupyter_mlp_backend.orm import AuditEntry, AuditHead


def _entries(api) -> list[AuditEntry]:
    with api.db.session() as s:
        return list(s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars())


def _verify(api) -> audit.VerifyResult:
    with api.db.session() as s:
        return audit.verify(s)


def test_allowed_and_denied_access_and_changes_are_recorded(api, acme, globex):
    api.as_user("gus").get("/projects/acme")  # denied: not a member
    api.as_user("sam").put("/projects/acme/members/eve", json={"role": "viewer"})  # denied: role too low
    api.as_user("sam").get("/projects/acme/members")  # allowed read
    entries = _entries(api)
    kinds = [(e.actor, e.action, e.project, e.decision) for e in entries]
    assert ("admin", "project.created", "acme", "allow") in kinds
    assert ("admin", "member.set", "acme", "allow") in kinds
    assert ("gus", "project.read", "acme", "deny") in kinds
    assert ("sam", "members.manage", "acme", "deny") in kinds
    assert ("sam", "members.read", "acme", "allow") in kinds
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert all(e.prev_hash == p.hash for p, e in zip(entries, entries[1:]))


def test_verify_passes_on_untouched_log(api, acme):
    r = api.as_user("admin").post("/audit/verify")
    assert r.status_code == 200
    assert r.json()["ok"] is True and r.json()["entries"] >= 5
    assert api.as_user("lena").post("/audit/verify").status_code == 403


def _tamper(api, stmt) -> None:
    with api.db.session() as s:
        s.execute(stmt)
        s.commit()


def test_edited_entry_is_named(api, acme):
    _tamper(api, update(AuditEntry).where(AuditEntry.seq == 3).values(actor="someone-else"))
    r = _verify(api)
    assert not r.ok and r.first_bad_seq == 3 and "edited" in r.reason


def test_edited_entry_with_recomputed_hash_breaks_the_next_link(api, acme):
    with api.db.session() as s:
        e = s.get(AuditEntry, 3)
        e.detail = json.dumps({"role": "admin"})
        e.hash = audit._hash_of(e)
        s.commit()
    r = _verify(api)
    assert not r.ok and r.first_bad_seq == 4 and "does not follow" in r.reason


def test_deleted_entry_is_named(api, acme):
    _tamper(api, delete(AuditEntry).where(AuditEntry.seq == 2))
    r = _verify(api)
    assert not r.ok and r.first_bad_seq == 2 and "deleted" in r.reason


def test_reordered_entries_are_named(api, acme):
    with api.db.session() as s:
        a, b = s.get(AuditEntry, 2), s.get(AuditEntry, 3)
        fields = ["ts", "actor", "action", "project", "target", "decision", "detail", "prev_hash", "hash"]
        va, vb = {f: getattr(a, f) for f in fields}, {f: getattr(b, f) for f in fields}
        for f in fields:  # swap the contents of two rows; hashes are unique, so park one first
            setattr(a, f, "x" * 64 if f == "hash" else vb[f])
        s.flush()
        for f in fields:
            setattr(b, f, va[f])
        s.flush()
        a.hash = vb["hash"]
        s.commit()
    r = _verify(api)
    assert not r.ok and r.first_bad_seq == 2


def test_inserted_entry_is_named(api, acme):
    with api.db.session() as s:
        last = s.execute(select(AuditEntry).order_by(AuditEntry.seq.desc())).scalars().first()
        fake = AuditEntry(seq=last.seq + 1, ts=last.ts, actor="mallory", action="member.set", project="acme",
                          target="mallory", decision="allow", detail="{}", prev_hash=last.hash)
        fake.hash = audit._hash_of(fake)  # a perfectly chained forgery, written behind the platform's back
        s.add(fake)
        s.commit()
    r = _verify(api)
    assert not r.ok and r.first_bad_seq == last.seq + 1 and "outside the platform" in r.reason


def test_truncated_log_is_named(api, acme):
    n = len(_entries(api))
    _tamper(api, delete(AuditEntry).where(AuditEntry.seq >= n - 1))
    r = _verify(api)
    assert not r.ok and r.first_bad_seq == n - 1 and "truncated" in r.reason


def test_head_tracks_last_entry(api, acme):
    entries = _entries(api)
    with api.db.session() as s:
        head = s.get(AuditHead, 1)
        assert (head.seq, head.hash) == (entries[-1].seq, entries[-1].hash)


def test_audit_pages_are_scoped(api, acme, globex):
    lena = api.as_user("lena")
    page = lena.get("/projects/acme/audit", params={"limit": 100}).json()
    assert page["items"] and all(e["project"] == "acme" for e in page["items"])
    assert lena.get("/projects/globex/audit").status_code == 404
    assert api.as_user("sam").get("/projects/acme/audit").status_code == 403
    assert lena.get("/audit").status_code == 403
    assert api.as_user("admin").get("/audit").json()["total"] >= page["total"]
