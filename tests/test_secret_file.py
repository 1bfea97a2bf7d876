"""One helper writes the platform's secret files (issue 20 item 3): `jupyter_mlp.secret_file.create_secret_file`.

The install secret (identity.py), the model-signing key (signing.py) and the at-rest master keys (at_rest.py) are
each created once, 0600, by whichever process comes first; a reader never sees one half written. Nothing else opens
a file with O_EXCL by hand.
"""

from __future__ import annotations

import re
import stat
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_created_once_private_and_whole(tmp_path):
    from jupyter_mlp.secret_file import create_secret_file

    path = tmp_path / "k.key"
    assert create_secret_file(path, b"first") is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_bytes() == b"first"
    assert create_secret_file(path, b"second") is False  # the first one stays
    assert path.read_bytes() == b"first"

    # many creators at once: one wins, every one of them (and any reader) sees its whole content
    racy = tmp_path / "racy.key"
    start, seen, wins = threading.Barrier(8), [], []

    def create(i: int) -> None:
        start.wait()
        wins.append(create_secret_file(racy, bytes([i]) * 100_000))
        seen.append(racy.read_bytes())

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1 and len(set(seen)) == 1 and len(seen[0]) == 100_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.key", "racy.key"]  # no temporary file left


def test_the_secret_files_use_it(tmp_path):
    from jupyter_mlp import at_rest, identity, signing

    secret = identity.ensure_secret(tmp_path / "secret.key")
    assert identity.ensure_secret(tmp_path / "secret.key") == secret
    signing.FileSigner(tmp_path)
    kid = at_rest.FileMasterKey(tmp_path).current()
    for p in (tmp_path / "secret.key", tmp_path / "keys" / "model-signing.key",
              tmp_path / "keys" / "at-rest" / f"{kid}.key"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    excl = re.compile(r"O_EXCL")
    bad = [str(p.relative_to(ROOT)) for folder in ("jupyter_mlp", "backend/jupyter_mlp_backend",
                                                  "server_ext/jupyter_mlp_server")
           for p in sorted((ROOT / folder).rglob("*.py"))
           if p.name != "secret_file.py" and excl.search(p.read_text())]
    assert not bad, f"create secret files with jupyter_mlp.secret_file.create_secret_file: {bad}"
