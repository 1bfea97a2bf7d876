"""The one place that decides access. Deny by default; every decision is audited.

A caller who is not a member of a project cannot tell it from a missing one (404). A member whose role is
too low for an action is told so (403). Platform admins act as `admin` in every project.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .errors import Forbidden, NotFound
from .identity import Identity
from .orm import Membership, Project
from .schemas import Role


class Action(str, Enum):
    read_project = "project.read"
    read_members = "members.read"
    manage_members = "members.manage"
    read_audit = "audit.read"
    read_runs = "runs.read"
    write_runs = "runs.write"
    read_pipelines = "pipelines.read"
    write_pipelines = "pipelines.write"
    run_pipelines = "pipelines.run"
    read_models = "models.read"
    write_models = "models.write"  # register, ask for an alias to move
    approve_models = "models.approve"  # approve or reject a gate decision; set gates
    read_serving = "serving.read"
    write_serving = "serving.write"  # deploy, switch, roll back, scale, stop
    manage_keys = "serving.keys"  # create and revoke API keys of client systems
    read_monitoring = "monitoring.read"  # windows, alerts, retrainings, reports
    write_monitoring = "monitoring.write"  # create or change a monitor, evaluate now
    manage_webhooks = "webhooks.manage"  # where alerts go (URLs and secrets)
    read_dashboard = "dashboard.read"  # the stakeholder dashboard
    manage_column_policies = "datasets.policy"  # what each role sees of a dataset's columns


# The least role each action needs. An action missing here is denied to everyone but platform admins.
MIN_ROLE: dict[Action, Role] = {
    Action.read_project: Role.viewer,
    Action.read_members: Role.viewer,
    Action.manage_members: Role.lead,
    Action.read_audit: Role.lead,
    Action.read_runs: Role.viewer,
    Action.write_runs: Role.scientist,
    Action.read_pipelines: Role.viewer,
    Action.write_pipelines: Role.scientist,
    Action.run_pipelines: Role.scientist,
    Action.read_models: Role.viewer,
    Action.write_models: Role.scientist,
    Action.approve_models: Role.lead,
    Action.read_serving: Role.viewer,
    Action.write_serving: Role.scientist,
    Action.manage_keys: Role.lead,
    Action.read_monitoring: Role.viewer,
    Action.write_monitoring: Role.scientist,
    Action.manage_webhooks: Role.lead,
    Action.read_dashboard: Role.viewer,
    Action.manage_column_policies: Role.lead,
}


@dataclass(frozen=True)
class Grant:
    project: Project
    role: Role


def role_in(session: Session, who: Identity, project: Project) -> Role | None:
    if who.is_admin:
        return Role.admin
    role = session.execute(
        select(Membership.role).where(Membership.project_id == project.id, Membership.user == who.user)
    ).scalar_one_or_none()
    return Role(role) if role else None


def record_denial(session: Session, who: Identity, action: str, slug: str | None, target: str | None, why: str) -> None:
    # A denial is recorded even though the request fails: commit it on its own.
    session.rollback()
    audit.append(session, actor=who.user, action=action, decision="deny", project=slug, target=target,
                 detail={"reason": why})
    session.commit()


def require(session: Session, who: Identity, slug: str, action: Action, target: str | None = None) -> Grant:
    """Return the caller's grant on the project, or raise NotFound/Forbidden after auditing the denial."""
    project = session.execute(select(Project).where(Project.slug == slug)).scalar_one_or_none()
    role = role_in(session, who, project) if project else None
    if project is None or role is None:
        record_denial(session, who, action.value, slug, target, "not a member" if project else "no such project")
        raise NotFound(f"Project '{slug}' not found")
    needed = MIN_ROLE.get(action)
    if needed is None and not who.is_admin or needed is not None and role.rank < needed.rank:
        record_denial(session, who, action.value, slug, target, f"role {role.value} is below {needed.value if needed else 'admin'}")
        raise Forbidden(f"Your role in '{slug}' ({role.value}) does not allow {action.value}")
    audit.append(session, actor=who.user, action=action.value, decision="allow", project=slug, target=target)
    return Grant(project=project, role=role)


def require_platform_admin(session: Session, who: Identity, action: str, target: str | None = None) -> None:
    if not who.is_admin:
        record_denial(session, who, action, None, target, "not a platform admin")
        raise Forbidden(f"Only platform admins may {action}")
    audit.append(session, actor=who.user, action=action, decision="allow", target=target)


def can_assign(grant: Grant, who: Identity, role: Role) -> bool:
    """Leads assign roles up to lead; only platform admins hand out admin."""
    return who.is_admin or (grant.role.rank >= Role.lead.rank and role.rank <= Role.lead.rank)
