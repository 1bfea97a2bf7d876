"""Encryption at rest per project (docs/security.md#encryption-at-rest): the service behind `/api/.../encryption`
and `mlp security`, and the keyring the writers and readers of project files under MLP_HOME use.

Off by default: a platform admin turns it on per project, which makes the project's data key (32 random bytes),
wraps it with the master key (`at_rest_master_key` setting: a file under MLP_HOME, or a KMS plug-in) and keeps only
the wrapped copy, in `project_data_keys`. Files the platform writes for the project from then on are sealed
(jupyter_mlp/at_rest.py); readers open sealed and plain files alike. Rotating the master key re-wraps every data key
(no file is rewritten); destroying a project's data key — explicitly, or by deleting the project's row, which
cascades — leaves its sealed files undecryptable (crypto-shredding).
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jupyter_mlp import at_rest
from jupyter_mlp.at_rest import (AtRestError, DataKey, Sealer, SealingWriter, iter_file, open_random, read_file, source,
                                  verify_file, write_file)

from . import audit
from .access import Action, require, require_platform_admin
from .deps import DB, Caller
from .errors import Invalid, NotFound
from .orm import Project, ProjectColumnKey, ProjectDataKey, utcnow

KEYRING = "at_rest_keyring"  # the Session.info key of the app's Keyring (Database.share): column secrets unwrap


def _column_context(project_id: int) -> bytes:
    """What a wrapped column-policy secret is bound to: its project (a row copied to another does not unwrap)."""
    return f"jupyter-mlp/at-rest/column-secret/1:project={project_id}".encode()


def _context(project_id: int, key_id_hex: str) -> bytes:
    """What a wrapped data key is bound to: a row copied to another project does not unwrap."""
    return f"jupyter-mlp/at-rest/data-key/1:project={project_id}:key={key_id_hex}".encode()


class Keyring:
    """Unwrapped data keys, cached per backend (a rotation changes only their wrapping; a shred drops them)."""

    def __init__(self, app: Any):
        self.app = app
        self._master: at_rest.MasterKey | None = None
        self._keys: dict[bytes, tuple[int, bytes]] = {}  # key id -> (project id, key)
        self._column: dict[tuple[int, bytes], bytes] = {}  # (project id, wrapped secret) -> column-policy secret
        self._lock = threading.Lock()

    def master(self) -> at_rest.MasterKey:
        if self._master is None:
            s = self.app.state.settings
            self._master = at_rest.make_master_key(s.home, s.at_rest_master_key)
        return self._master

    def _row_key(self, row: ProjectDataKey) -> bytes:
        return self.master().unwrap(row.master_key_id, row.wrapped, _context(row.project_id, row.key_id))

    def _load(self, where, session=None) -> tuple[int, bytes, bytes, bool] | None:  # noqa: ANN001
        """(project id, key id, key, enabled) of the row matching `where`; read in `session` when given (a
        request's own: a second session would wait on its open transaction under SQLite)."""
        if session is None:
            with self.app.state.db.session() as s:
                return self._load(where, s)
        row = session.execute(select(ProjectDataKey).where(where)).scalar_one_or_none()
        if row is None:
            return None
        kid = bytes.fromhex(row.key_id)
        with self._lock:
            hit = self._keys.get(kid)
        key = hit[1] if hit else self._row_key(row)
        with self._lock:
            self._keys[kid] = (row.project_id, key)
        return row.project_id, kid, key, row.enabled

    def current(self, project_id: int, session=None) -> tuple[DataKey | None, bool]:  # noqa: ANN001
        """(the project's data key or None, whether new files are sealed with it)."""
        got = self._load(ProjectDataKey.project_id == project_id, session)
        return (DataKey(got[1], got[2]), got[3]) if got else (None, False)

    def writer(self, project_id: int, session=None) -> DataKey | None:  # noqa: ANN001
        """The data key new files of the project are sealed with; None while encryption is off for it."""
        got = self._load(ProjectDataKey.project_id == project_id, session)
        return DataKey(got[1], got[2]) if got and got[3] else None

    def reader(self, project_id: int, session=None, fresh: bool = False) -> at_rest.Lookup:  # noqa: ANN001
        """A lookup for the project's files: its own data key only (another project's or a destroyed one: None).
        `fresh`: the key's row is read again at every lookup, for a process a shred in the backend does not reach
        (MLflow's sealed artifact store): a destroyed key stops opening files there at once too."""
        def lookup(key_id: bytes) -> bytes | None:
            with self._lock:
                hit = None if fresh else self._keys.get(key_id)
            if hit is None:
                got = self._load(ProjectDataKey.key_id == key_id.hex(), session)
                hit = (got[0], got[2]) if got else None
            return hit[1] if hit and hit[0] == project_id else None
        return lookup

    def forget(self, key_id_hex: str) -> None:
        with self._lock:
            self._keys.pop(bytes.fromhex(key_id_hex), None)

    def column_secret(self, session: Session, project_id: int) -> bytes:
        """The project's secret for `hash` column policies (datasets/policy.py), made on first use and stored
        wrapped by the master key only (a concurrent first use keeps the one committed first). A row that holds it
        in the clear (written before migration 0018) reads as that secret and is wrapped now, in `session`'s
        transaction."""
        ctx = _column_context(project_id)
        row = session.get(ProjectColumnKey, project_id)
        if row is None:
            mk, wrapped = self.master().wrap(secrets.token_bytes(32), ctx)
            try:
                with session.begin_nested():
                    session.add(ProjectColumnKey(project_id=project_id, master_key_id=mk, wrapped=wrapped))
            except IntegrityError:
                pass
            row = session.get(ProjectColumnKey, project_id)
        if row.wrapped is None:  # an earlier release's row: the secret in the clear
            key = bytes.fromhex(row.secret)
            row.master_key_id, row.wrapped = self.master().wrap(key, ctx)
            row.secret = None
            session.flush()
            return key
        with self._lock:
            hit = self._column.get((project_id, row.wrapped))
        if hit is None:
            hit = self.master().unwrap(row.master_key_id, row.wrapped, ctx)
            with self._lock:
                self._column[(project_id, row.wrapped)] = hit
        return hit


def column_secret(session: Session, project_id: int) -> bytes:
    """The project's column-policy secret through the app's keyring, which its sessions carry (`KEYRING`)."""
    ring = session.info.get(KEYRING)
    if ring is None:
        raise RuntimeError("this session has no at-rest keyring (Database.share(KEYRING, ...)): the column-policy "
                           "secret cannot be unwrapped")
    return ring.column_secret(session, project_id)


def iceberg_keys(app: Any):  # noqa: ANN201
    """The dataset catalog's hook (datasets/sealed_io.py): an Iceberg namespace (`p_<slug>`, '-' as '_') -> (the
    data key its new data files are sealed with, or None; the lookup its sealed files are opened with)."""
    def keys(namespace: str) -> tuple[DataKey | None, at_rest.Lookup]:
        # Slugs have no '_' (SLUG_PATTERN), so the namespace maps back to one slug: a lookup on its unique index
        slug = namespace.removeprefix("p_").replace("_", "-")
        with app.state.db.session() as s:
            pid = s.execute(select(Project.id).where(Project.slug == slug)).scalar_one_or_none()
            if pid is None:
                return None, lambda _key_id: None
            ring = keyring(app)
            return ring.writer(pid, s), ring.reader(pid)
    return keys


def standalone_keys(home: Any, database_url: str, master_spec: str | None):  # noqa: ANN201
    """`iceberg_keys` for a process of the platform's own outside the backend (the prediction log's committer):
    its own connection to the platform database and the master key."""
    from types import SimpleNamespace

    from .db import Database

    settings = SimpleNamespace(home=home, at_rest_master_key=master_spec)
    return iceberg_keys(SimpleNamespace(state=SimpleNamespace(settings=settings, db=Database(database_url),
                                                              at_rest=None)))


def keyring(app: Any) -> Keyring:
    if getattr(app.state, "at_rest", None) is None:
        app.state.at_rest = Keyring(app)
    return app.state.at_rest


def project_id(app: Any, slug: str, session=None) -> int:  # noqa: ANN001
    if session is None:
        with app.state.db.session() as s:
            return project_id(app, slug, s)
    return session.execute(select(Project.id).where(Project.slug == slug)).scalar_one()


# --- the API's service -----------------------------------------------------------------------------------------

def _out(p: Project, row: ProjectDataKey | None) -> dict[str, Any]:
    return {"project": p.slug, "enabled": bool(row and row.enabled), "key_id": row.key_id if row else None,
            "master_key_id": row.master_key_id if row else None,
            "created_at": row.created_at if row else None, "rewrapped_at": row.rewrapped_at if row else None}


def _row(db: DB, p: Project) -> ProjectDataKey | None:
    return db.get(ProjectDataKey, p.id)


def status(db: DB, who: Caller, slug: str) -> dict[str, Any]:
    grant = require(db, who, slug, Action.read_project)
    out = _out(grant.project, _row(db, grant.project))
    db.commit()
    return out


def set_enabled(app: Any, db: DB, who: Caller, slug: str, enabled: bool) -> dict[str, Any]:
    """Turn encryption at rest on (making the data key on first use) or off (new files plain; sealed ones stay
    readable while the key lives). Platform admins only."""
    require_platform_admin(db, who, "encryption.set", target=slug)
    p = db.execute(select(Project).where(Project.slug == slug)).scalar_one_or_none()
    if p is None:
        db.commit()
        raise NotFound(f"Project '{slug}' not found")
    row = _row(db, p)
    if row is None and enabled:
        dk = DataKey.generate()
        mk, wrapped = keyring(app).master().wrap(dk.key, _context(p.id, dk.id.hex()))
        row = ProjectDataKey(project_id=p.id, key_id=dk.id.hex(), master_key_id=mk, wrapped=wrapped,
                             enabled=True, updated_by=who.user)
        db.add(row)
    elif row is not None:
        row.enabled, row.updated_by = enabled, who.user
    db.flush()
    audit.append(db, actor=who.user, action="encryption.set", decision="allow", project=slug,
                 detail={"enabled": enabled, "key_id": row.key_id if row else None})
    db.commit()
    return _out(p, row)


def shred(app: Any, db: DB, who: Caller, slug: str, confirm: str | None) -> dict[str, Any]:
    """Destroy the project's data key: every file sealed with it becomes undecryptable (crypto-shredding)."""
    require_platform_admin(db, who, "encryption.shred", target=slug)
    if confirm != slug:
        db.commit()
        raise Invalid(f"Destroying project '{slug}''s data key makes its encrypted files unreadable for good: "
                      f"send confirm={slug} to do it", detail=[{"field": "confirm"}])
    p = db.execute(select(Project).where(Project.slug == slug)).scalar_one_or_none()
    row = _row(db, p) if p is not None else None
    if row is None:
        db.commit()
        raise NotFound(f"Project '{slug}' has no data key")
    kid = row.key_id
    db.delete(row)
    audit.append(db, actor=who.user, action="encryption.shred", decision="allow", project=slug,
                 detail={"key_id": kid})
    db.commit()
    keyring(app).forget(kid)
    return _out(p, None)


def rotate_master(app: Any, db: DB, who: Caller) -> dict[str, Any]:
    """A new master key; every data key re-wrapped with it in one transaction; then the old master keys retired.
    No file is rewritten: files carry the data key's id, which does not change."""
    require_platform_admin(db, who, "encryption.rotate_master_key")
    master = keyring(app).master()
    before = master.current()
    new = master.rotate()
    rows = db.execute(select(ProjectDataKey)).scalars().all()
    old = {before}
    for row in rows:
        ctx = _context(row.project_id, row.key_id)
        key = master.unwrap(row.master_key_id, row.wrapped, ctx)
        old.add(row.master_key_id)
        row.master_key_id, row.wrapped = master.wrap(key, ctx)
        row.rewrapped_at = utcnow()
    columns = db.execute(select(ProjectColumnKey)).scalars().all()
    for c in columns:  # column-policy secrets: re-wrapped, or wrapped for the first time (a row in the clear)
        ctx = _column_context(c.project_id)
        if c.wrapped is None:
            secret = bytes.fromhex(c.secret)
        else:
            secret = master.unwrap(c.master_key_id, c.wrapped, ctx)
            old.add(c.master_key_id)
        c.master_key_id, c.wrapped, c.secret = *master.wrap(secret, ctx), None
    audit.append(db, actor=who.user, action="encryption.rotate_master_key", decision="allow",
                 detail={"master_key_id": new, "rewrapped": len(rows), "column_secrets": len(columns)})
    db.commit()
    retired = sorted(k for k in old if k != new)
    for k in retired:  # only once nothing is wrapped by them any more
        master.retire(k)
    return {"master_key_id": new, "rewrapped": len(rows), "column_secrets": len(columns), "retired": retired}


__all__ = ["AtRestError", "DataKey", "KEYRING", "Keyring", "Sealer", "SealingWriter", "column_secret", "iter_file",
           "open_random", "read_file", "source", "verify_file", "write_file", "iceberg_keys", "keyring", "project_id",
           "rotate_master", "set_enabled", "shred", "status"]
