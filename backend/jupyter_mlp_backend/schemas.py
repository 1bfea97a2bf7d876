"""Request and response bodies of the API. Requests forbid unknown fields: a typo is an error, not a no-op."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_serializer

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
USER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$"

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=64)]
UserName = Annotated[str, StringConstraints(pattern=USER_PATTERN, min_length=1, max_length=128)]


class Role(str, Enum):
    viewer = "viewer"
    stakeholder = "stakeholder"
    scientist = "scientist"
    lead = "lead"
    admin = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Role.viewer: 0, Role.stakeholder: 1, Role.scientist: 2, Role.lead: 3, Role.admin: 4}


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Response(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _iso(dt: datetime) -> str:
    if dt.tzinfo is None:  # SQLite keeps no zone; everything is stored in UTC
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.isoformat()


class ProjectCreate(Request):
    slug: Slug = Field(description="Short unique id: lowercase letters, digits and hyphens, 1-64 characters.")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=2000)] = ""


class ProjectOut(Response):
    slug: str
    name: str
    description: str
    created_by: str
    created_at: datetime
    role: Role = Field(description="The caller's effective role in this project.")
    member_role: Role | None = Field(
        default=None, description="The caller's role as a member (what the members table shows); null for a "
        "platform admin who is not a member. Differs from `role` only for platform admins.")

    @field_serializer("created_at")
    def _ser_created(self, v: datetime) -> str:
        return _iso(v)


class ProjectPage(Response):
    items: list[ProjectOut]
    total: int


class MemberSet(Request):
    role: Role


class MemberOut(Response):
    user: str
    role: Role
    added_by: str
    added_at: datetime

    @field_serializer("added_at")
    def _ser_added(self, v: datetime) -> str:
        return _iso(v)


class MemberPage(Response):
    items: list[MemberOut]
    total: int


class ProjectRole(Response):
    slug: str
    name: str
    role: Role


class Whoami(Response):
    user: str
    is_admin: bool
    auth_mode: str
    projects: list[ProjectRole]


class AuditEntryOut(Response):
    seq: int
    ts: str
    actor: str
    action: str
    project: str | None
    target: str | None
    decision: str
    detail: str
    hash: str


class AuditPage(Response):
    items: list[AuditEntryOut]
    total: int


class AuditVerifyOut(Response):
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    reason: str | None = None


class AuditCheckpointOut(Response):
    """A signed checkpoint: `signature` (base64 ed25519) is over the canonical JSON of every other field."""

    format: str
    entries: int
    head: str
    ts: str
    key_id: str
    signature: str


class AuditCheckpointPage(Response):
    items: list[AuditCheckpointOut]
    total: int


class PublicKeysOut(Response):
    """The platform's signing keys (`mlp audit public-key`; what `mlp audit verify --public-key` reads)."""

    format: str
    key_id: str  # the key signing now
    keys: dict[str, str]  # key id -> base64 raw ed25519 public key, earlier (rotated) keys included


class AuditExportIn(Request):
    to: str = Field(min_length=6, max_length=1000, pattern=r"^s3://",
                    description="s3://bucket/prefix, written with the platform's S3 settings (`s3_endpoint_url`)")


class AuditExportOut(Response):
    to: str
    entries: int
    head: str
    checkpoints: int
    key_id: str


class Health(Response):
    status: str
    version: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    detail: Any = None


class ErrorBody(BaseModel):
    error: ErrorInfo
