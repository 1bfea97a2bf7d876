"""The serving API's request and response bodies (their names are the OpenAPI schema names)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ..deps import INT32_MAX, Int64
from ..registry.service import MODEL_NAME

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
ModelName = Annotated[str, StringConstraints(pattern=MODEL_NAME.pattern)]


class WorkerOut(BaseModel):
    index: int
    pid: int | None
    version: int
    inflight: int
    started_at: float
    uptime_s: float = Field(description="Seconds since it answered its first ping, on the backend's monotonic clock")


class DeploymentOut(BaseModel):
    name: str
    model: str
    version: int
    previous_version: int | None
    status: str
    message: str | None
    min_workers: int
    max_workers: int
    sla_ms: float
    max_batch: int
    max_wait_ms: float
    log_predictions: bool
    prediction_table: str | None = Field(description="The Iceberg table (project dataset) of its prediction log")
    url: str = Field(description="Path of the MLflow scoring endpoint under the backend")
    v2_url: str = Field(description="Path of the Open Inference Protocol v2 infer endpoint")
    workers: list[WorkerOut]
    base_url: str | None = Field(default=None, description="The backend's address as clients call it (the "
                                 "`public_url` setting, else the address this request reached); with one deployment")
    example: dict[str, Any] | None = Field(default=None, description="A `dataframe_split` body for the model's "
                                           "signature: its columns and an example row; with one deployment")
    created_by: str
    created_at: str
    updated_at: str


class Scaling(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_workers: int = Field(default=1, ge=1, le=16, description="Workers kept running")
    max_workers: int = Field(default=2, ge=1, le=16, description="Workers added while p95 breaches the SLA")
    sla_ms: float = Field(default=100.0, gt=0, le=60000, description="Latency objective (p95), milliseconds")
    max_batch: int = Field(default=64, ge=1, le=10000, description="Most rows scored in one model call")
    max_wait_ms: float = Field(default=0.0, ge=0, le=1000, description="How long a batch may wait for more rows")
    log_predictions: bool = Field(default=True, description="Append every prediction (input, output, latency) "
                                                            "to the deployment's Iceberg table")

    @model_validator(mode="after")
    def _order(self) -> Scaling:
        if self.max_workers < self.min_workers:
            raise ValueError("max_workers must be at least min_workers")
        return self


class DeployRequest(Scaling):
    name: Name = Field(description="Deployment name: part of its URL")
    model: ModelName
    version: int | None = Field(default=None, ge=1, le=INT32_MAX, description="A version number, or give an alias")
    alias: Literal["staging", "champion"] | None = None

    @model_validator(mode="after")
    def _one(self) -> DeployRequest:
        if (self.version is None) == (self.alias is None):
            raise ValueError("give either version or alias")
        return self


class SwitchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1, le=INT32_MAX)
    alias: Literal["staging", "champion"] | None = None

    @model_validator(mode="after")
    def _one(self) -> SwitchRequest:
        if (self.version is None) == (self.alias is None):
            raise ValueError("give either version or alias")
        return self


class ScaleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_workers: int | None = Field(default=None, ge=1, le=16)
    max_workers: int | None = Field(default=None, ge=1, le=16)
    sla_ms: float | None = Field(default=None, gt=0, le=60000)


class DeploymentPage(BaseModel):
    items: list[DeploymentOut]
    total: int


class EventOut(BaseModel):
    id: int
    action: str
    version: int | None
    detail: dict[str, Any] | None
    actor: str
    at: str


class EventPage(BaseModel):
    items: list[EventOut]
    total: int


class TrafficPoint(BaseModel):
    start: float
    requests: int
    errors: int
    rejected: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class DeploymentMetrics(BaseModel):
    window_seconds: float
    sla_ms: float
    requests: int
    errors: int
    rejected: int
    error_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    sla_compliance: float | None = Field(description="Share of answered requests within the SLA")
    series: list[TrafficPoint]


class LogOut(BaseModel):
    worker: str
    lines: list[str]


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    deployment: Name | None = Field(default=None, description="Limit the key to one deployment")
    rate_per_s: float | None = Field(default=None, gt=0, le=1e6, description="This key's own rate limit")


class KeyOut(BaseModel):
    name: str
    prefix: str
    deployment: str | None
    rate_per_s: float | None
    created_by: str
    created_at: str
    revoked_at: str | None


class NewKeyOut(KeyOut):
    key: str = Field(description="The key itself: shown once, stored only as a hash")


class KeyPage(BaseModel):
    items: list[KeyOut]
    total: int


class PredictionOut(BaseModel):
    prediction_id: str
    ts: str
    version: int
    protocol: str
    latency_ms: float
    request: str
    response: str
    label: str | None = Field(description="Ground truth posted later to /feedback (JSON), if any")


class PredictionPage(BaseModel):
    items: list[PredictionOut]
    total: int
    table: str


DatasetName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: DatasetName = Field(description="A dataset (Iceberg table) of the project to score")
    snapshot_id: Int64 | None = Field(default=None, description="Its snapshot; default: the current one")
    output_dataset: DatasetName | None = Field(default=None, description="Write the scored rows to this dataset "
                                                                         "(a new snapshot); default: a Parquet file")
    chunk_rows: int = Field(default=10_000, ge=1, le=1_000_000)


class BatchJobOut(BaseModel):
    id: str
    deployment: str
    version: int
    status: str
    source: dict[str, Any]
    output: dict[str, Any]
    chunk_rows: int
    chunks_total: int
    chunks_done: int
    rows: int
    message: str | None
    created_by: str
    created_at: str
    finished_at: str | None


class BatchJobPage(BaseModel):
    items: list[BatchJobOut]
    total: int



class ClientTlsRequest(BaseModel):
    """A project's mutual-TLS policy at the serving gateway (docs/security.md#tls-at-the-serving-gateway)."""

    model_config = ConfigDict(extra="forbid")

    require_client_cert: bool = Field(description="Refuse a request without a client certificate issued by the "
                                      "bundle's CA and mapped to the API key presented")
    ca_pem: Annotated[str, StringConstraints(max_length=200_000)] | None = Field(
        default=None, description="PEM bundle of the CAs that issue the project's client certificates (unset: keep)")


class ClientCertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    certificate_pem: Annotated[str, StringConstraints(min_length=1, max_length=50_000)]
    key_prefix: Annotated[str, StringConstraints(min_length=1, max_length=16)] = Field(
        description="The API key (its prefix) this certificate must come with")


class ClientCertOut(BaseModel):
    fingerprint: str = Field(description="sha256 of the certificate's DER, hex")
    subject: str
    key_prefix: str
    created_by: str


class ClientTlsOut(BaseModel):
    require_client_cert: bool
    ca_pem: str | None
    certificates: list[ClientCertOut]
