"""The `mlp` CLI against a real backend it starts itself."""

from __future__ import annotations

import json
import sqlite3

import pytest

from jupyter_mlp.local_backend import find_running
from jupyter_mlp.settings import load_settings

# Runs no pipeline: the platform leaves Dagster for its first use (the default, Dagster started with the
# platform, is tests/pipelines/test_stage_start.py's).
pytestmark = pytest.mark.settings(dagster_start_with_platform=False)


def test_projects_and_members(mlp, capsys):
    out = mlp("projects", "create", "acme", "--name", "Acme credit risk").stdout
    assert "Created project acme" in out
    listed = mlp("projects", "list").stdout
    assert "acme" in listed and "Acme credit risk" in listed and "SLUG" in listed
    mlp("members", "add", "acme", "alice", "--role", "scientist")
    members = json.loads(mlp("--json", "members", "list", "acme").stdout)
    assert {(m["user"], m["role"]) for m in members["items"]} >= {("alice", "scientist")}
    mlp("members", "remove", "acme", "alice")
    members = json.loads(mlp("--json", "members", "list", "acme").stdout)
    assert "alice" not in {m["user"] for m in members["items"]}
    # issue 20 item 3: encryption at rest, by a platform admin (in this process: no interpreter start per verb)
    from jupyter_mlp.cli import main

    assert main(["security", "encryption", "acme"]) == 0
    assert "encryption at rest off (no data key)" in capsys.readouterr().out
    assert main(["security", "encryption", "acme", "--on"]) == 0
    assert "encryption at rest on (data key" in capsys.readouterr().out
    assert main(["security", "rotate-master-key"]) == 0
    assert "1 data key(s) re-wrapped, no file rewritten" in capsys.readouterr().out
    assert main(["security", "shred", "acme"]) == 2
    assert "send confirm=acme" in capsys.readouterr().err
    assert main(["security", "shred", "acme", "--confirm", "acme"]) == 0
    assert "Destroyed acme's data key" in capsys.readouterr().out


def test_errors_are_plain_words_and_nonzero(mlp):
    mlp("projects", "create", "acme")
    dup = mlp("projects", "create", "acme", check=False)
    assert dup.returncode == 2 and "already exists" in dup.stderr
    bad = mlp("projects", "create", "Not A Slug", check=False)
    assert bad.returncode == 2 and "slug" in bad.stderr
    missing = mlp("members", "add", "nope", "alice", check=False)
    assert missing.returncode == 2 and "not found" in missing.stderr


def test_audit_verify_names_the_first_bad_entry(mlp, mlp_home, tmp_path, capsys):
    mlp("projects", "create", "acme")
    mlp("members", "add", "acme", "alice")
    ok = mlp("audit", "verify")
    assert "intact" in ok.stdout
    # issue 20 item 4: an export (streamed into a folder here) verifies offline against the published key. In
    # this process (MLP_HOME is the test's; the backend is the one `mlp` started): no interpreter start per verb.
    from jupyter_mlp.cli import main

    keys = str(tmp_path / "keys.json")
    assert main(["audit", "public-key", "--out", keys]) == 0
    assert main(["audit", "export", "--to", str(tmp_path / "before")]) == 0
    assert main(["audit", "verify", "--from", str(tmp_path / "before"), "--public-key", keys]) == 0
    assert "Audit export verified" in capsys.readouterr().out
    with sqlite3.connect(mlp_home / "mlp.db") as db:
        db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    bad = mlp("audit", "verify", check=False)
    assert bad.returncode == 1
    assert "entry 2" in bad.stdout and "edited" in bad.stdout
    # the edit is refused in a later export too, and the earlier copy still verifies
    assert main(["audit", "export", "--to", str(tmp_path / "after")]) == 0
    assert main(["audit", "verify", "--from", str(tmp_path / "after"), "--public-key", keys]) == 1
    out = capsys.readouterr().out
    assert "REFUSED at entry 2" in out and "edited" in out
    assert main(["audit", "verify", "--from", str(tmp_path / "before"), "--public-key", keys]) == 0


def test_backend_started_by_the_cli_is_reused(mlp, mlp_home):
    mlp("projects", "list")
    first = find_running(load_settings())
    mlp("projects", "list")
    assert find_running(load_settings()) == first is not None
    mlp("down")
    assert find_running(load_settings()) is None
