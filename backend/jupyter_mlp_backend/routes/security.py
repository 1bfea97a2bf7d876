"""Encryption at rest per project: its state, turning it on or off, destroying a project's data key, rotating the
master key (platform admins; docs/security.md#encryption-at-rest). The work is in `at_rest.py`."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from .. import at_rest
from ..deps import DB, Caller

router = APIRouter(tags=["security"])


class EncryptionOut(BaseModel):
    project: str
    enabled: bool = Field(description="Files the platform writes for the project from now on are encrypted")
    key_id: str | None = Field(description="The project's data key's id (in every encrypted file's header); "
                                           "none: no key (never turned on, or destroyed)")
    master_key_id: str | None = Field(description="The master key that wraps the data key")
    created_at: datetime | None
    rewrapped_at: datetime | None = Field(description="When a master key rotation last re-wrapped it")


class EncryptionSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool


class RotationOut(BaseModel):
    master_key_id: str = Field(description="The new master key")
    rewrapped: int = Field(description="Data keys re-wrapped with it (no file is rewritten)")
    column_secrets: int = Field(0, description="Column-policy hash secrets re-wrapped with it (or wrapped for the "
                                               "first time: a row kept in the clear by an earlier release)")
    retired: list[str] = Field(description="Earlier master keys destroyed after the re-wrap")


@router.get("/projects/{slug}/encryption", response_model=EncryptionOut,
            summary="Whether the project's files are encrypted at rest")
def get_encryption(slug: str, db: DB, who: Caller) -> EncryptionOut:
    return EncryptionOut(**at_rest.status(db, who, slug))


@router.put("/projects/{slug}/encryption", response_model=EncryptionOut,
            summary="Turn encryption at rest on or off for a project (platform admins)")
def set_encryption(slug: str, body: EncryptionSet, request: Request, db: DB, who: Caller) -> EncryptionOut:
    return EncryptionOut(**at_rest.set_enabled(request.app, db, who, slug, body.enabled))


@router.delete("/projects/{slug}/encryption/key", response_model=EncryptionOut,
               summary="Destroy the project's data key: its encrypted files become unreadable (platform admins)")
def shred_key(slug: str, request: Request, db: DB, who: Caller,
              confirm: str | None = Query(None, max_length=64, description="The project's slug, again")
              ) -> EncryptionOut:
    return EncryptionOut(**at_rest.shred(request.app, db, who, slug, confirm))


@router.post("/security/rotate-master-key", response_model=RotationOut,
             summary="Re-wrap every project's data key with a new master key (platform admins)")
def rotate_master_key(request: Request, db: DB, who: Caller) -> RotationOut:
    return RotationOut(**at_rest.rotate_master(request.app, db, who))
