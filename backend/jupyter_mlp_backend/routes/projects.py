"""Projects (one per client engagement) and their members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from sqlalchemy import func, literal, select
from sqlalchemy.exc import IntegrityError

from .. import audit
from ..access import Action, can_assign, record_denial, require, require_platform_admin
from ..deps import DB, Caller, Paging
from ..errors import Conflict, Forbidden, NotFound
from ..orm import Membership, Project
from ..schemas import USER_PATTERN, MemberOut, MemberPage, MemberSet, ProjectCreate, ProjectOut, ProjectPage, Role

router = APIRouter(tags=["projects"])

UserPath = Annotated[str, Path(pattern=USER_PATTERN, max_length=128, description="The member's user name")]


def _project_out(p: Project, role: Role, member_role: str | None) -> ProjectOut:
    return ProjectOut(
        slug=p.slug, name=p.name, description=p.description, created_by=p.created_by, created_at=p.created_at,
        role=role, member_role=Role(member_role) if member_role else None,
    )


def _member_role(db: DB, project: Project, user: str) -> str | None:
    return db.execute(select(Membership.role).where(Membership.project_id == project.id, Membership.user == user)
                      ).scalar_one_or_none()


@router.get("/projects", response_model=ProjectPage, summary="Projects the caller can see")
def list_projects(db: DB, who: Caller, page: Paging) -> ProjectPage:
    if who.is_admin:  # every project, with the admin's own membership where they have one
        q = select(Project, literal(Role.admin.value), Membership.role).outerjoin(
            Membership, (Membership.project_id == Project.id) & (Membership.user == who.user))
    else:
        q = select(Project, Membership.role, Membership.role).join(Membership).where(Membership.user == who.user)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(Project.slug).limit(page.limit).offset(page.offset)).all()
    audit.append(db, actor=who.user, action="projects.list", decision="allow", detail={"returned": len(rows)})
    db.commit()
    return ProjectPage(items=[_project_out(p, Role(r), m) for p, r, m in rows], total=total)


@router.post("/projects", response_model=ProjectOut, status_code=status.HTTP_201_CREATED, summary="Create a project")
def create_project(body: ProjectCreate, db: DB, who: Caller) -> ProjectOut:
    require_platform_admin(db, who, "project.create", target=body.slug)
    if db.execute(select(Project.id).where(Project.slug == body.slug)).first():
        db.rollback()
        raise Conflict(f"A project with slug '{body.slug}' already exists", detail=[{"field": "slug"}])
    project = Project(slug=body.slug, name=body.name, description=body.description, created_by=who.user)
    project.memberships.append(Membership(user=who.user, role=Role.lead.value, added_by=who.user))
    db.add(project)
    try:
        db.flush()
    except IntegrityError as e:  # a concurrent create won the race
        db.rollback()
        raise Conflict(f"A project with slug '{body.slug}' already exists", detail=[{"field": "slug"}]) from e
    audit.append(db, actor=who.user, action="project.created", decision="allow", project=project.slug,
                 detail={"name": project.name})
    db.commit()
    return _project_out(project, Role.admin if who.is_admin else Role.lead, Role.lead.value)


@router.get("/projects/{slug}", response_model=ProjectOut, summary="One project")
def get_project(slug: str, db: DB, who: Caller) -> ProjectOut:
    grant = require(db, who, slug, Action.read_project)
    member = _member_role(db, grant.project, who.user)
    db.commit()
    return _project_out(grant.project, grant.role, member)


def _member_out(m: Membership) -> MemberOut:
    return MemberOut(user=m.user, role=Role(m.role), added_by=m.added_by, added_at=m.added_at)


@router.get("/projects/{slug}/members", response_model=MemberPage, summary="Members of a project")
def list_members(slug: str, db: DB, who: Caller, page: Paging) -> MemberPage:
    grant = require(db, who, slug, Action.read_members)
    q = select(Membership).where(Membership.project_id == grant.project.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(Membership.user).limit(page.limit).offset(page.offset)).scalars().all()
    db.commit()
    return MemberPage(items=[_member_out(m) for m in rows], total=total)


def _leads_left(db: DB, project: Project, without: str) -> int:
    return db.execute(
        select(func.count()).where(
            Membership.project_id == project.id, Membership.role == Role.lead.value, Membership.user != without
        )
    ).scalar_one()


@router.put("/projects/{slug}/members/{user}", response_model=MemberOut, summary="Add a member or change a role")
def set_member(slug: str, user: UserPath, body: MemberSet, db: DB, who: Caller) -> MemberOut:
    grant = require(db, who, slug, Action.manage_members, target=user)
    if not can_assign(grant, who, body.role):
        record_denial(db, who, "member.set", slug, user, f"role {grant.role.value} cannot grant {body.role.value}")
        raise Forbidden(f"Only platform admins may grant the role '{body.role.value}'")
    member = db.execute(
        select(Membership).where(Membership.project_id == grant.project.id, Membership.user == user)
    ).scalar_one_or_none()
    before = member.role if member else None
    if member is not None and before == Role.lead.value and body.role != Role.lead:
        if _leads_left(db, grant.project, user) == 0:
            db.rollback()
            raise Conflict(f"'{user}' is the last lead of '{slug}'; make someone else lead first")
    if member is None:
        member = Membership(project_id=grant.project.id, user=user, role=body.role.value, added_by=who.user)
        db.add(member)
    else:
        member.role = body.role.value
    db.flush()
    audit.append(db, actor=who.user, action="member.set", decision="allow", project=slug, target=user,
                 detail={"role": body.role.value, "before": before})
    db.commit()
    return _member_out(member)


@router.delete("/projects/{slug}/members/{user}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a member")
def remove_member(slug: str, user: UserPath, db: DB, who: Caller) -> Response:
    grant = require(db, who, slug, Action.manage_members, target=user)
    member = db.execute(
        select(Membership).where(Membership.project_id == grant.project.id, Membership.user == user)
    ).scalar_one_or_none()
    if member is None:
        db.commit()  # keep the audited decision
        raise NotFound(f"'{user}' is not a member of '{slug}'")
    if member.role == Role.lead.value and _leads_left(db, grant.project, user) == 0:
        db.rollback()
        raise Conflict(f"'{user}' is the last lead of '{slug}'; make someone else lead first")
    if member.role == Role.admin.value and not who.is_admin:
        record_denial(db, who, "member.remove", slug, user, "only platform admins remove an admin")
        raise Forbidden("Only platform admins may remove an admin")
    db.delete(member)
    audit.append(db, actor=who.user, action="member.removed", decision="allow", project=slug, target=user,
                 detail={"role": member.role})
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)

