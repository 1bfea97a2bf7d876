"""The tools an LLM plan may call (`llm.plan_with_llm`), as typed specs over `tools.py`, and `execute(call,
backend)` that runs a validated call as the asker.

Every argument that names a record (`project`, `model`, `deployment`, `pipeline`) is marked with its entity kind:
`llm.validate_plan` drops a call naming anything outside the names the asker can see, and the backend decides
access again when the call runs (the asker's read-only token). Results are the backend's JSON records, from which
the planner composes and cites the answer; the LLM never writes a figure.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from . import tools
from .backend_client import BackendClient
from .llm import ToolCall, ToolSpec


def _entity(kind: str, **kw: Any) -> Any:
    return Field(json_schema_extra={"entity": kind}, **kw)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectArgs(_Args):
    project: str = _entity("project", max_length=200)


class SearchRunsArgs(ProjectArgs):
    filter: str = Field("", max_length=1000, description="MLflow filter string, e.g. metrics.auc > 0.8")
    order_by: list[str] = Field(default_factory=list, max_length=3, description="e.g. metrics.auc DESC")
    limit: int = Field(20, ge=1, le=200)


class ModelArgs(ProjectArgs):
    model: str = _entity("model", max_length=200)


class GateArgs(ProjectArgs):
    model: str | None = _entity("model", default=None, max_length=200)
    status: Literal["passed", "failed", "pending", "approved", "rejected"] | None = None


class DeploymentArgs(ProjectArgs):
    deployment: str = _entity("deployment", max_length=200)


class AlertArgs(ProjectArgs):
    state: Literal["firing", "resolved"] | None = None


class PipelineArgs(ProjectArgs):
    pipeline: str = _entity("pipeline", max_length=200)


CATALOGUE: list[ToolSpec] = [
    ToolSpec("search_runs", "runs of a project matching an MLflow filter, ordered (params, metrics, tags)",
             SearchRunsArgs),
    ToolSpec("experiments", "the experiments of a project", ProjectArgs),
    ToolSpec("models", "the registered models of a project", ProjectArgs),
    ToolSpec("model_versions", "the versions of a model, with aliases and status", ModelArgs),
    ToolSpec("gate_decisions", "promotion gate decisions (evidence, who decided, why), newest first", GateArgs),
    ToolSpec("deployments", "the deployments of a project (status, SLA)", ProjectArgs),
    ToolSpec("monitor_windows", "a deployment's monitor windows (drift per feature)", DeploymentArgs),
    ToolSpec("retrainings", "a deployment's retrainings and their outcome", DeploymentArgs),
    ToolSpec("alerts", "a project's alerts", AlertArgs),
    ToolSpec("pipeline_runs", "the runs of a pipeline (stage status, failing cell, error)", PipelineArgs),
]


async def execute(call: ToolCall, backend: BackendClient) -> Any:
    """Run a call `validate_plan` accepted, as the user whose token `backend` carries."""
    a = call.args
    p = a["project"]
    match call.tool:
        case "search_runs":
            runs, total = await tools.search_runs(backend, p, a["filter"], a["order_by"] or None, limit=a["limit"])
            return {"items": runs, "total": total}
        case "experiments":
            return await tools.experiments(backend, p)
        case "models":
            return await tools.models(backend, p)
        case "model_versions":
            return await tools.model_versions(backend, p, a["model"])
        case "gate_decisions":
            return await tools.gate_decisions(backend, p, a.get("model"), a.get("status"))
        case "deployments":
            return await tools.deployments(backend, p)
        case "monitor_windows":
            return await tools.monitor_windows(backend, p, a["deployment"])
        case "retrainings":
            return await tools.retrainings(backend, p, a["deployment"])
        case "alerts":
            return await tools.alerts(backend, p, a.get("state"))
        case "pipeline_runs":
            return await tools.pipeline_runs(backend, p, a["pipeline"])
    raise ValueError(f"unknown tool {call.tool!r}")
