"""The Ship flow's plan, request and progress, as the API speaks them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Path = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
ModelName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]  # the registry's MODEL_NAME
MetricName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-/ ]{1,250}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanRequest(_Strict):
    path: Path = Field(description="The notebook's path as the project knows it (the file browser's), e.g. "
                                   "`acme/train.ipynb`")
    notebook: dict[str, Any] = Field(description="The notebook's content (nbformat v4 JSON)")


class PipelinePlan(_Strict):
    name: Name = Field(description="The pipeline the notebook is promoted to (the one it was last promoted to, "
                                   "else its file name)")
    stages: list[str] = Field(default_factory=list, description="The stages found from the cell tags, in order "
                                                                "(information: they follow from the notebook)")
    parameters: dict[str, Any] = Field(default_factory=dict, description="The run's parameters (defaults: the "
                                                                        "notebook's `parameters` cell)")


class ModelPlan(_Strict):
    name: ModelName = Field(description="The registered model the pipeline's run logs")
    metric: MetricName | None = Field(default=None, description="The metric the notebook logs and the gates check")
    value: float | None = Field(default=None, description="That metric in the notebook's last run (the validated "
                                                          "value)")
    run_id: str | None = Field(default=None, description="The notebook's last MLflow run, where the value is from")


class ThresholdPlan(_Strict):
    metric: MetricName
    op: Literal[">=", ">", "<=", "<"] = ">="
    value: float


class GatesPlan(_Strict):
    thresholds: list[ThresholdPlan] = Field(default_factory=list, max_length=50, description=(
        "Default: the validated metric minus `tolerance` (plus, for a metric where lower is better, the other way)"))
    tolerance: float = Field(default=0.02, ge=0, le=1e6, description="How far under the validated value the "
                                                                     "threshold defaults to")
    challenger: dict[str, Any] | None = Field(default=None, description=(
        "Challenger-beats-champion (the registry's rule: {metric, margin, greater_is_better}), checked once the "
        "model has a champion. Default: on the plan's metric, when evaluation data is found"))
    evaluation: dict[str, Any] | None = Field(default=None, description=(
        "The data challenger and champion are scored on ({dataset, target, snapshot_id}). Default: the data the "
        "champion was trained on, else what the notebook reads; its label column"))
    require_approval: bool = Field(default=False, description="A lead approves before the version is champion "
                                                              "(default: on when the project's models ask for it)")
    source: Literal["proposed", "model"] = Field(default="proposed", description=(
        "`model`: the gates a lead set on the model, kept unless a lead edits them; `proposed`: set by this Ship "
        "on a model that has none"))


class DeploymentPlan(_Strict):
    name: Name
    sla_ms: float = Field(default=100.0, gt=0, le=60000, description="Latency objective (p95), milliseconds")
    min_workers: int = Field(default=1, ge=1, le=16)
    max_workers: int = Field(default=2, ge=1, le=16)
    exists: bool = Field(default=False, description="The deployment exists: Ship switches it to the new version "
                                                    "once it passed the gates (zero downtime)")

    @field_validator("max_workers")
    @classmethod
    def _order(cls, v: int, info) -> int:  # noqa: ANN001
        if v < info.data.get("min_workers", 1):
            raise ValueError("max_workers must be at least min_workers")
        return v


class MonitorPlan(_Strict):
    window_size: int = Field(default=500, ge=50, le=1_000_000, description="Predictions per window")
    drift: bool = Field(default=True, description="Drift per feature on every window (always on)")
    performance: bool = Field(default=True, description="Performance against the validated baseline once labels "
                                                        "arrive as feedback (always on)")
    tolerance: dict[Literal["roc_auc", "f1", "rmse", "ece"], Annotated[float, Field(ge=0, le=1e9)]] = Field(
        default_factory=dict, description="Allowed loss per metric (default: the platform's)")
    retrain: bool = Field(default=True, description="Retrain through the pipeline and the gates when an alert fires")


class ShipPlan(_Strict):
    pipeline: PipelinePlan
    model: ModelPlan
    gates: GatesPlan
    deployment: DeploymentPlan
    monitor: MonitorPlan


class PlanOut(BaseModel):
    path: str
    plan: ShipPlan
    champion: int | None = Field(description="The model's champion version now, if any")
    notes: list[str] = Field(description="What was inferred from where, and what to check before shipping")
    problems: list[dict[str, Any]] = Field(description="Promotion's findings (errors stop the Ship)")


class ShipRequest(_Strict):
    path: Path
    notebook: dict[str, Any]
    plan: ShipPlan


class StepOut(BaseModel):
    name: Literal["promote", "image", "run", "register", "gates", "approval", "deploy", "monitor", "endpoint"] = Field(
        description="`image`: the stage base image (Docker stages) as the platform's check at start found it; "
        "while it is still being built it runs beside `run`, whose first stage waits for it")
    status: Literal["pending", "running", "waiting", "done", "skipped", "failed"]
    message: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    seconds: float | None = None
    links: dict[str, Any] = Field(default_factory=dict, description="Ids to open the step's record in its panel "
                                                                    "(pipeline, run, model/version, decision, ...)")
    progress: list[str] = Field(default_factory=list, description="The step's latest progress lines (stages, "
                                                                  "image build, workers)")


class Requests(BaseModel):
    curl: str
    python: str
    mlflow_deployments: str


class EndpointOut(BaseModel):
    url: str = Field(description="The URL clients call (MLflow scoring protocol)")
    v2_url: str
    api_key: str | None = Field(description="A new API key, shown once (the first read of the finished Ship); null "
                                            "after, or when the shipper may not create keys (see `key_message`)")
    key_prefix: str | None = None
    key_message: str | None = None
    body: dict[str, Any] = Field(description="A request body from the signature's columns and a training row")
    example_from: str | None = Field(description="Where the example row comes from")
    requests: Requests


class ShipOut(BaseModel):
    id: str
    project: str
    path: str
    created_by: str
    created_at: str
    status: Literal["running", "waiting", "succeeded", "failed", "interrupted"]
    message: str | None = Field(description="On failure: the reason and the step to fix")
    failed_step: str | None = None
    plan: ShipPlan
    steps: list[StepOut]
    endpoint: EndpointOut | None = None


class ShipPage(BaseModel):
    items: list[ShipOut]
    total: int
