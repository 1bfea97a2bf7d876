"""Citations: which record a figure or a name in an answer came from, and how to open it.

A citation is `{"type", "id", "label", "project", ...}`. Types and ids (the answer contract,
tests/bench/assistant_score.py): run -> MLflow run id; model_version -> "<project>/<model>/<version>";
gate_decision, monitor_window, retraining, alert -> the platform's integer id as text; deployment ->
"<project>/<name>"; project -> slug; dataset_snapshot -> the Iceberg snapshot id. Two more cite the result of a
query, for figures that count or summarize records rather than sit in one: run_search (id: the project; `filter`,
`experiment_id`: the MLflow search that was counted), predictions (id: "<project>/<deployment>"; `since`: the
start of the period, epoch seconds), monitor_windows (id: "<project>/<deployment>": the monitor's windows),
alerts (id: the project; `state`: the alerts listed) and pipeline_runs (id: "<project>/<pipeline>"; `since`,
`status`: the runs of the pipeline started since then with that status). pipeline_run -> our run id (a uuid).

`record_path(citation)` -> (API path under /api, query params, pick): GET the path as the user and `pick` the
record from the body. The UI opens the same records in its panels; the bench reads them to check every figure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import quote


def _q(s: Any) -> str:
    return quote(str(s), safe="")


def _by_id(ident: str) -> Callable[[Any], Any]:
    def pick(body: Any) -> Any:
        for item in body.get("items", []):
            if str(item.get("id")) == str(ident):
                return item
        raise KeyError(f"record {ident} not in the listing")
    return pick


def _since(since: float) -> Callable[[Any], Any]:
    def pick(body: Any) -> Any:
        def ts(r: dict) -> float:
            t = dt.datetime.fromisoformat(str(r.get("ts")).replace("Z", "+00:00"))
            return (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).timestamp()
        items = [r for r in body.get("items", []) if r.get("ts") and ts(r) >= since]
        return {"since": since, "requests": len(items), "items": items}
    return pick


def _runs_since(since: float, status: str | None) -> Callable[[Any], Any]:
    def pick(body: Any) -> Any:
        def ts(r: dict) -> float:
            t = dt.datetime.fromisoformat(str(r.get("created_at")).replace("Z", "+00:00"))
            return (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).timestamp()
        items = [r for r in body.get("items", []) if r.get("created_at") and ts(r) >= since
                 and (status is None or r.get("status") == status)]
        return {"since": since, "status": status, "runs": len(items), "items": items}
    return pick


def _same(body: Any) -> Any:
    return body


def record_path(c: dict[str, Any]) -> tuple[str, dict[str, Any], Callable[[Any], Any]]:
    t, ident, p = c["type"], str(c["id"]), c.get("project")
    if t == "project":
        return f"/projects/{_q(ident)}", {}, _same
    if t == "run":
        return f"/projects/{_q(p)}/runs/{_q(ident)}", {}, _same
    if t == "model_version":
        slug, model, version = ident.rsplit("/", 2)
        return f"/projects/{_q(slug)}/models/{_q(model)}/versions/{_q(version)}", {}, _same
    if t == "deployment":
        slug, name = ident.split("/", 1)
        return f"/projects/{_q(slug)}/deployments/{_q(name)}", {}, _same
    if t == "gate_decision":
        return f"/projects/{_q(p)}/gate-decisions", {"limit": 1000, "model": c.get("model")}, _by_id(ident)
    if t == "alert":
        return f"/projects/{_q(p)}/alerts", {"limit": 1000}, _by_id(ident)
    if t == "alerts":
        return f"/projects/{_q(ident)}/alerts", {"limit": 1000, "state": c.get("state")}, _same
    if t == "monitor_window":
        return f"/projects/{_q(p)}/deployments/{_q(c['deployment'])}/monitor/windows", {"limit": 1000}, _by_id(ident)
    if t == "retraining":
        return (f"/projects/{_q(p)}/deployments/{_q(c['deployment'])}/monitor/retrainings", {"limit": 1000},
                _by_id(ident))
    if t == "monitor_windows":
        slug, name = ident.split("/", 1)
        return f"/projects/{_q(slug)}/deployments/{_q(name)}/monitor/windows", {"limit": 1000}, _same
    if t == "predictions":
        slug, name = ident.split("/", 1)
        return (f"/projects/{_q(slug)}/deployments/{_q(name)}/predictions", {"limit": 100_000},
                _since(float(c["since"])))
    if t == "pipeline_run":
        return f"/projects/{_q(p)}/pipeline-runs/{_q(ident)}", {}, _same
    if t == "pipeline_runs":
        slug, name = ident.split("/", 1)
        return f"/projects/{_q(slug)}/pipelines/{_q(name)}/runs", {"limit": 1000}, \
            _runs_since(float(c["since"]), c.get("status"))
    if t == "run_search":
        params = {"filter": c.get("filter") or None, "experiment_id": c.get("experiment_id") or None, "limit": 1}
        return f"/projects/{_q(ident)}/runs", {k: v for k, v in params.items() if v is not None}, \
            lambda body: {"total": body.get("total"), "filter": c.get("filter")}
    raise ValueError(f"unknown citation type {t!r}")
