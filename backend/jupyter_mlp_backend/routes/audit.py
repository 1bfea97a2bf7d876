"""Reading and verifying the audit log."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select

from .. import audit
from ..access import Action, require, require_platform_admin
from ..deps import DB, Caller, Paging
from ..orm import AuditEntry
from ..schemas import AuditEntryOut, AuditPage, AuditVerifyOut

router = APIRouter(tags=["audit"])


def _page(db: DB, page: Paging, project: str | None) -> AuditPage:
    q = select(AuditEntry)
    if project is not None:
        q = q.where(AuditEntry.project == project)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(AuditEntry.seq.desc()).limit(page.limit).offset(page.offset)).scalars().all()
    return AuditPage(items=[AuditEntryOut.model_validate(r) for r in rows], total=total)


@router.get("/projects/{slug}/audit", response_model=AuditPage, summary="A project's audit entries, newest first")
def project_audit(slug: str, db: DB, who: Caller, page: Paging) -> AuditPage:
    require(db, who, slug, Action.read_audit)
    db.commit()
    return _page(db, page, slug)


@router.get("/audit", response_model=AuditPage, summary="The whole audit log, newest first (platform admins)")
def all_audit(db: DB, who: Caller, page: Paging) -> AuditPage:
    require_platform_admin(db, who, "audit.read")
    db.commit()
    return _page(db, page, None)


@router.post("/audit/verify", response_model=AuditVerifyOut, summary="Recompute the hash chain (platform admins)")
def verify_audit(db: DB, who: Caller) -> AuditVerifyOut:
    require_platform_admin(db, who, "audit.verify")
    db.commit()
    result = audit.verify(db)
    return AuditVerifyOut(**result.__dict__)
