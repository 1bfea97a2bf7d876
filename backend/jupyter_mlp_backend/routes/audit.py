"""Reading, verifying and exporting the audit log; its signed checkpoints and the key that signs them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select

from jupyter_mlp.auditlog import keys_document

from .. import audit, audit_export
from ..access import Action, require, require_platform_admin
from ..deps import DB, Caller, Paging
from ..orm import AuditCheckpoint, AuditEntry
from ..schemas import (
    AuditCheckpointOut,
    AuditCheckpointPage,
    AuditEntryOut,
    AuditExportIn,
    AuditExportOut,
    AuditPage,
    AuditVerifyOut,
    PublicKeysOut,
)

router = APIRouter(tags=["audit"])
EXPORT_NDJSON = {200: {"content": {"application/x-ndjson": {}},
                       "description": "Line 1: {\"manifest\", \"public_keys\", \"checkpoints\"}; then one audit "
                                      "entry a line, entry 1 first: the files of an export (docs/security.md)"}}


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


@router.get("/audit/public-key", response_model=PublicKeysOut,
            summary="The public keys audit checkpoints (and model manifests) are signed with (any signed-in user)")
def public_key(request: Request, who: Caller) -> PublicKeysOut:
    signer = audit_export.app_signer(request.app)
    return PublicKeysOut(key_id=signer.key_id, **keys_document(signer.public_keys()))


@router.get("/audit/checkpoints", response_model=AuditCheckpointPage,
            summary="Signed audit checkpoints, newest first (platform admins)")
def checkpoints(db: DB, who: Caller, page: Paging) -> AuditCheckpointPage:
    require_platform_admin(db, who, "audit.read")
    db.commit()
    total = db.execute(select(func.count()).select_from(AuditCheckpoint)).scalar_one()
    rows = db.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.entries.desc())
                      .limit(page.limit).offset(page.offset)).scalars().all()
    return AuditCheckpointPage(items=[AuditCheckpointOut(**audit_export.checkpoint_out(r)) for r in rows],
                               total=total)


@router.post("/audit/export", response_model=AuditExportOut,
             summary="Sign a checkpoint and write the log, its checkpoints and public keys to s3://bucket/prefix "
                     "(platform admins)")
def export_audit(body: AuditExportIn, request: Request, who: Caller) -> AuditExportOut:
    return AuditExportOut(**audit_export.export_to_bucket(request.app, who, body.to))


@router.post("/audit/export/download", response_class=StreamingResponse, responses=EXPORT_NDJSON,
             summary="Sign a checkpoint and stream the log with its checkpoints and public keys (platform admins)")
def download_audit(request: Request, who: Caller) -> StreamingResponse:
    return StreamingResponse(audit_export.export_stream(request.app, who), media_type="application/x-ndjson")
