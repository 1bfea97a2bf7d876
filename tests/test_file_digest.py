"""One file-digest helper (issue 12 item 5): `jupyter_mlp.digest.file_digest`, on `hashlib.file_digest`.

The dataset helper (a plain file a run read), the model manifests (each file of a model) and the pipeline runs (a
version's frozen environment) hash files the same way; nothing reads a file in chunks to hash it by hand.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_digest_is_the_sha256_of_the_content(tmp_path):
    from jupyter_mlp.digest import file_digest

    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 9000)  # over one read's worth
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert file_digest(big) == hashlib.sha256(big.read_bytes()).hexdigest()
    assert file_digest(str(empty)) == hashlib.sha256(b"").hexdigest()


def test_the_dataset_helper_and_the_manifests_use_it():
    from jupyter_mlp import datasets, digest, signing

    assert signing.file_digest is digest.file_digest
    assert datasets.file_digest is digest.file_digest


def test_no_module_hashes_a_file_by_hand():
    """A file read in chunks into a hash, or read whole into one: use jupyter_mlp.digest.file_digest."""
    chunked = re.compile(r"iter\(lambda: \w+\.read\(")
    whole = re.compile(r"sha256\([^\n]*\.read_bytes\(\)\)")
    bad = []
    for folder in ("jupyter_mlp", "backend/jupyter_mlp_backend", "server_ext/jupyter_mlp_server"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text()
            bad += [f"{path.relative_to(ROOT)}: {m.group(0)}" for rx in (chunked, whole) for m in rx.finditer(text)]
    assert not bad, "\n".join(bad)
