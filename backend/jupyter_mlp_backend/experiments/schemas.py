"""Bodies of the Experiments API (the panel and `mlp runs`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ExperimentOut(BaseModel):
    experiment_id: str
    name: str
    created_at: int | None = Field(description="Milliseconds since the epoch")


class ExperimentPage(BaseModel):
    items: list[ExperimentOut]
    total: int


class RunSummary(BaseModel):
    run_id: str
    run_name: str | None
    experiment_id: str
    status: str
    start_time: int | None = Field(description="Milliseconds since the epoch")
    end_time: int | None
    user: str | None
    params: dict[str, str]
    metrics: dict[str, float | None]
    tags: dict[str, str]


class RunPage(BaseModel):
    items: list[RunSummary]
    total: int
    total_exact: bool = Field(True, description="False when `total` is the database planner's estimate (many matching "
                              "runs on PostgreSQL); GET .../runs/count then gives the exact number")


class RunCount(BaseModel):
    total: int = Field(description="The exact number of the project's runs the filter matches")


class RunColumns(BaseModel):
    params: list[str]
    metrics: list[str]
    tags: list[str]


class DatasetRef(BaseModel):
    name: str
    path: str | None = None
    sha256: str | None = None
    snapshot_id: str | None = None
    rows: int | None = None
    policies: list[str] | None = None  # column policies that shaped the rows read (datasets/policy.py)


class Lineage(BaseModel):
    notebook_path: str | None = None
    notebook_sha256: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    python_version: str | None = None
    freeze_sha256: str | None = None
    datasets: list[DatasetRef] = []


class RunDetail(RunSummary):
    artifact_uri: str | None
    lineage: Lineage


class MetricPoint(BaseModel):
    step: int
    timestamp: int
    value: float | None


class MetricHistory(BaseModel):
    key: str
    points: list[MetricPoint]


class ArtifactEntry(BaseModel):
    path: str
    is_dir: bool
    file_size: int | None = None


class ArtifactList(BaseModel):
    path: str
    items: list[ArtifactEntry]


class RunComparison(BaseModel):
    runs: list[RunSummary]
    param_keys: list[str]
    differing_params: list[str]
    metric_keys: list[str]
    histories: dict[str, dict[str, list[MetricPoint]]]


class KernelCredentials(BaseModel):
    token: str
    experiment_id: str = Field(description="The project's default experiment")
    tracking_path: str = Field(description="Path of the project's MLflow gateway under the backend URL")
    expires_at: int = Field(description="Seconds since the epoch")
