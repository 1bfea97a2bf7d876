"""The audit log's exported form, its signed checkpoints, and their offline verification (docs/security.md).

The backend's audit log is a hash chain: entry `seq` hashes its own fields and entry `seq - 1`'s hash. Every N
entries or M minutes, and at every export, the backend signs a *checkpoint* — the entry count and the head hash,
with a timestamp — with the platform's ed25519 signer, like a transparency log's signed tree head. An export is a
folder (or `s3://bucket/prefix`) holding:

- `entries.jsonl`: entry `i` on line `i`, one JSON object per line with the fields `seq, ts, actor, action,
  project, target, decision, detail, prev_hash, hash`;
- `checkpoints.jsonl`: one signed checkpoint per line, oldest first: `{format, entries, head, ts, key_id,
  signature}`; the signature (base64) is over the canonical JSON (sorted keys, no spaces) of every other field;
- `public-keys.json`: `{format, keys: {key_id: base64 raw ed25519 public key}}`, the platform's signing keys;
- `manifest.json`: `{format, exported_at, entries, head, checkpoints}` (not signed: the checkpoints are).

`verify_export` needs none of the platform: only this module and `cryptography`. Only the standard library is
imported at module load.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
CHECKPOINT_FORMAT = "jupyter-mlp/audit-checkpoint/1"
EXPORT_FORMAT = "jupyter-mlp/audit-export/1"
KEYS_FORMAT = "jupyter-mlp/public-keys/1"
ENTRIES, CHECKPOINTS, KEYS, MANIFEST = "entries.jsonl", "checkpoints.jsonl", "public-keys.json", "manifest.json"
ENTRY_FIELDS = ("seq", "ts", "actor", "action", "project", "target", "decision", "detail", "prev_hash", "hash")


def entry_hash(*, seq: int, ts: str, actor: str, action: str, project: str | None, target: str | None,
               decision: str, detail: str, prev_hash: str) -> str:
    """sha256 over the entry's fields and the previous entry's hash (the chain's one definition)."""
    canonical = json.dumps([seq, ts, actor, action, project, target, decision, detail, prev_hash],
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def canonical(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def checkpoint_statement(*, entries: int, head: str, ts: str, key_id: str) -> dict[str, Any]:
    """What a checkpoint signs. `format` keeps a checkpoint's signature from passing for a model manifest's."""
    return {"format": CHECKPOINT_FORMAT, "entries": entries, "head": head, "ts": ts, "key_id": key_id}


def s3_filesystem(endpoint: str | None) -> Any:
    """pyarrow's S3 client on the platform's S3 settings (`s3_endpoint_url`; AWS_* credentials and region)."""
    import os
    from urllib.parse import urlparse

    import pyarrow.fs as pafs

    kw: dict[str, Any] = {}
    if endpoint:
        u = urlparse(endpoint)
        kw.update(endpoint_override=u.netloc or u.path, scheme=u.scheme or "https")
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
    if region or endpoint:
        kw["region"] = region or "us-east-1"
    return pafs.S3FileSystem(**kw)


def download(src: str, dest: Path, endpoint: str | None) -> Path:
    """Copy an export at `s3://bucket/prefix` into the folder `dest` (to verify it like any folder)."""
    base = src[len("s3://"):].rstrip("/")
    fs = s3_filesystem(endpoint)
    dest.mkdir(parents=True, exist_ok=True)
    for name in (MANIFEST, KEYS, CHECKPOINTS, ENTRIES):
        try:
            with fs.open_input_stream(f"{base}/{name}") as f, open(dest / name, "wb") as out:
                while chunk := f.read(1 << 20):
                    out.write(chunk)
        except FileNotFoundError:
            pass  # verify names what is missing
    return dest


def write_folder(to: Path, lines: Iterator[bytes]) -> dict[str, Any]:
    """Write the backend's export stream (`POST /api/audit/export/download`: line 1 `{manifest, public_keys,
    checkpoints}`, then entries.jsonl's lines) into a new or empty folder; the manifest last. A summary."""
    folder = Path(to).resolve()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise RuntimeError(f"'{to}' exists and is not an empty folder: an export never overwrites")
    lines = iter(lines)
    head = json.loads(next(lines))
    m = head["manifest"]
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(folder / ENTRIES, "wb") as out:
        for line in lines:
            out.write(line)
            n += 1
    if n != m["entries"]:
        raise RuntimeError(f"the export stream ended after {n} of {m['entries']} entries; {folder} is incomplete")
    (folder / CHECKPOINTS).write_text("".join(json.dumps(c, separators=(",", ":")) + "\n" for c in head["checkpoints"]))
    (folder / KEYS).write_text(json.dumps(head["public_keys"], indent=2) + "\n")
    (folder / MANIFEST).write_text(json.dumps(m, indent=2) + "\n")
    return {"to": str(folder), "entries": m["entries"], "head": m["head"], "checkpoints": len(head["checkpoints"]),
            "key_id": head["checkpoints"][-1]["key_id"]}


def entry_line(entry: dict[str, Any]) -> str:
    return json.dumps({f: entry[f] for f in ENTRY_FIELDS}, separators=(",", ":"), ensure_ascii=False) + "\n"


def keys_document(keys: dict[str, bytes]) -> dict[str, Any]:
    return {"format": KEYS_FORMAT, "keys": {k: base64.b64encode(v).decode() for k, v in sorted(keys.items())}}


def load_public_keys(path: Path) -> dict[str, bytes]:
    """key id -> raw public key from `public-keys.json` (`mlp audit public-key`'s output) or a bare base64 key
    (`$MLP_HOME/keys/model-signing.pub`)."""
    from .signing import key_id

    text = path.read_text().strip()
    if text.startswith("{"):
        doc = json.loads(text)
        return {k: base64.b64decode(v) for k, v in doc.get("keys", {}).items()}
    raw = base64.b64decode(text)
    return {key_id(raw): raw}


@dataclass
class Problem:
    entry: int  # the first entry that is not vouched for (1-based; equal to its line in entries.jsonl)
    reason: str


@dataclass
class Report:
    ok: bool = True
    entries: int = 0
    checkpoints: int = 0
    signed_entries: int = 0  # entries covered by the newest valid checkpoint
    problem: Problem | None = None
    notes: list[str] = field(default_factory=list)

    def fail(self, entry: int, reason: str) -> Report:
        self.ok, self.problem = False, Problem(entry, reason)
        return self


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        for n, line in enumerate(f, 1):
            yield n, line


def _check_signature(cp: dict[str, Any], keys: dict[str, bytes]) -> str | None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    raw = keys.get(str(cp.get("key_id")))
    if raw is None:
        return f"it is signed by key {cp.get('key_id')!r}, which is not the platform's public key"
    body = {k: v for k, v in cp.items() if k != "signature"}
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(base64.b64decode(str(cp.get("signature"))), canonical(body))
    except (InvalidSignature, ValueError):
        return "its signature does not verify (the checkpoint was altered or signed by another key)"
    return None


def _read_checkpoints(folder: Path, keys: dict[str, bytes], report: Report) -> list[dict[str, Any]] | None:
    """The export's checkpoints, each signature checked, oldest first; None (report failed) when one is bad."""
    path = folder / CHECKPOINTS
    if not path.exists():
        report.fail(1, f"{CHECKPOINTS} is missing: nothing in the export is signed")
        return None
    out: list[dict[str, Any]] = []
    for n, line in _lines(path):
        vouched = out[-1]["entries"] + 1 if out else 1
        try:
            cp = json.loads(line)
            entries, head = int(cp["entries"]), str(cp["head"])
        except (ValueError, KeyError, TypeError):
            report.fail(vouched, f"checkpoint {n} (line {n} of {CHECKPOINTS}) is not a complete checkpoint "
                                 "(file cut off or edited)")
            return None
        if cp.get("format") != CHECKPOINT_FORMAT:
            report.fail(vouched, f"checkpoint {n} has unknown format {cp.get('format')!r}")
            return None
        bad = _check_signature(cp, keys)
        if bad:
            report.fail(vouched, f"checkpoint {n} (entries 1..{entries}) is refused: {bad}; entries from "
                                 f"{vouched} on are not vouched for")
            return None
        if out and entries <= out[-1]["entries"]:
            report.fail(vouched, f"checkpoint {n} covers {entries} entries, no more than checkpoint {n - 1}'s "
                                 f"{out[-1]['entries']}: checkpoints reordered or the log was rolled back")
            return None
        out.append({**cp, "entries": entries, "head": head, "n": n})
    return out


def verify_export(folder: Path, public_keys: dict[str, bytes] | None = None,
                  expect: Iterable[dict[str, Any]] = ()) -> Report:
    """Recompute the chain of an exported log and check it against its signed checkpoints.

    `public_keys`: the platform's published keys (`mlp audit public-key`); without them the export's own
    `public-keys.json` is used, which shows that the copy is intact but not that the platform signed it.
    `expect`: checkpoints obtained elsewhere (published, kept by the auditor): the export must reach and match
    each of them, which is what detects a tail cut off together with its checkpoints.
    """
    report = Report()
    folder = Path(folder)
    if public_keys is None:
        if not (folder / KEYS).exists():
            return report.fail(1, f"{KEYS} is missing and no --public-key was given")
        public_keys = load_public_keys(folder / KEYS)
        report.notes.append("checked against the public key inside the export; pass --public-key with the key "
                            "the platform publishes to know that the platform signed it")
    expected = []
    for cp in expect:
        bad = _check_signature(cp, public_keys)
        if bad:
            return report.fail(1, f"the checkpoint given to compare with (entries 1..{cp.get('entries')}) is "
                                  f"refused: {bad}")
        expected.append({**cp, "n": "given"})
    checkpoints = _read_checkpoints(folder, public_keys, report)
    if checkpoints is None:
        return report
    report.checkpoints = len(checkpoints)
    at = {cp["entries"]: cp for cp in checkpoints}
    for cp in expected:
        at.setdefault(int(cp["entries"]), {**cp, "entries": int(cp["entries"])})
        if at[int(cp["entries"])]["head"] != cp["head"]:
            return report.fail(1, f"the export's checkpoint at {cp['entries']} entries differs from the one "
                                  "given: the log was rewritten")
    path = folder / ENTRIES
    if not path.exists():
        return report.fail(1, f"{ENTRIES} is missing")
    prev, last_signed, n = GENESIS, 0, 0
    for n, line in _lines(path):
        try:
            if not line.endswith("\n"):
                raise ValueError("no newline")
            e = json.loads(line)
            fields = {f: e[f] for f in ENTRY_FIELDS}
        except (ValueError, KeyError, TypeError):
            return report.fail(n, f"entry {n} (line {n} of {ENTRIES}) is not a complete entry (file cut off "
                                  "or edited)")
        if fields["seq"] != n:
            return report.fail(n, f"line {n} of {ENTRIES} holds entry {fields['seq']}, not entry {n}: entries "
                                  "reordered, removed or inserted")
        if fields["prev_hash"] != prev:
            return report.fail(n, f"entry {n} does not follow entry {n - 1} (reordered, inserted or replaced)")
        try:
            mine = entry_hash(**{f: fields[f] for f in ENTRY_FIELDS if f != "hash"})
        except TypeError:
            mine = None
        if mine != fields["hash"]:
            return report.fail(n, f"entry {n} was edited: its content does not match its hash")
        prev = fields["hash"]
        cp = at.get(n)
        if cp is not None:
            if cp["head"] != prev:
                return report.fail(last_signed + 1, f"entries {last_signed + 1}..{n} do not match the head "
                                   f"signed by checkpoint {cp['n']}: they were rewritten (chain recomputed)")
            last_signed = n
    report.entries, report.signed_entries = n, last_signed
    beyond = [cp for cp in at.values() if cp["entries"] > n]
    if beyond:
        cp = min(beyond, key=lambda c: c["entries"])
        return report.fail(n + 1, f"the export is truncated: checkpoint {cp['n']} covers {cp['entries']} entries, "
                                  f"{ENTRIES} ends at entry {n}; entries {n + 1}..{cp['entries']} are missing")
    manifest = folder / MANIFEST
    if manifest.exists():
        try:
            m = json.loads(manifest.read_text())
            m_entries, m_head = int(m["entries"]), m.get("head")
        except (ValueError, KeyError, TypeError):
            return report.fail(n + 1, f"{MANIFEST} is not readable")
        if m_entries > n:
            return report.fail(n + 1, f"the export is truncated: {MANIFEST} lists {m_entries} entries, {ENTRIES} "
                                      f"ends at entry {n}")
        if m_entries < n:
            return report.fail(m_entries + 1, f"{ENTRIES} has entries after the {m_entries} {MANIFEST} lists "
                                              "(appended after the export)")
        if m_head and m_head != prev:
            return report.fail(last_signed + 1, f"entry {n}'s hash is not the head {MANIFEST} lists")
    else:
        report.notes.append(f"{MANIFEST} is missing: the count of entries could not be compared")
    if last_signed < n:
        report.notes.append(f"entries {last_signed + 1}..{n} come after the last checkpoint: the chain holds, but "
                            "no signature vouches for them, and cutting them off (with the manifest edited) "
                            "could not be detected")
    return report
