"""Who the caller is, as the backend sees it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select

from ..deps import DB, Caller
from ..orm import Membership, Project
from ..schemas import ProjectRole, Role, Whoami

router = APIRouter(tags=["identity"])


@router.get("/whoami", response_model=Whoami, summary="The caller's identity and projects")
def whoami(request: Request, db: DB, who: Caller) -> Whoami:
    if who.is_admin:
        rows = db.execute(select(Project.slug, Project.name).order_by(Project.slug)).all()
        projects = [ProjectRole(slug=s, name=n, role=Role.admin) for s, n in rows]
    else:
        rows = db.execute(
            select(Project.slug, Project.name, Membership.role)
            .join(Membership)
            .where(Membership.user == who.user)
            .order_by(Project.slug)
        ).all()
        projects = [ProjectRole(slug=s, name=n, role=Role(r)) for s, n, r in rows]
    return Whoami(user=who.user, is_admin=who.is_admin, auth_mode=request.app.state.resolver.mode, projects=projects)
