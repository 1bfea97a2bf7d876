"""Bodies of the Pipelines API."""

from __future__ import annotations

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
