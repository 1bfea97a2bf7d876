"""The backend's FastAPI application: tenancy, access and audit today; every capability mounts here."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from jupyter_mlp import __version__
from jupyter_mlp.identity import ensure_secret
from jupyter_mlp.settings import Settings, load_settings

from . import at_rest, heap
from .db import Database
from .event_feed import prune as prune_events
from .assistant import routes as assistant_routes
from .cards import routes as card_routes
from .datasets import routes as dataset_routes
from .datasets.catalog import Catalog
from .errors import install_error_handlers
from .experiments import gateway_routes as mlflow_gateway_routes
from .experiments import routes as experiment_routes
from .experiments import run_links
from .experiments.state import Experiments
from .identity import make_resolver
from .monitoring import routes as monitoring_routes
from .monitoring.alerts import deliver_events as deliver_alert_events
from .monitoring.service import State as MonitoringState
from .pipelines import routes as pipeline_routes
from .pipelines import run_watcher as pipeline_run_watcher
from .pipelines import runs as pipeline_runs
from .pipelines import schedule_service as pipeline_schedule_service
from .pipelines import schedules as pipeline_schedules
from .pipelines.dagster_service import DagsterService
from .recommender import routes as recommender_routes
from .registry import mlflow_gateway as registry_gateway
from .registry import routes as registry_routes
from .routes import audit as audit_routes
from .routes import events as event_routes
from .routes import identity as identity_routes
from .routes import projects as project_routes
from .routes import security as security_routes
from .serving import deployments as serving_deployments
from .serving import routes as serving_routes
from .serving.gateway import Gateway
from .serving.client_tls import ClientTls
from .serving.keys import key_lookup
from .serving.batch import BatchRunner
from .serving.batch import resume as batch_resume
from .serving.manager import Manager
from .serving import predlog
from .serving.predlog import PredictionLog, event_recorder
from .serving.metrics import install as install_metrics
from .ship import routes as ship_routes
from .ship.service import ShipState
from .schemas import ErrorBody, Health
from .deps import Caller
from .limits import BodyLimit

log = logging.getLogger("jupyter_mlp_backend")

ERROR_RESPONSES = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "Malformed request",
        401: "Missing, forged or expired identity",
        403: "Role too low",
        404: "Not found (or not yours)",
        409: "Conflict",
        422: "Invalid field",
    }.items()
}


async def _resume_deployments(app: FastAPI) -> None:
    try:
        await serving_deployments.resume(app)
    except Exception:
        log.exception("could not resume the deployments")


class Backend(FastAPI):
    """`/serve/...` goes straight to the serving gateway, ahead of Starlette's middleware stack (about 15 µs a
    request, issue 17): the hot path skips FastAPI's middleware, routing and dependencies."""

    async def __call__(self, scope, receive, send):  # noqa: ANN001
        if scope["type"] == "http" and scope["path"].startswith("/serve/"):
            gateway = getattr(self.state, "gateway", None)
            if gateway is not None:
                await gateway(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


async def _after(first: asyncio.Task, then, seconds: float = 20.0) -> None:  # noqa: ANN001
    """Run `then` once `first` is done, or after `seconds` (a slow deployment does not hold the rest back)."""
    await asyncio.wait([first], timeout=seconds)
    try:
        result = then()
        if asyncio.iscoroutine(result):
            await result
    except Exception:  # the log says why; the backend serves on
        log.exception("starting %s", getattr(then, "__qualname__", then))


async def _resume_schedules(app: FastAPI) -> None:
    try:
        await pipeline_schedule_service.resume(app)
    except Exception:  # a broken Dagster must not stop the backend; the log says why
        log.exception("could not start Dagster's daemon for the pipeline schedules")


async def _audit_checkpoints(app: FastAPI) -> None:
    """Audit checkpoints by time (docs/security.md#audit-checkpoints): every `audit_checkpoint_minutes`, one at the
    head when entries came since the last; those by count are signed in `audit.append`."""
    from . import audit
    from .audit_export import app_signer

    minutes = app.state.settings.audit_checkpoint_minutes
    if minutes <= 0:
        return

    def sign() -> None:
        with app.state.db.session() as s:
            audit.checkpoint(s, app_signer(app))
            s.commit()

    while True:
        await asyncio.sleep(minutes * 60)
        try:
            await asyncio.to_thread(sign)
        except Exception:  # the database may be busy or the KMS down: next round
            log.exception("could not sign an audit checkpoint")


async def _prune_events(app: FastAPI) -> None:
    """Retention of the events outbox (docs/events.md#retention): every few minutes, webhooks take the alert events
    no evaluation has delivered yet, then the events every consumer has and older than the retention go."""
    settings = app.state.settings
    if settings.events_retention_seconds <= 0:
        return
    every = min(600.0, max(1.0, settings.events_retention_seconds / 4))
    while True:
        await asyncio.sleep(every)
        try:
            await deliver_alert_events(app)
            gone = await asyncio.to_thread(prune_events, app.state.db, settings.events_retention_seconds,
                                           bool(settings.kafka_bootstrap))
            if gone:
                log.info("pruned %d delivered event(s) older than %d s", gone, settings.events_retention_seconds)
        except Exception:  # the database may be busy or down: next round
            log.exception("could not prune the events outbox")


SHUTDOWN_STEP_SECONDS = 30.0  # each step's own bounds (worker grace, committer, relay join) are shorter


async def _bounded(step: str, work, seconds: float | None = None) -> None:  # noqa: ANN001
    """Await one shutdown step for at most SHUTDOWN_STEP_SECONDS; one that overruns is cancelled and named in the
    log, and the stop goes on (a stop never hangs on one part). Not wait_for: that waits for the cancellation too."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait([task], timeout=SHUTDOWN_STEP_SECONDS if seconds is None else seconds)
    if not done:
        task.cancel()
        log.error("shutdown: %s did not stop within %.0f s; going on without it", step,
                  SHUTDOWN_STEP_SECONDS if seconds is None else seconds)
    elif not task.cancelled() and task.exception() is not None:
        log.error("shutdown: %s failed", step, exc_info=task.exception())


def create_app(settings: Settings | None = None, eager: bool = False) -> FastAPI:
    """The backend app. `eager`: start managed services (MLflow) at once rather than on first use."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        secret = ensure_secret(settings.secret_path)
        db = Database(settings.effective_database_url)
        db.migrate()
        app.state.db = db
        from .audit import CHECKPOINTER, Checkpointer
        from .audit_export import app_signer

        db.share(CHECKPOINTER, Checkpointer(lambda: app_signer(app), settings.audit_checkpoint_entries))
        db.share(at_rest.KEYRING, at_rest.keyring(app))  # column-policy secrets unwrap with the master key
        app.state.secret = secret
        app.state.event_relay = None
        if settings.kafka_bootstrap:  # platform events from the outbox to Kafka (docs/events.md)
            from .event_relay import Relay

            app.state.event_relay = Relay(db, settings.kafka_bootstrap, settings.kafka_topic_prefix)
            app.state.event_relay.start()
        app.state.resolver = make_resolver(settings, secret)
        app.state.experiments = Experiments(settings)
        app.state.dagster = DagsterService(settings)
        app.state.datasets = Catalog(settings.home, settings.iceberg_warehouse, settings.s3_endpoint_url,
                                     keys=at_rest.iceberg_keys(app))  # sealed data files (encryption at rest)
        app.state.serving = Manager(settings.home, settings.serving_worker_start_timeout)
        app.state.serving.on_event = serving_deployments.record_event(app)
        app.state.serving.start_supervisor()
        app.state.gateway = Gateway(app.state.serving, key_lookup(app),
                                    key_rate=settings.serving_key_rate, project_rate=settings.serving_project_rate,
                                    max_body=settings.serving_max_body_bytes,
                                    reject_rate=settings.serving_reject_rate)
        app.state.gateway.predlog = PredictionLog(app.state.datasets, settings.home)
        app.state.gateway.predlog.on_event = event_recorder(app)
        app.state.gateway.predlog.committer_env = {  # the committer seals the log's data files (encryption at rest)
            predlog.DATABASE_ENV: settings.effective_database_url, predlog.MASTER_KEY_ENV: settings.at_rest_master_key}
        app.state.gateway.predlog.start()
        app.state.serving_tls = None
        app.state.gateway.client_tls = ClientTls()  # projects' client-certificate policies (mutual TLS)
        if settings.serving_tls_cert and settings.serving_tls_key:  # TLS 1.3 only; /serve/ on this port refused
            from .serving.tls import server_context, start_listener

            ctx = app.state.gateway.client_tls.context = server_context(str(settings.serving_tls_cert),
                                                                        str(settings.serving_tls_key))
            app.state.serving_tls, tls_port = await start_listener(
                app.state.gateway, settings.backend_host, settings.serving_tls_port, str(settings.serving_tls_cert),
                str(settings.serving_tls_key), ctx)
            host = f"[{settings.backend_host}]" if ":" in settings.backend_host else settings.backend_host
            app.state.gateway.tls_only = f"https://{host}:{tls_port}"
        with db.session() as s:
            app.state.gateway.client_tls.load(s)
        app.state.batch = BatchRunner(app)
        app.state.monitoring = MonitoringState()
        app.state.ships = ShipState()  # Ships in flight (docs/ship.md)
        # Pipeline runs nobody polls are closed (MLflow parent ended, models registered) when Dagster says they ended
        watcher = asyncio.create_task(pipeline_run_watcher.watch(app))
        background = [watcher, asyncio.create_task(_prune_events(app)), asyncio.create_task(_audit_checkpoints(app))]
        if eager:
            # Serving first: the deployments' workers load before MLflow and Dagster start competing for the CPU
            # (both start on first use anyway), which shortens a restart's gap at the same URL.
            app.state.serving.resuming = True  # an unknown deployment answers 503, not 404, until they are read
            resumed = asyncio.create_task(_resume_deployments(app))
            background.append(resumed)
            # MLflow, and its store opened with the runs search's indexes built (issue 17): a store that lacks them
            # (new, upgraded, bulk-filled) gets them now, not on the first user's call to the runs list.
            ready = asyncio.create_task(_after(resumed, app.state.experiments.ready))
            background.append(ready)
            background.append(asyncio.create_task(_after(resumed, lambda: _resume_schedules(app))))
            background.append(asyncio.create_task(batch_resume(app)))
            if settings.container_engine != "none":
                # Announced, in the background: the first pipeline run must not pay for the image build unawares.
                from .pipelines.containers import prepare_base_image_in_background

                prepare_base_image_in_background(settings, log.info)
            # what MLflow's start imported and keeps, out of the collector's sight too (heap.py)
            background.append(asyncio.create_task(_after(ready, heap.settle, 120)))
        log.info("backend ready (db %s, auth %s)", db.engine.url.render_as_string(hide_password=True),
                 settings.auth_mode)
        # The start's heap (millions of objects) out of every later full collection: walking it stopped the event
        # loop 100-200 ms every few seconds under load, every request in flight waiting (issue 17, heap.py).
        heap.settle()
        yield
        # Every step bounded (_bounded): a part that does not stop is logged and left, never holds the rest up.
        await _bounded("ships", app.state.ships.shutdown())
        for task in background:
            task.cancel()
        # a round under way finishes its database work before the database closes (bounded: a stop never hangs)
        await asyncio.wait([watcher], timeout=10)
        await _bounded("batch jobs", app.state.batch.stop())
        if app.state.serving_tls is not None:
            app.state.serving_tls.close()
        await _bounded("serving", app.state.serving.shutdown(), 120)  # 5 s grace per deployment
        await _bounded("prediction log", app.state.gateway.predlog.stop(), 60)
        await _bounded("dagster", app.state.dagster.stop())
        await _bounded("mlflow", app.state.experiments.stop())
        if app.state.event_relay:
            await _bounded("event relay", asyncio.to_thread(app.state.event_relay.stop))
        db.dispose()
        heap.thaw()  # a process that goes on (a test's) collects this app's objects again

    app = Backend(
        title="jupyter-mlp backend",
        version=__version__,
        summary="Projects, access and audit of the jupyter-mlp platform",
        lifespan=lifespan,
        # No unauthenticated documentation: the document is `/api/openapi.json` (any signed-in user) and
        # `python -m jupyter_mlp_backend.openapi`; the interactive pages would load their scripts from a CDN.
        docs_url=None, redoc_url=None, openapi_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)

    api = APIRouter(responses=ERROR_RESPONSES)  # "/api": the prefix is given where the app includes it (below)

    @api.get("/health", response_model=Health, tags=["health"], summary="Liveness; the one route without identity")
    def health() -> Health:
        return Health(status="ok", version=__version__)

    @api.get("/openapi.json", include_in_schema=False)
    def openapi_document(who: Caller) -> JSONResponse:  # noqa: ARG001 - identity required, any user
        return JSONResponse(app.openapi())

    api.include_router(identity_routes.router)
    api.include_router(project_routes.router)
    api.include_router(audit_routes.router)
    api.include_router(security_routes.router)
    api.include_router(event_routes.router)
    api.include_router(experiment_routes.router)
    api.include_router(pipeline_routes.router)
    api.include_router(pipeline_runs.router)
    api.include_router(pipeline_schedules.router)
    api.include_router(registry_routes.router)
    api.include_router(card_routes.router)
    api.include_router(dataset_routes.router)
    api.include_router(serving_routes.router)
    api.include_router(monitoring_routes.router)
    api.include_router(ship_routes.router)
    api.include_router(assistant_routes.router)
    api.include_router(recommender_routes.router)
    # The prefix here, not on the router: FastAPI (0.165) checks an include without a prefix by building every
    # route's context at once (the pydantic models of ~120 routes: 0.3-3 s, nearly all of create_app(), which the
    # tests call ~350 times); with a prefix they are built when first matched (a route's mistakes show then, and
    # in the OpenAPI document, which builds them all).
    app.include_router(api, prefix="/api")
    install_metrics(app)
    app.add_middleware(BodyLimit, max_request_bytes=settings.max_request_bytes,
                       max_upload_bytes=settings.max_upload_bytes)
    mlflow_gateway_routes.install(app)
    registry_gateway.install()
    app.include_router(run_links.router)
    app.include_router(dataset_routes.gateway)
    return app
