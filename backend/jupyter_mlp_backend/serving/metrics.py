"""Prometheus exposition of serving: per deployment, a request latency histogram whose buckets include the
deployment's SLA, requests by status, workers running. `GET /metrics`, for platform admins (a Prometheus server
scrapes with an admin's token: `authorization: credentials_file` in its scrape config)."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from starlette.concurrency import run_in_threadpool

from ..access import require_platform_admin
from . import predlog


class ServingCollector:
    def __init__(self, app: FastAPI):
        self.app = app

    def collect(self):  # noqa: ANN201
        manager = getattr(self.app.state, "serving", None)
        lives = list(manager.live.values()) if manager else []
        hist = HistogramMetricFamily("mlp_serving_request_duration_seconds",
                                     "Time from request to answer at the gateway, answered requests",
                                     labels=["project", "deployment"])
        reqs = CounterMetricFamily("mlp_serving_requests", "Requests by HTTP status",
                                   labels=["project", "deployment", "status"])
        workers = GaugeMetricFamily("mlp_serving_workers", "Workers serving", labels=["project", "deployment"])
        sla = GaugeMetricFamily("mlp_serving_sla_seconds", "The deployment's latency objective (p95)",
                                labels=["project", "deployment"])
        since = GaugeMetricFamily("mlp_serving_counters_start_time_seconds",
                                  "When this backend began counting the deployment's requests (Unix time): the "
                                  "counters start from zero when the backend restarts", labels=["project", "deployment"])
        for live in lives:
            st = live.stats
            acc, buckets = 0, []
            for bound, n in zip(st.buckets, st.bucket_counts):
                acc += n
                buckets.append((_le(bound / 1000), acc))
            buckets.append(("+Inf", st.total))
            hist.add_metric([live.project, live.name], buckets, st.sum_ms / 1000)
            for status, n in sorted(st.by_status.items()):
                reqs.add_metric([live.project, live.name, status], n, created=st.started)
            since.add_metric([live.project, live.name], st.started)
            workers.add_metric([live.project, live.name], len(live.pool.live()) if live.pool else 0)
            sla.add_metric([live.project, live.name], st.sla_ms / 1000)
        yield from (hist, reqs, workers, sla, since)


def _le(x: float) -> str:
    return repr(float(x))


def install(app: FastAPI) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServingCollector(app))
    registry.register(predlog.LogCollector(app))

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        from ..identity import bearer_token

        who = request.app.state.resolver.resolve(bearer_token(request.headers.get("authorization")))

        def check() -> None:
            with request.app.state.db.session() as s:
                require_platform_admin(s, who, "metrics.read")
                s.commit()

        await run_in_threadpool(check)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
