"""The append-only, hash-chained audit log.

Each entry's hash is sha256 over its own fields and the previous entry's hash; `audit_head` records the newest
entry in the same transaction, so an edited, deleted, reordered, inserted or cut-off entry breaks the chain at
a place `verify` can name.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jupyter_mlp.auditlog import GENESIS, canonical, checkpoint_statement, entry_hash

from .orm import AuditCheckpoint, AuditEntry, AuditHead

__all__ = ["GENESIS", "CHECKPOINTER", "Checkpointer", "append", "checkpoint", "entry_hash", "verify"]
CHECKPOINTER = "audit_checkpointer"  # the Session.info key of the app's Checkpointer (Database.share)
# Appends are ordered by the head row: locked FOR UPDATE on PostgreSQL; on SQLite every transaction begins
# IMMEDIATE (see db.py), so writers queue at BEGIN. The unique hash and seq forbid a fork either way.


def _hash_of(e: AuditEntry) -> str:
    return entry_hash(
        seq=e.seq,
        ts=e.ts,
        actor=e.actor,
        action=e.action,
        project=e.project,
        target=e.target,
        decision=e.decision,
        detail=e.detail,
        prev_hash=e.prev_hash,
    )


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    decision: str,
    project: str | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry to the session's transaction: it is committed with the change it records, or not at all."""
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one()
    entry = AuditEntry(
        seq=head.seq + 1,
        ts=datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        actor=actor,
        action=action,
        project=project,
        target=target,
        decision=decision,
        detail=json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), default=str),
        prev_hash=head.hash,
    )
    entry.hash = _hash_of(entry)
    session.add(entry)
    head.seq, head.hash = entry.seq, entry.hash
    cp = session.info.get(CHECKPOINTER)
    if cp is not None and head.seq - head.checkpoint_seq >= cp.every:
        _sign(session, head, cp.signer())  # every N entries, in the transaction of the entry that reaches N
    session.flush()
    return entry


@dataclass
class Checkpointer:
    """What `append` needs to sign checkpoints by count: the app's signer and N (`audit_checkpoint_entries`)."""

    signer: Callable[[], Any]  # the app's jupyter_mlp.signing.Signer, made on first use
    every: int


def _sign(session: Session, head: AuditHead, signer: Any) -> AuditCheckpoint:
    ts = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    st = checkpoint_statement(entries=head.seq, head=head.hash, ts=ts, key_id=signer.key_id)
    cp = AuditCheckpoint(entries=head.seq, head=head.hash, ts=ts, key_id=signer.key_id,
                         signature=base64.b64encode(signer.sign(canonical(st))).decode())
    session.add(cp)
    head.checkpoint_seq = head.seq
    return cp


def checkpoint(session: Session, signer: Any) -> AuditCheckpoint | None:
    """Sign a checkpoint at the current head unless one is there already (the timer, an export); the newest
    checkpoint. None while the log is empty. The caller commits."""
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one()
    if head.seq == 0:
        return None
    if head.checkpoint_seq == head.seq:
        return session.get(AuditCheckpoint, head.seq)
    cp = _sign(session, head, signer)
    session.flush()
    return cp


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    reason: str | None = None


def verify(session: Session, batch: int = 5000) -> VerifyResult:
    """Recompute the chain from the first entry; name the first entry that does not hold."""
    expected_seq, prev, count, last_seq = 1, GENESIS, 0, 0
    after = 0
    while True:
        rows = session.execute(
            select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(batch)
        ).scalars().all()
        if not rows:
            break
        for e in rows:
            count += 1
            if e.seq != expected_seq:
                what = "missing (deleted)" if e.seq > expected_seq else "out of order"
                return VerifyResult(False, count, expected_seq, f"entry {expected_seq} is {what}; found {e.seq} next")
            if e.prev_hash != prev:
                return VerifyResult(
                    False, count, e.seq,
                    f"entry {e.seq} does not follow entry {e.seq - 1} (reordered, inserted or replaced)",
                )
            if _hash_of(e) != e.hash:
                return VerifyResult(False, count, e.seq, f"entry {e.seq} was edited: its content does not match its hash")
            prev, expected_seq, last_seq = e.hash, expected_seq + 1, e.seq
        after = rows[-1].seq
        session.expunge_all()
    head = session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != last_seq or head_hash != prev:
        if head_seq > last_seq:
            return VerifyResult(False, count, last_seq + 1, f"log truncated: entries {last_seq + 1}..{head_seq} are gone")
        return VerifyResult(False, count, head_seq + 1 if head_seq < last_seq else last_seq,
                            f"entries after {head_seq} were appended outside the platform or the head was edited")
    return VerifyResult(True, count)
