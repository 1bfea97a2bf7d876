"""API keys for client systems: created (the key shown once, kept only as a hash), listed, revoked; and the
gateway's lookup of a key by its prefix."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import func, select

from .. import audit
from ..access import Action, require
from ..deps import DB, Caller
from ..errors import NotFound
from ..orm import ApiKey, Deployment, Project, utcnow
from .gateway import KeyInfo
from .schemas import KeyOut, KeyPage, NewKeyOut
from .service import find_deployment, iso


def _key_out(db: DB, k: ApiKey, cls=KeyOut, **extra):  # noqa: ANN001, ANN003, ANN202
    dep = db.get(Deployment, k.deployment_id).name if k.deployment_id else None
    return cls(name=k.name, prefix=k.prefix, deployment=dep, rate_per_s=k.rate_per_s, created_by=k.created_by,
               created_at=iso(k.created_at), revoked_at=iso(k.revoked_at), **extra)


def create_key(db: DB, who: Caller, slug: str, name: str, deployment: str | None,
               rate_per_s: float | None) -> NewKeyOut:
    g = require(db, who, slug, Action.manage_keys, target=name)
    dep_id = find_deployment(db, g.project.id, deployment).id if deployment else None
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    k = ApiKey(project_id=g.project.id, deployment_id=dep_id, name=name, prefix=prefix,
               secret_sha256=hashlib.sha256(secret.encode()).hexdigest(), rate_per_s=rate_per_s,
               created_by=who.user)
    db.add(k)
    db.flush()
    audit.append(db, actor=who.user, action="apikey.create", decision="allow", project=slug, target=prefix,
                 detail={"name": name, "deployment": deployment, "rate_per_s": rate_per_s})
    db.commit()
    return _key_out(db, k, NewKeyOut, key=f"mlpk_{prefix}_{secret}")


def list_keys(db: DB, who: Caller, slug: str, limit: int, offset: int) -> KeyPage:
    g = require(db, who, slug, Action.read_serving)
    q = select(ApiKey).where(ApiKey.project_id == g.project.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(ApiKey.id.desc()).limit(limit).offset(offset)).scalars().all()
    out = [_key_out(db, k) for k in rows]
    db.commit()
    return KeyPage(items=out, total=total)


def revoke_key(app, db: DB, who: Caller, slug: str, prefix: str) -> KeyOut:  # noqa: ANN001
    """Revoke a key (its next request gets 401; the gateway forgets its cached copy)."""
    g = require(db, who, slug, Action.manage_keys, target=prefix)
    k = db.execute(select(ApiKey).where(ApiKey.project_id == g.project.id, ApiKey.prefix == prefix)
                   ).scalar_one_or_none()
    if k is None:
        db.commit()
        raise NotFound(f"API key '{prefix}' not found")
    if k.revoked_at is None:
        k.revoked_at, k.revoked_by = utcnow(), who.user
        audit.append(db, actor=who.user, action="apikey.revoke", decision="allow", project=slug, target=prefix,
                     detail={"name": k.name})
    db.commit()
    app.state.gateway.forget_key(prefix)
    return _key_out(db, k)


def key_lookup(app):  # noqa: ANN001, ANN201
    """prefix -> KeyInfo, read from the database (the gateway caches it)."""

    def lookup(prefix: str) -> KeyInfo | None:
        with app.state.db.session() as s:
            row = s.execute(select(ApiKey, Project.slug).join(Project, ApiKey.project_id == Project.id)
                            .where(ApiKey.prefix == prefix)).one_or_none()
            if row is None:
                return None
            k, slug = row
            return KeyInfo(id=k.id, prefix=k.prefix, secret_sha256=k.secret_sha256, project_id=k.project_id,
                           project=slug, deployment_id=k.deployment_id, rate_per_s=k.rate_per_s,
                           revoked=k.revoked_at is not None)

    return lookup
