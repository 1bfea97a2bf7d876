"""Audit checkpoints anyone can verify (issue 20 item 4): signed every N entries or M minutes, exported with the log,
and verified offline by `mlp audit verify --from EXPORT` — an edited, truncated or reordered export is refused with
the first bad entry named.

Backend-level (an app in a TestClient on the shared `mlp_home`/`database_url` fixtures, as `api` is made), no
platform: the export is verified by jupyter_mlp/auditlog.py and the `mlp` CLI alone."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jupyter_mlp.auditlog import canonical, entry_hash, load_public_keys, verify_export, write_folder
from jupyter_mlp.settings import Settings
from jupyter_mlp_backend import create_app
from tests.backend.test_object_storage import BUCKET, s3  # noqa: F401 - the moto S3 server fixture
from tests.conftest import Api

EVERY = 4


def _api(mlp_home: Path, database_url: str, **settings):  # noqa: ANN202
    s = Settings(home=mlp_home, database_url=database_url, admin_users=["admin"], **settings)
    return TestClient(create_app(s)), s


def _cp_api(mlp_home: Path, database_url: str):  # noqa: ANN202
    """`api` with a checkpoint every 4 entries and none by time, and project acme (six entries)."""
    client, settings = _api(mlp_home, database_url, audit_checkpoint_entries=EVERY, audit_checkpoint_minutes=0)
    with client:
        api = Api(client, settings)
        admin = api.as_user("admin")
        assert admin.post("/projects", json={"slug": "acme", "name": "Acme"}).status_code == 201
        for user, role in [("lena", "lead"), ("sam", "scientist"), ("vic", "viewer")]:
            assert admin.put(f"/projects/acme/members/{user}", json={"role": role}).status_code == 200
        api.as_user("sam").get("/projects/acme/members")
        yield api


@pytest.fixture
def cp_api_any_db(mlp_home, database_url):
    """On SQLite and PostgreSQL: where checkpoints are signed in the appending transaction (the head row lock)."""
    yield from _cp_api(mlp_home, database_url)


@pytest.fixture
def cp_api(mlp_home):
    """On SQLite only: exporting and verifying read what the chain holds, the same on either database."""
    yield from _cp_api(mlp_home, f"sqlite:///{mlp_home / 'mlp.db'}")


def _keys_file(api, tmp_path: Path) -> Path:
    r = api.as_user("vic").get("/audit/public-key")  # published: any signed-in user may read it
    assert r.status_code == 200, r.text
    path = tmp_path / "platform-keys.json"
    path.write_text(json.dumps({"format": r.json()["format"], "keys": r.json()["keys"]}))
    return path


def _export(api, folder: Path) -> dict:
    """What `mlp audit export --to DIR` does: the backend's stream, written by jupyter_mlp.auditlog.write_folder."""
    r = api.as_user("admin").post("/audit/export/download")
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson", r.text
    return write_folder(folder, iter(r.content.splitlines(keepends=True)))


def _lines(folder: Path, name: str = "entries.jsonl") -> list[str]:
    return (folder / name).read_text().splitlines(keepends=True)


def _write(folder: Path, lines: list[str], name: str = "entries.jsonl") -> None:
    (folder / name).write_text("".join(lines))


def test_checkpoints_are_signed_every_n_entries(cp_api_any_db):
    cp_api = cp_api_any_db
    admin = cp_api.as_user("admin")
    page = admin.get("/audit/checkpoints", params={"limit": 100}).json()
    head = admin.get("/audit", params={"limit": 1}).json()["items"][0]["seq"]
    assert [c["entries"] for c in reversed(page["items"])] == list(range(EVERY, head + 1, EVERY))
    keys = {k: base64.b64decode(v) for k, v in admin.get("/audit/public-key").json()["keys"].items()}
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    entries = {e["seq"]: e for e in admin.get("/audit", params={"limit": 100}).json()["items"]}
    for c in page["items"]:
        body = {k: v for k, v in c.items() if k != "signature"}
        Ed25519PublicKey.from_public_bytes(keys[c["key_id"]]).verify(base64.b64decode(c["signature"]), canonical(body))
        e = entries[c["entries"]]
        prev = entries[c["entries"] - 1]["hash"] if c["entries"] > 1 else "0" * 64
        assert c["head"] == entry_hash(**{f: e[f] for f in ("seq", "ts", "actor", "action", "project", "target",
                                                            "decision", "detail")}, prev_hash=prev)
    assert cp_api.as_user("lena").get("/audit/checkpoints").status_code == 403
    assert TestClient(cp_api.client.app).get("/api/audit/public-key").status_code == 401


def test_checkpoint_by_time(mlp_home):
    client, settings = _api(mlp_home, f"sqlite:///{mlp_home / 'mlp.db'}", audit_checkpoint_entries=1000,
                            audit_checkpoint_minutes=0.005)
    with client:
        admin = Api(client, settings).as_user("admin")
        assert admin.post("/projects", json={"slug": "acme", "name": "Acme"}).status_code == 201
        deadline = time.monotonic() + 60
        while not (items := admin.get("/audit/checkpoints").json()["items"]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert items and items[0]["entries"] >= 1  # signed by the timer: 1000 entries were never reached


def test_export_is_admin_only_audited_and_refuses_bad_destinations(cp_api, tmp_path):
    assert cp_api.as_user("lena").post("/audit/export/download").status_code == 403
    r = cp_api.as_user("lena").post("/audit/export", json={"to": "s3://bucket/audit"})
    assert r.status_code == 403
    admin = cp_api.as_user("admin")
    r = admin.post("/audit/export", json={"to": "/srv/audit"})  # the backend writes no folder a caller names
    assert r.status_code == 422 and r.json()["error"]["detail"][0]["field"] == "to"
    r = admin.post("/audit/export", json={"to": "s3://[bucket"})  # urlparse raises on it: a 422, not a 500
    assert r.status_code == 422 and "is not an s3://bucket/prefix" in r.json()["error"]["message"]
    r = admin.post("/audit/export", json={"to": "s3://bucket/audit"})  # no s3_endpoint_url, no AWS credentials
    assert r.status_code == 422 and "no object store" in r.json()["error"]["message"]
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(RuntimeError, match="never overwrites"):
        _export(cp_api, tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    _export(cp_api, tmp_path / "ok")
    log = admin.get("/audit", params={"limit": 100}).json()["items"]
    assert [(e["actor"], e["decision"], e["target"]) for e in reversed(log) if e["action"] == "audit.export"] == [
        ("lena", "deny", "download"), ("lena", "deny", "s3://bucket/audit"),
        ("admin", "allow", "download"), ("admin", "allow", "download")]  # one for each stream


def test_exported_log_verifies_offline_and_tampering_is_named(cp_api, tmp_path):
    good = tmp_path / "export"
    out = _export(cp_api, good)
    keys = _keys_file(cp_api, tmp_path)
    n = out["entries"]
    assert n > 2 * EVERY and out["checkpoints"] >= 2
    assert json.loads(_lines(good)[-1])["action"] == "audit.export"  # the export records itself, and is signed
    r = verify_export(good, load_public_keys(keys))
    assert r.ok and r.entries == n and r.signed_entries == n and not r.notes, r

    def case(name, change):  # noqa: ANN001, ANN202
        folder = tmp_path / name
        shutil.copytree(good, folder)
        change(folder)
        return verify_export(folder, load_public_keys(keys))

    def edit(folder):  # noqa: ANN001, ANN202
        lines = _lines(folder)
        e = json.loads(lines[2])
        e["actor"] = "someone-else"
        lines[2] = json.dumps(e) + "\n"
        _write(folder, lines)

    r = case("edited", edit)
    assert not r.ok and r.problem.entry == 3 and "edited" in r.problem.reason

    def rewrite(folder):  # noqa: ANN001, ANN202 - edit entry 6 and recompute every hash after it
        lines, prev = _lines(folder), None
        for i, line in enumerate(lines):
            e = json.loads(line)
            if i + 1 == 6:
                e["detail"] = json.dumps({"role": "admin"})
            if i + 1 >= 6:
                e["prev_hash"] = prev
                e["hash"] = entry_hash(**{k: v for k, v in e.items() if k != "hash"})
                lines[i] = json.dumps(e) + "\n"
            prev = e["hash"]
        _write(folder, lines)

    r = case("rewritten", rewrite)  # a consistent chain, but not the one the checkpoint at 8 signed
    assert not r.ok and r.problem.entry == 5 and "entries 5..8" in r.problem.reason

    r = case("reordered", lambda f: _write(f, [_lines(f)[i] for i in (0, 2, 1)] + _lines(f)[3:]))
    assert not r.ok and r.problem.entry == 2 and "holds entry 3" in r.problem.reason

    r = case("cut-mid-line", lambda f: (f / "entries.jsonl").write_bytes((f / "entries.jsonl").read_bytes()[:-30]))
    assert not r.ok and r.problem.entry == n and "not a complete entry" in r.problem.reason

    r = case("cut-lines", lambda f: _write(f, _lines(f)[:-2]))  # whole entries gone, inside the last checkpoint
    assert not r.ok and r.problem.entry == n - 1 and "truncated" in r.problem.reason

    r = case("deleted", lambda f: _write(f, _lines(f)[:4] + _lines(f)[5:]))
    assert not r.ok and r.problem.entry == 5

    def append(folder):  # noqa: ANN001, ANN202 - a perfectly chained forgery after the export's last entry
        last = json.loads(_lines(folder)[-1])
        e = {**last, "seq": n + 1, "actor": "mallory", "prev_hash": last["hash"]}
        e["hash"] = entry_hash(**{k: v for k, v in e.items() if k != "hash"})
        _write(folder, _lines(folder) + [json.dumps(e) + "\n"])

    r = case("appended", append)
    assert not r.ok and r.problem.entry == n + 1 and "appended after the export" in r.problem.reason

    def other_key(folder, same_id):  # noqa: ANN001, ANN202
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from jupyter_mlp.signing import key_id

        mallory = Ed25519PrivateKey.generate()
        raw = mallory.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        lines = _lines(folder, "checkpoints.jsonl")
        cp = json.loads(lines[1])
        cp["key_id"] = cp["key_id"] if same_id else key_id(raw)
        body = {k: v for k, v in cp.items() if k != "signature"}
        cp["signature"] = base64.b64encode(mallory.sign(canonical(body))).decode()
        lines[1] = json.dumps(cp) + "\n"
        _write(folder, lines, "checkpoints.jsonl")
        if not same_id:  # and the export's own key file names mallory's key too: --public-key still refuses it
            doc = json.loads((folder / "public-keys.json").read_text())
            doc["keys"][cp["key_id"]] = base64.b64encode(raw).decode()
            (folder / "public-keys.json").write_text(json.dumps(doc))

    r = case("another-key-id", lambda f: other_key(f, False))
    assert not r.ok and r.problem.entry == EVERY + 1 and "not the platform's public key" in r.problem.reason
    r = case("another-key", lambda f: other_key(f, True))
    assert not r.ok and r.problem.entry == EVERY + 1 and "does not verify" in r.problem.reason


def test_truncation_after_the_last_checkpoint(cp_api, tmp_path):
    """What verify can and cannot tell when the tail beyond a checkpoint is cut (docs/security.md)."""
    good = tmp_path / "export"
    out = _export(cp_api, good)
    keys = load_public_keys(_keys_file(cp_api, tmp_path))
    published = json.loads(_lines(good, "checkpoints.jsonl")[-1])  # the newest checkpoint, kept by the auditor
    cps = [json.loads(line) for line in _lines(good, "checkpoints.jsonl")]
    prev = cps[-2]["entries"]
    assert prev < out["entries"]

    def cut(folder: Path, manifest_too: bool) -> None:
        _write(folder, _lines(folder, "checkpoints.jsonl")[:-1], "checkpoints.jsonl")
        _write(folder, _lines(folder)[:prev + 1])  # entry prev+1 stays: past every remaining checkpoint
        if manifest_too:
            m = json.loads((folder / "manifest.json").read_text())
            m["entries"], m["head"] = prev + 1, json.loads(_lines(folder)[-1])["hash"]
            (folder / "manifest.json").write_text(json.dumps(m))

    honest = tmp_path / "manifest-kept"
    shutil.copytree(good, honest)
    cut(honest, manifest_too=False)  # detected: the manifest still counts the entries
    r = verify_export(honest, keys)
    assert not r.ok and r.problem.entry == prev + 2 and "truncated" in r.problem.reason

    forged = tmp_path / "manifest-edited"
    shutil.copytree(good, forged)
    cut(forged, manifest_too=True)  # not detectable from the export alone: the unsigned tail is gone cleanly...
    r = verify_export(forged, keys)
    assert r.ok and r.signed_entries == prev and r.entries == prev + 1
    assert any(f"entries {prev + 1}..{prev + 1} come after the last checkpoint" in n for n in r.notes)
    r = verify_export(forged, keys, [published])  # ...but it is against a checkpoint published elsewhere
    assert not r.ok and r.problem.entry == prev + 2 and "truncated" in r.problem.reason


def test_cli_verifies_an_export_offline(cp_api, tmp_path, capsys):
    good = tmp_path / "export"
    _export(cp_api, good)
    keys = _keys_file(cp_api, tmp_path)
    env = {"PATH": "/usr/bin:/bin", "MLP_HOME": str(tmp_path / "no-platform")}  # no backend, no token
    # `mlp audit verify ...` (the console script's main), then which top-level modules it needed: no platform's
    code = ("import sys; from jupyter_mlp.cli import main; rc = main(sys.argv[1:]); "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules}))); sys.exit(rc)")
    p = subprocess.run([sys.executable, "-c", code, "audit", "verify", "--from", str(good), "--public-key", str(keys)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0 and "Audit export verified" in p.stdout, p.stdout + p.stderr
    loaded = set(p.stdout.splitlines()[-1].split())
    assert "cryptography" in loaded
    assert not loaded & {"jupyter_mlp_backend", "sqlalchemy", "fastapi", "mlflow", "pyarrow", "pandas"}, loaded
    _write(good, [_lines(good)[0], _lines(good)[0]] + _lines(good)[2:])
    from jupyter_mlp.cli import main  # the refusal in this process: one interpreter start is enough

    assert main(["--json", "audit", "verify", "--from", str(good), "--public-key", str(keys)]) == 1
    assert json.loads(capsys.readouterr().out)["first_bad_entry"] == 2


def test_export_to_an_s3_bucket(mlp_home, s3, tmp_path, monkeypatch):  # noqa: F811
    endpoint, client = s3
    monkeypatch.setenv("MLP_S3_ENDPOINT_URL", endpoint)  # the platform's S3 settings, as the CLI reads them
    app, settings = _api(mlp_home, f"sqlite:///{mlp_home / 'mlp.db'}", s3_endpoint_url=endpoint,
                         audit_checkpoint_minutes=0)
    with app:
        api = Api(app, settings)
        assert api.as_user("admin").post("/projects", json={"slug": "acme", "name": "Acme"}).status_code == 201
        r = api.as_user("admin").post("/audit/export", json={"to": f"s3://{BUCKET}/audit/2026-12"})
        assert r.status_code == 200, r.text
        out = r.json()
        keys = _keys_file(api, tmp_path)
    listed = {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix="audit/2026-12/")["Contents"]}
    assert listed == {f"audit/2026-12/{f}" for f in ("entries.jsonl", "checkpoints.jsonl", "public-keys.json",
                                                     "manifest.json")}
    from jupyter_mlp.cli import main

    assert main(["audit", "verify", "--from", f"s3://{BUCKET}/audit/2026-12", "--public-key", str(keys)]) == 0
    assert out["entries"] >= 2
