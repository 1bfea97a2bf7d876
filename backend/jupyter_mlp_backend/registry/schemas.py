"""Bodies of the Models API (requests and answers); the service functions answer with these too."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from . import gates as gate_rules
from .artifacts import MODEL_NAME

ModelName = Annotated[str, StringConstraints(pattern=MODEL_NAME.pattern)]


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ModelName = Field(description="Registered model name in the project (lowercase, digits, - and _)")
    run_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(description="A run of the project")
    artifact_path: Annotated[str, StringConstraints(min_length=1, max_length=1024)] = Field(
        default="model", description="The logged model's name, or an artifact folder of the run with an MLmodel")


class VersionOut(BaseModel):
    name: str
    version: int
    run_id: str | None
    source: str
    pipeline_run_id: str | None
    aliases: list[str]
    lineage: dict[str, Any]
    metrics: dict[str, float]
    params: dict[str, str]
    signed: bool
    key_id: str | None
    files: int
    created_by: str
    created_at: str


class VersionPage(BaseModel):
    items: list[VersionOut]
    total: int


class ModelSummary(BaseModel):
    name: str
    mlflow_name: str
    latest_version: int | None
    versions: int
    aliases: dict[str, int]
    pending_approvals: int
    created_at: str


class ModelPage(BaseModel):
    items: list[ModelSummary]
    total: int


class ModelDetail(ModelSummary):
    gates: gate_rules.GateConfig


class VerifyOut(BaseModel):
    ok: bool
    message: str
    files: int
    key_id: str | None


class AliasRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alias: Literal["staging", "champion"]


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class DecisionOut(BaseModel):
    id: int
    model: str
    version: int
    alias: str
    status: Literal["passed", "failed", "pending", "approved", "rejected"]
    evidence: dict[str, Any]
    requested_by: str
    decided_by: str | None
    reason: str | None
    created_at: str
    decided_at: str | None
    alias_moved: bool = Field(description="Whether the alias points at this version because of this decision")


class DecisionPage(BaseModel):
    items: list[DecisionOut]
    total: int


class LineageNode(BaseModel):
    id: str
    kind: Literal["dataset", "pipeline_version", "pipeline_run", "mlflow_run", "model_version", "deployment"]
    label: str
    detail: dict[str, Any] = Field(default_factory=dict)


class LineageEdge(BaseModel):
    source: str
    target: str


class LineageGraph(BaseModel):
    nodes: list[LineageNode]
    edges: list[LineageEdge]


class DiffRow(BaseModel):
    key: str
    a: Any = None
    b: Any = None
    changed: bool


class VersionDiff(BaseModel):
    a: int
    b: int
    params: list[DiffRow]
    metrics: list[DiffRow]
    data: list[DiffRow]
    lineage: list[DiffRow]
    code: str = Field(description="Unified diff of the stage notebooks' code (or a note when unavailable)")
