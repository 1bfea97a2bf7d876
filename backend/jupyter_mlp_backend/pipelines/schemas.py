"""Bodies of the Pipelines API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

PipelineName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", min_length=1, max_length=63)]


class NotebookSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notebook: dict[str, Any] = Field(description="The notebook, nbformat v4 JSON")
    path: Annotated[str, StringConstraints(min_length=1, max_length=1024)] = Field(
        description="Where the notebook lives (path under the Jupyter root)")


class ContainerRequest(BaseModel):
    """What a pipeline asks of its stage containers, in the notebook's metadata as `mlp.container`."""

    model_config = ConfigDict(extra="forbid")

    cpus: float | None = Field(default=None, gt=0, le=64, description="CPU limit")
    memory: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]*[kmg]$")] | None = Field(
        default=None, description="Memory limit in Docker's notation (512m, 2g)")
    network: bool = Field(default=False, description="Give the stages a network (default: none)")


class PromoteRequest(NotebookSubmission):
    name: PipelineName | None = Field(default=None, description="Pipeline name; default: the pipeline this notebook "
                                      "was last promoted to, else the notebook's file name")


class StageOut(BaseModel):
    name: str
    cells: list[int]
    inputs: list[str]
    outputs: list[str]
    depends_on: list[str]


class ParameterOut(BaseModel):
    name: str
    type: str
    default: str
    default_value: Any = Field(default=None, description="The default's value as JSON when the default is a literal "
                               "JSON can carry; else null, as for None (type `none` tells the two apart)")


class Problem(BaseModel):
    severity: Literal["error", "warning"]
    cell: int | None
    code: str
    message: str


class PreflightReport(BaseModel):
    ok: bool
    stages: list[StageOut]
    parameters: list[ParameterOut]
    problems: list[Problem]
    pipeline: str = Field(description="The name a promotion without one would use: the pipeline this notebook was "
                                      "last promoted to, else its file name")
    existing: bool = Field(description="Whether `pipeline` already exists (promoting adds a version to it)")


class PromoteResult(BaseModel):
    pipeline: str
    version: str
    created: bool
    stages: list[StageOut]
    parameters: list[ParameterOut]
    problems: list[Problem]


class PipelineSummary(BaseModel):
    name: str
    source_path: str
    latest_version: str
    versions: int
    updated_at: str


class PipelinePage(BaseModel):
    items: list[PipelineSummary]
    total: int


class PipelineVersionOut(BaseModel):
    version: str
    created_at: str
    created_by: str
    stages: list[StageOut]
    order: list[str]
    parameters: list[ParameterOut]


class PipelineDetail(BaseModel):
    name: str
    source_path: str
    versions: list[PipelineVersionOut]


# --- runs ---------------------------------------------------------------------------------------------------------

class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{12,64}$")] | None = Field(
        default=None, description="Version (or a unique prefix of at least 12 hex digits); default: the latest")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Values for the parameters cell")


class StageStatus(BaseModel):
    name: str
    status: str
    start_time: float | None = None
    end_time: float | None = None
    error: dict[str, Any] | None = None
    progress: str | None = Field(default=None, description="While a stage in a container starts: what it is doing, "
                                 "e.g. '[step 2/3] building stage image ...: Step 2/4 : COPY site /opt/mlp/site' "
                                 "(the whole build log is in the stage's log)")


class PipelineRunOut(BaseModel):
    run_id: str
    pipeline: str
    version: str
    status: str
    parameters: dict[str, Any]
    created_by: str
    created_at: str
    mlflow_run_id: str | None
    snapshots: dict[str, int] = Field(default_factory=dict, description="Dataset snapshots the run pinned")
    replay_of: str | None = None
    executor: str | None = Field(default=None, description="Where the stages ran: docker or subprocess")
    schedule_id: int | None = Field(default=None, description="The schedule that launched this run, if any")
    stages: list[StageStatus]


class PipelineRunPage(BaseModel):
    items: list[PipelineRunOut]
    total: int


class ExecutorOut(BaseModel):
    kind: str = Field(description="docker: stages run in containers; subprocess: in a local process")
    detail: str
    base_image: dict[str, Any] | None = Field(
        default=None, description="What the platform found of the stage base image when it started (state: "
        "building, ready, failed; image; detail; since): a first run waits while it is building")


# --- schedules ----------------------------------------------------------------------------------------------------

class ScheduleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: Annotated[str, StringConstraints(min_length=9, max_length=64)] = Field(
        description="Cron expression, five fields (`0 6 * * 1-5`: 06:00 on weekdays)")
    timezone: Annotated[str, StringConstraints(max_length=64)] = Field(default="UTC", description="IANA time zone")
    version: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{12,64}$")] | None = Field(
        default=None, description="The version to run (default: the latest now; the schedule keeps it)")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Values for the parameters cell")


class ScheduleOut(BaseModel):
    id: int
    pipeline: str
    version: str
    cron: str
    timezone: str
    parameters: dict[str, Any]
    created_by: str
    created_at: str
    next_ticks: list[str] = Field(description="The next three times it will run (ISO 8601, its time zone)")
    last_run: str | None = Field(default=None, description="Our id of the latest run it launched")


class SchedulePage(BaseModel):
    items: list[ScheduleOut]
    total: int


class TickRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduled_time: datetime


class TickOut(BaseModel):
    run_id: str
    run_config: dict[str, Any]
    tags: dict[str, str]
