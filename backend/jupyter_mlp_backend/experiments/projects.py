"""Which MLflow experiments belong to a project, and the names they carry inside MLflow."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from jupyter_mlp.settings import Settings

from ..orm import ProjectExperiment

DEFAULT_EXPERIMENT = "Default"


def mlflow_name(settings: Settings, slug: str, name: str) -> str:
    """The name inside MLflow: namespaced, so two projects may both have an experiment called `churn`."""
    return f"{settings.mlflow_experiment_prefix}{slug}/{name}"


def user_name(settings: Settings, slug: str, stored: str) -> str:
    prefix = f"{settings.mlflow_experiment_prefix}{slug}/"
    return stored[len(prefix):] if stored.startswith(prefix) else stored


def experiment_ids(db: Session, project_id: int) -> list[str]:
    return list(db.execute(select(ProjectExperiment.experiment_id).where(ProjectExperiment.project_id == project_id)
                           .order_by(ProjectExperiment.created_at)).scalars())


def experiment_rows(db: Session, project_id: int) -> list[ProjectExperiment]:
    return list(db.execute(select(ProjectExperiment).where(ProjectExperiment.project_id == project_id)
                           .order_by(ProjectExperiment.created_at)).scalars())


def owner_of(db: Session, experiment_id: str) -> int | None:
    return db.execute(select(ProjectExperiment.project_id).where(ProjectExperiment.experiment_id == experiment_id)
                      ).scalar_one_or_none()
