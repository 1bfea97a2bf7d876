"""`mlp`: the platform from a terminal. Every verb goes through the backend's API, as the panel does."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .settings import load_settings


def _client():  # noqa: ANN202 - imported lazily so `mlp --help` stays instant
    from .client import BackendClient

    return BackendClient()


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def _emit(args: argparse.Namespace, data: Any, columns: list[str] | None = None) -> None:
    if args.json or columns is None:
        print(json.dumps(data, indent=2))
    else:
        print(_table(data["items"], columns))
        if data["total"] > len(data["items"]):
            print(f"({len(data['items'])} of {data['total']}; use --limit/--offset for more)")


def cmd_up(args: argparse.Namespace) -> int:
    from .platform import up

    return up(load_settings(), Path(args.root_dir).resolve(), detach=args.detach)


def cmd_down(args: argparse.Namespace) -> int:
    from .platform import down

    return down(load_settings())


def cmd_projects_list(args: argparse.Namespace) -> int:
    _emit(args, _client().get("/projects", limit=args.limit, offset=args.offset), ["slug", "name", "role", "created_by"])
    return 0


def cmd_projects_create(args: argparse.Namespace) -> int:
    p = _client().post("/projects", {"slug": args.slug, "name": args.name or args.slug, "description": args.description})
    print(json.dumps(p, indent=2) if args.json else f"Created project {p['slug']} ({p['name']})")
    return 0


def cmd_members_list(args: argparse.Namespace) -> int:
    _emit(args, _client().get(f"/projects/{args.project}/members", limit=args.limit, offset=args.offset),
          ["user", "role", "added_by", "added_at"])
    return 0


def cmd_members_add(args: argparse.Namespace) -> int:
    m = _client().put(f"/projects/{args.project}/members/{args.user}", {"role": args.role})
    print(json.dumps(m, indent=2) if args.json else f"{m['user']} is {m['role']} in {args.project}")
    return 0


def cmd_members_remove(args: argparse.Namespace) -> int:
    _client().delete(f"/projects/{args.project}/members/{args.user}")
    print(f"Removed {args.user} from {args.project}")
    return 0


def _fmt_time(ms: int | None) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M") if ms else ""


def _run_rows(items: list[dict[str, Any]], metrics: list[str], params: list[str]) -> list[dict[str, Any]]:
    rows = []
    for r in items:
        row = {"run_id": r["run_id"], "name": r.get("run_name") or "", "status": r["status"],
               "started": _fmt_time(r.get("start_time"))}
        row.update({f"m.{k}": _num(r["metrics"].get(k)) for k in metrics})
        row.update({f"p.{k}": r["params"].get(k, "") for k in params})
        rows.append(row)
    return rows


def _num(v: Any) -> str:
    return "" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)


def _experiment_ids(client: Any, slug: str, wanted: list[str]) -> list[str]:
    """Experiment names or ids of the project -> ids; an unknown one is named with the project's experiments."""
    from .client import APIError

    known = client.get(f"/projects/{slug}/experiments")["items"]
    by_name = {e["name"]: e["experiment_id"] for e in known}
    ids = {e["experiment_id"] for e in known}
    out = []
    for w in wanted:
        if w not in by_name and w not in ids:
            names = ", ".join(sorted(by_name)) or "none"
            raise APIError(404, "not_found", f"No experiment '{w}' in {slug} (its experiments: {names})")
        out.append(by_name.get(w, w))
    return out


def cmd_runs_list(args: argparse.Namespace) -> int:
    client = _client()
    experiments = _experiment_ids(client, args.project, args.experiment) if args.experiment else None
    page = client.get(f"/projects/{args.project}/runs", filter=args.filter or None, experiment_id=experiments,
                      order_by=args.order_by or None, limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    metrics = args.metrics.split(",") if args.metrics else sorted({k for r in page["items"] for k in r["metrics"]})[:4]
    params = args.params.split(",") if args.params else sorted({k for r in page["items"] for k in r["params"]})[:4]
    rows = _run_rows(page["items"], metrics, params)
    print(_table(rows, list(rows[0]) if rows else ["run_id"]))
    print(f"({len(rows)} of {page['total']} runs)")
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    r = _client().get(f"/projects/{args.project}/runs/{args.run_id}")
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"Run {r['run_id']}  {r.get('run_name') or ''}  [{r['status']}]  by {r.get('user')}  "
          f"started {_fmt_time(r.get('start_time'))}")
    for title, data in (("Params", r["params"]), ("Metrics", {k: _num(v) for k, v in r["metrics"].items()})):
        print(f"\n{title}:")
        for k in sorted(data):
            print(f"  {k:<30} {data[k]}")
    lin = r["lineage"]
    print("\nLineage:")
    for k in ("notebook_path", "notebook_sha256", "git_commit", "git_dirty", "python_version", "freeze_sha256"):
        print(f"  {k:<30} {'' if lin.get(k) is None else lin[k]}")
    for d in lin.get("datasets", []):
        print(f"  dataset {d['name']}: {d.get('sha256') or d.get('snapshot_id')} ({d.get('rows')} rows)")
    return 0


def cmd_runs_compare(args: argparse.Namespace) -> int:
    c = _client().get(f"/projects/{args.project}/compare", run_ids=",".join(args.run_ids))
    if args.json:
        print(json.dumps(c, indent=2))
        return 0
    runs = c["runs"]
    header = ["", *[(r.get("run_name") or r["run_id"][:8]) for r in runs]]
    rows = []
    for k in c["param_keys"]:
        mark = "* " if k in c["differing_params"] else "  "
        rows.append({"": f"{mark}params.{k}", **{h: r["params"].get(k, "") for h, r in zip(header[1:], runs)}})
    for k in c["metric_keys"]:
        rows.append({"": f"  metrics.{k}", **{h: _num(r["metrics"].get(k)) for h, r in zip(header[1:], runs)}})
    print(_table(rows, header))
    print("(* marks parameters that differ)")
    return 0


def _problems(problems: list[dict[str, Any]]) -> None:
    for p in problems:
        where = f"cell {p['cell']}" if p.get("cell") else "notebook"
        print(f"  {p['severity'].upper():7} {where:>9}  {p['message']}", file=sys.stderr)


def cmd_promote(args: argparse.Namespace) -> int:
    from .client import APIError
    from .projects import project_of

    path = Path(args.notebook).resolve()
    try:
        nb = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        print(f"mlp: cannot read {args.notebook} as a notebook: {e}", file=sys.stderr)
        return 2
    project = args.project or project_of("/", str(path)).project
    if not project:
        print(f"mlp: {args.notebook} is in no project: add --project, or an mlp-project.toml with "
              'project = "<slug>" in its folder or a parent', file=sys.stderr)
        return 2
    body: dict[str, Any] = {"notebook": nb, "path": args.source_path or str(path)}
    client = _client()
    if args.check:
        rep = client.post(f"/projects/{project}/pipelines/preflight", body)
        print(json.dumps(rep, indent=2) if args.json else
              f"Stages: {', '.join(s['name'] for s in rep['stages'])}; "
              f"parameters: {', '.join(p['name'] for p in rep['parameters']) or 'none'}")
        _problems(rep["problems"])
        return 0 if rep["ok"] else 1
    if args.name:
        body["name"] = args.name
    try:
        r = client.post(f"/projects/{project}/pipelines", body)
    except APIError as e:
        if e.code == "preflight_failed":
            print(f"mlp: {e.message}", file=sys.stderr)
            _problems(e.detail or [])
            return 1
        raise
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        state = "new version" if r["created"] else "unchanged: same content as an existing version"
        print(f"Pipeline {r['pipeline']} in {project}: version {r['version'][:12]} ({state})")
        for s in r["stages"]:
            deps = f" <- {', '.join(s['depends_on'])}" if s["depends_on"] else ""
            print(f"  stage {s['name']}: cells {s['cells']}, in {s['inputs']}, out {s['outputs']}{deps}")
    _problems([p for p in r["problems"] if p["severity"] == "warning"])
    return 0


def _parse_param(text: str) -> tuple[str, Any]:
    """`name=value`; the value is JSON when it parses (numbers, true, lists…), else a plain string."""
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise SystemExit(f"mlp: parameter '{text}' must look like name=value")
    try:
        return name, json.loads(raw)
    except ValueError:
        return name, raw


def cmd_pipelines_list(args: argparse.Namespace) -> int:
    page = _client().get(f"/projects/{args.project}/pipelines", limit=args.limit, offset=args.offset)
    for item in page["items"]:
        item["latest_version"] = item["latest_version"][:12]
    _emit(args, page, ["name", "versions", "latest_version", "updated_at", "source_path"])
    return 0


def cmd_pipelines_show(args: argparse.Namespace) -> int:
    p = _client().get(f"/projects/{args.project}/pipelines/{args.name}")
    if args.json:
        print(json.dumps(p, indent=2))
        return 0
    print(f"Pipeline {p['name']} (from {p['source_path']}), {len(p['versions'])} version(s)")
    for v in p["versions"]:
        print(f"  {v['version'][:12]}  {v['created_at'][:19]}  by {v['created_by']}  stages: {' -> '.join(v['order'])}")
    if p["versions"]:
        params = p["versions"][0]["parameters"]
        print("Parameters: " + (", ".join(f"{x['name']}: {x['type']} = {x['default']}" for x in params) or "none"))
    return 0


def _print_run(r: dict[str, Any]) -> None:
    where = {"docker": "in Docker containers", "subprocess": "in local subprocesses"}.get(r.get("executor") or "", "")
    print(f"Run {r['run_id']}  {r['pipeline']}@{r['version'][:12]}  {r['status']}  (MLflow run {r['mlflow_run_id']})"
          + (f"  {where}" if where else "") + (f"  scheduled #{r['schedule_id']}" if r.get("schedule_id") else ""))
    for s in r["stages"]:
        line = f"  {s['name']:<20} {s['status']}"
        if s.get("error"):
            line += f"  cell {s['error'].get('cell')}: {s['error'].get('error')}"
        print(line)


def _show_run(args: argparse.Namespace, client: Any, r: dict[str, Any]) -> dict[str, Any]:
    """Print a pipeline run; with --wait, first follow it until it ends."""
    if args.wait:
        import time

        while r["status"] not in ("SUCCESS", "FAILURE", "CANCELED"):
            time.sleep(1)
            r = client.get(f"/projects/{args.project}/pipeline-runs/{r['run_id']}")
    print(json.dumps(r, indent=2)) if args.json else _print_run(r)
    return r


def cmd_pipelines_run(args: argparse.Namespace) -> int:
    client = _client()
    body: dict[str, Any] = {"parameters": dict(_parse_param(p) for p in args.param or [])}
    if args.version:
        body["version"] = args.version
    r = client.post(f"/projects/{args.project}/pipelines/{args.name}/runs", body)
    r = _show_run(args, client, r)
    return 0 if r["status"] in ("SUCCESS", "STARTED", "QUEUED", "STARTING") else 1


def cmd_pipelines_status(args: argparse.Namespace) -> int:
    r = _client().get(f"/projects/{args.project}/pipeline-runs/{args.run_id}")
    print(json.dumps(r, indent=2)) if args.json else _print_run(r)
    return 0


def cmd_pipelines_cancel(args: argparse.Namespace) -> int:
    r = _client().post(f"/projects/{args.project}/pipeline-runs/{args.run_id}/cancel")
    print(json.dumps(r, indent=2)) if args.json else _print_run(r)
    return 0


def cmd_pipelines_log(args: argparse.Namespace) -> int:
    text = _client().get(f"/projects/{args.project}/pipeline-runs/{args.run_id}/stages/{args.stage}/log")
    sys.stdout.write(text or "(no output yet)\n")
    return 0


def cmd_pipelines_schedule(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"cron": args.cron, "timezone": args.timezone,
                            "parameters": dict(_parse_param(p) for p in args.param or [])}
    if args.version:
        body["version"] = args.version
    s = _client().post(f"/projects/{args.project}/pipelines/{args.name}/schedules", body)
    if args.json:
        print(json.dumps(s, indent=2))
    else:
        print(f"Schedule {s['id']}: {s['pipeline']}@{s['version'][:12]} at '{s['cron']}' ({s['timezone']}); "
              f"next: {', '.join(t[:16] for t in s['next_ticks'])}")
    return 0


def cmd_pipelines_schedules(args: argparse.Namespace) -> int:
    page = _client().get(f"/projects/{args.project}/pipelines/{args.name}/schedules", limit=args.limit,
                         offset=args.offset)
    for item in page["items"]:
        item["version"] = item["version"][:12]
        item["next"] = item["next_ticks"][0][:16] if item["next_ticks"] else ""
        item["parameters"] = json.dumps(item["parameters"], sort_keys=True)
    _emit(args, page, ["id", "cron", "timezone", "version", "parameters", "next", "last_run", "created_by"])
    return 0


def cmd_pipelines_unschedule(args: argparse.Namespace) -> int:
    _client().delete(f"/projects/{args.project}/pipeline-schedules/{args.schedule_id}")
    print(f"Schedule {args.schedule_id} deleted; the runs it launched stay.")
    return 0


def cmd_runs_replay(args: argparse.Namespace) -> int:
    client = _client()
    r = client.post(f"/projects/{args.project}/pipeline-runs/{args.run_id}/replay")
    r = _show_run(args, client, r)
    return 0 if r["status"] != "FAILURE" else 1


def _project(args: argparse.Namespace) -> str:
    """--project, else the nearest mlp-project.toml above the working directory."""
    from .projects import project_of

    slug = args.project or project_of("/", str(Path.cwd() / "_")).project
    if not slug:
        raise SystemExit("mlp: no project: add --project, or run inside a folder with an mlp-project.toml")
    return slug


def cmd_models_list(args: argparse.Namespace) -> int:
    page = _client().get(f"/projects/{_project(args)}/models", limit=args.limit, offset=args.offset)
    for m in page["items"]:
        m["aliases"] = ", ".join(f"{a}=v{v}" for a, v in sorted(m["aliases"].items())) or "-"
    _emit(args, page, ["name", "latest_version", "versions", "aliases", "pending_approvals"])
    return 0


def cmd_models_show(args: argparse.Namespace) -> int:
    client, slug = _client(), _project(args)
    m = client.get(f"/projects/{slug}/models/{args.name}")
    versions = client.get(f"/projects/{slug}/models/{args.name}/versions", limit=args.limit, offset=args.offset)
    pending = client.get(f"/projects/{slug}/gate-decisions", status="pending", model=args.name)
    if args.json:
        print(json.dumps({"model": m, "versions": versions, "pending": pending}, indent=2))
        return 0
    aliases = ", ".join(f"{a} -> v{v}" for a, v in sorted(m["aliases"].items())) or "none"
    print(f"Model {m['name']} in {slug} (MLflow: {m['mlflow_name']}); aliases: {aliases}")
    g = m["gates"]
    rules = [f"{t['metric']} {t['op']} {t['value']}" for t in g["thresholds"]]
    if g.get("challenger"):
        rules.append(f"beats champion on {g['challenger']['metric']} by {g['challenger']['margin']}")
    if g.get("require_approval"):
        rules.append("lead approval for champion")
    print("Gates: " + ("; ".join(rules) or "none"))
    for v in versions["items"]:
        sig = f"signed ({v['key_id']})" if v["signed"] else "UNSIGNED"
        print(f"  v{v['version']:<4} {', '.join(v['aliases']) or '-':<18} {sig:<26} data {v['lineage']['data_sha256'][:12]}"
              f"  run {v['run_id']}  by {v['created_by']}")
    for d in pending["items"]:
        print(f"  pending approval #{d['id']}: v{d['version']} -> {d['alias']} (asked by {d['requested_by']})")
    return 0


def _print_deployment(args: argparse.Namespace, d: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(d, indent=2))
        return
    prev = f" (previous v{d['previous_version']})" if d.get("previous_version") else ""
    print(f"Deployment {d['name']}: {d['model']} v{d['version']}{prev} — {d['status'].upper()}"
          + (f": {d['message']}" if d.get("message") else ""))
    print(f"  MLflow protocol: POST <backend>{d['url']}")
    print(f"  Open Inference v2: POST <backend>{d['v2_url']}")
    print(f"  workers {len(d['workers'])} (min {d['min_workers']}, max {d['max_workers']}), SLA p95 {d['sla_ms']:g} ms, "
          f"batches up to {d['max_batch']} rows")


def _target(spec: str) -> tuple[str, dict[str, Any]]:
    """NAME@ALIAS or NAME@VERSION (or NAME:VERSION) -> (model, {alias|version})."""
    name, sep, what = spec.replace(":", "@").partition("@")
    if not sep or not name or not what:
        raise SystemExit(f"mlp: '{spec}' is not MODEL@ALIAS or MODEL@VERSION (e.g. churn@champion, churn@3)")
    return name, ({"version": int(what)} if what.isdigit() else {"alias": what})


def cmd_deploy(args: argparse.Namespace) -> int:
    model, target = _target(args.target)
    body = {"name": args.name or model, "model": model, **target, "min_workers": args.min_workers,
            "max_workers": args.max_workers, "sla_ms": args.sla_ms, "max_batch": args.max_batch,
            "max_wait_ms": args.max_wait_ms}
    client, slug = _client(), _project(args)
    from .client import APIError

    try:
        d = client.post(f"/projects/{slug}/deployments", body)
    except APIError as e:
        if e.status != 409 or "exists" not in e.message:
            raise
        d = client.put(f"/projects/{slug}/deployments/{body['name']}/version", target)  # deploy = switch when it exists
    _print_deployment(args, d)
    return 0


def cmd_deployments_list(args: argparse.Namespace) -> int:
    page = _client().get(f"/projects/{_project(args)}/deployments", limit=args.limit, offset=args.offset)
    for d in page["items"]:
        d["workers"] = len(d["workers"])
    _emit(args, page, ["name", "model", "version", "status", "workers", "sla_ms", "url"])
    return 0


def cmd_deployments_show(args: argparse.Namespace) -> int:
    client, slug = _client(), _project(args)
    d = client.get(f"/projects/{slug}/deployments/{args.name}")
    if args.json:
        m = client.get(f"/projects/{slug}/deployments/{args.name}/metrics", minutes=args.minutes)
        print(json.dumps({"deployment": d, "metrics": m}, indent=2))
        return 0
    _print_deployment(args, d)
    m = client.get(f"/projects/{slug}/deployments/{args.name}/metrics", minutes=args.minutes)

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f} ms"

    rate = "-" if m["error_rate"] is None else f"{m['error_rate']:.2%}"
    sla = "-" if m["sla_compliance"] is None else f"{m['sla_compliance']:.2%}"
    print(f"  last {args.minutes:g} min: {m['requests']} requests, errors {rate}, rate-limited {m['rejected']}, "
          f"p50 {ms(m['p50_ms'])}, p95 {ms(m['p95_ms'])}, p99 {ms(m['p99_ms'])}, within SLA {sla}")
    for e in client.get(f"/projects/{slug}/deployments/{args.name}/events", limit=5)["items"]:
        print(f"  {e['at'][:19]} {e['action']:<9} v{e['version'] or '-'} by {e['actor']}")
    return 0


def cmd_deployments_switch(args: argparse.Namespace) -> int:
    _, target = _target(f"x@{args.target}")
    _print_deployment(args, _client().put(f"/projects/{_project(args)}/deployments/{args.name}/version", target))
    return 0


def cmd_deployments_rollback(args: argparse.Namespace) -> int:
    _print_deployment(args, _client().post(f"/projects/{_project(args)}/deployments/{args.name}/rollback"))
    return 0


def cmd_deployments_scale(args: argparse.Namespace) -> int:
    body = {k: v for k, v in (("min_workers", args.min_workers), ("max_workers", args.max_workers),
                              ("sla_ms", args.sla_ms)) if v is not None}
    _print_deployment(args, _client().patch(f"/projects/{_project(args)}/deployments/{args.name}", body))
    return 0


def cmd_deployments_delete(args: argparse.Namespace) -> int:
    _client().delete(f"/projects/{_project(args)}/deployments/{args.name}")
    print(f"Deployment {args.name} stopped and removed")
    return 0


def cmd_deployments_logs(args: argparse.Namespace) -> int:
    for w in _client().get(f"/projects/{_project(args)}/deployments/{args.name}/logs", lines=args.lines):
        print(f"== {w['worker']}")
        print("\n".join(w["lines"]))
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    import time

    client, slug = _client(), _project(args)
    base = f"/projects/{slug}/deployments/{args.deployment}/batch"
    if bool(args.dataset) == bool(args.input):
        raise SystemExit("mlp: give either --dataset NAME or --input FILE")
    if args.dataset:
        job = client.post(base, {"dataset": args.dataset, "snapshot_id": args.snapshot,
                                 "output_dataset": args.output_dataset, "chunk_rows": args.chunk_rows})
    else:
        path = Path(args.input)
        fmt = "csv" if path.suffix.lower() == ".csv" else "parquet"
        params = {"format": fmt, "chunk_rows": args.chunk_rows}
        if args.output_dataset:
            params["output_dataset"] = args.output_dataset
        job = client.request("POST", f"{base}/upload", params=params, content=path.read_bytes(),
                             headers_extra={"content-type": "application/octet-stream"})
    print(f"Batch job {job['id']}: {args.deployment} v{job['version']}", file=sys.stderr)
    while job["status"] in ("queued", "running"):
        time.sleep(0.5)
        job = client.get(f"/projects/{slug}/batch-jobs/{job['id']}")
        if job["chunks_total"] and not args.json:
            done, total = job["chunks_done"], job["chunks_total"]
            bar = "#" * int(30 * done / total)
            print(f"\r  [{bar:<30}] {done}/{total} chunks", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    if job["status"] != "succeeded":
        print(f"FAILED: {job['message']}", file=sys.stderr)
        return 1
    if job["output"]["kind"] == "file":
        target = Path(args.output or f"{job['id']}.parquet")
        target.write_bytes(client.request("GET", f"/projects/{slug}/batch-jobs/{job['id']}/output", raw=True))
        where = str(target)
    else:
        where = f"dataset {job['output']['dataset']} @ {job['output']['snapshot_id']}"
    print(json.dumps(job, indent=2) if args.json else f"Scored {job['rows']} rows -> {where}")
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    k = _client().post(f"/projects/{_project(args)}/api-keys",
                       {"name": args.name, "deployment": args.deployment, "rate_per_s": args.rate})
    if args.json:
        print(json.dumps(k, indent=2))
    else:
        print(k["key"])
        print(f"(key '{k['name']}', prefix {k['prefix']}: shown once, kept only as a hash)", file=sys.stderr)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    page = _client().get(f"/projects/{_project(args)}/api-keys", limit=args.limit, offset=args.offset)
    _emit(args, page, ["prefix", "name", "deployment", "rate_per_s", "created_by", "revoked_at"])
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    k = _client().delete(f"/projects/{_project(args)}/api-keys/{args.prefix}")
    print(json.dumps(k, indent=2) if args.json else f"Revoked key {k['prefix']} ({k['name']})")
    return 0


# --- monitoring -------------------------------------------------------------------------------------------------

METRICS = ("roc_auc", "f1", "rmse", "ece")
CHECK_FIRING = 3  # `mlp monitor check`'s exit code when alerts are firing after the check


def _when(iso: str | None) -> str:
    return (iso or "")[:19].replace("T", " ")


def _monitor_call(client: Any, method: str, path: str, deployment: str, **params: Any) -> Any:
    """A call on a deployment's monitor; a missing monitor is said with the command that creates one."""
    from .client import APIError

    try:
        return client.request(method, path, params={k: v for k, v in params.items() if v is not None})
    except APIError as e:
        if e.status == 404 and "has no monitor" in e.message:
            raise SystemExit(f"mlp: deployment '{deployment}' has no monitor: create one with "
                             f"`mlp monitor set {deployment}`") from None
        raise


def _tolerances(items: list[str] | None) -> dict[str, float]:
    out = {}
    for text in items or []:
        metric, sep, raw = text.partition("=")
        try:
            value = float(raw)
        except ValueError:
            value = None
        if not sep or metric not in METRICS or value is None:
            raise SystemExit(f"mlp: tolerance '{text}' must look like metric=value, metric one of "
                             f"{', '.join(METRICS)} (e.g. roc_auc=0.03)")
        out[metric] = value
    return out


def _print_monitor(m: dict[str, Any]) -> None:
    state = "enabled" if m["enabled"] else "DISABLED"
    windows = (f"windows of {m['window_seconds']} s of predictions (thresholds calibrated for {m['window_size']} "
               "rows)" if m.get("window_seconds") else f"windows of {m['window_size']} predictions")
    print(f"Monitor of {m['deployment']}: {m['model']} v{m['version']} — {m['status'].upper()} ({state}), "
          f"{windows}, {m['pending_rows']} waiting for the next window, {m['firing']} alert(s) firing")
    if m["retrain"]:
        print(f"  retraining: on {m['retrain_on']} alerts, at most once per {m['cooldown_s']} s")
    else:
        print("  retraining: off")
    tol = [f"{k} {v:g}" for k, v in sorted(m["tolerance"].items())]
    unset = [k for k in METRICS if k not in m["tolerance"] and k != "rmse"]
    if unset:
        tol.append(f"{', '.join(unset)} 0.05 (default)")
    if "rmse" not in m["tolerance"]:
        tol.append("rmse 10% of the baseline (default)")
    print(f"  tolerated loss against the baseline: {'; '.join(tol)}")
    base = m["baseline"]
    metrics = ", ".join(f"{k} {_num(v)}" for k, v in sorted((base.get("metrics") or {}).items()))
    print(f"  baseline: {metrics} (from {base['source']})" if metrics else
          "  baseline: none (no passing gate evaluation and no logged roc_auc/f1/rmse/ece): performance is not checked")
    if m.get("evaluated_at"):
        print(f"  last evaluated: {_when(m['evaluated_at'])}")
    if m.get("message"):
        print(f"  note: {m['message']}")
    p = m.get("profile")
    if not p:
        print("  reference profile: none yet")
        return
    if p["status"] != "ready":
        print(f"  reference profile: {p['status'].upper()}" + (f": {p['message']}" if p.get("message") else ""))
        return
    print(f"  reference profile: dataset {p['dataset']} @ snapshot {p['snapshot_id']}, {p['rows']} rows "
          f"(built {_when(p.get('created_at'))})")
    meth = p.get("method") or {}
    if "alpha" in meth:
        print(f"  calibration: alpha {meth['alpha']:g} (a window without drift alarms on any feature at most "
              f"~{meth['alpha'] * 100:g}% of the time); {meth.get('features_tested', '?')} feature(s) tested, each at "
              f"level {_num(meth.get('per_feature_level'))} ({meth.get('correction', 'Bonferroni').split(':')[0]})")
    rows = []
    for f in p["features"]:
        if f.get("ignored"):
            rows.append({"feature": f["feature"], "kind": "-", "test": "-", "threshold": "-",
                         "drift when": f"ignored: {f['ignored']}"})
            continue
        row = {"feature": f["feature"], "kind": f["kind"], "test": f["test"], "threshold": _num(f["threshold"]),
               "drift when": f.get("drift_when", "")}
        if "mean" in f:
            row["reference"] = f"mean {_num(f['mean'])}, std {_num(f['std'])}"
        elif f.get("top"):
            row["reference"] = f"{f.get('categories')} categories, top {f['top'][0]['value']}"
        rows.append(row)
    print("\nThresholds:")
    print(_table(rows, ["feature", "kind", "test", "threshold", "drift when", "reference"]))


def cmd_monitor_set(args: argparse.Namespace) -> int:
    from .client import APIError

    client, slug = _client(), _project(args)
    path = f"/projects/{slug}/deployments/{args.deployment}/monitor"
    try:
        current = client.get(path)  # set changes what is given and keeps the rest
    except APIError as e:
        if e.status != 404 or "has no monitor" not in e.message:
            raise
        current = {}

    def given(value: Any, key: str, default: Any) -> Any:
        return value if value is not None else current.get(key, default)

    body = {"window_size": args.window,  # none: the monitor's, else the platform's default
            "tolerance": {**current.get("tolerance", {}), **_tolerances(args.tolerance)},
            "retrain": given(args.retrain, "retrain", False),
            "retrain_on": given(args.retrain_on, "retrain_on", "any"),
            "cooldown_s": given(args.cooldown, "cooldown_s", 3600),
            "enabled": given(args.enabled, "enabled", True)}
    seconds = (args.window_seconds or None) if args.window_seconds is not None else current.get("window_seconds")
    if seconds:  # windows by time; 0 goes back to windows by count
        body["window_seconds"] = seconds
    m = client.put(path, body)
    print(json.dumps(m, indent=2)) if args.json else _print_monitor(m)
    return 0


def _window_row(w: dict[str, Any]) -> dict[str, Any]:
    drifted = [f["feature"] for f in w["drift"].get("features", []) if f.get("status") == "drift"]
    perf = w.get("performance") or {}
    status = perf.get("status", "-")
    if status == "degraded":
        status += ": " + ", ".join(c["metric"] for c in perf.get("checks", []) if c.get("degraded"))
    elif status == "ok" and perf.get("metrics"):
        status += " (" + ", ".join(f"{k} {_num(v)}" for k, v in sorted(perf["metrics"].items())) + ")"
    return {"seq": w["seq"], "version": f"v{w['version']}", "end": _when(w["end"]), "rows": w["rows"],
            "status": w["status"], "drifted": ", ".join(drifted) or "-", "labelled": w["labelled"],
            "performance": status}


def cmd_monitor_show(args: argparse.Namespace) -> int:
    client, slug = _client(), _project(args)
    m = _monitor_call(client, "GET", f"/projects/{slug}/deployments/{args.deployment}/monitor", args.deployment)
    windows = client.get(f"/projects/{slug}/deployments/{args.deployment}/monitor/windows", limit=1)
    alerts = client.get(f"/projects/{slug}/alerts", state="firing", deployment=args.deployment)
    if args.json:
        print(json.dumps({"monitor": m, "latest_window": (windows["items"] or [None])[0], "firing": alerts},
                         indent=2))
        return 0
    _print_monitor(m)
    print()
    if windows["items"]:
        w = _window_row(windows["items"][0])
        print(f"Newest window: #{w['seq']} of {w['version']}, ended {w['end']}, {w['rows']} rows — "
              f"{w['status'].upper()}; drifted: {w['drifted']}; {w['labelled']} labelled, performance "
              f"{w['performance']}   ({windows['total']} window(s) in all)")
    else:
        print("Newest window: none yet")
    _print_firing(alerts["items"])
    return 0


def _print_firing(alerts: list[dict[str, Any]]) -> None:
    if not alerts:
        print("Alerts firing: none")
        return
    print(f"Alerts firing: {len(alerts)}")
    for a in alerts:
        print(f"  #{a['id']} {a['key']} [{a['severity']}] since {_when(a['started_at'])}: {a['title']}")


def cmd_monitor_check(args: argparse.Namespace) -> int:
    client, slug = _client(), _project(args)
    ev = _monitor_call(client, "POST", f"/projects/{slug}/deployments/{args.deployment}/monitor/evaluate",
                       args.deployment)
    alerts = client.get(f"/projects/{slug}/alerts", state="firing", deployment=args.deployment, limit=200)
    if args.json:
        print(json.dumps({"evaluation": ev, "firing": alerts["items"]}, indent=2))
    else:
        print(f"Checked {args.deployment}: {ev['summary']}")
        if ev.get("message"):
            print(f"  note: {ev['message']}")
        _print_firing(alerts["items"])
    return CHECK_FIRING if alerts["total"] else 0


def cmd_monitor_windows(args: argparse.Namespace) -> int:
    client, slug = _client(), _project(args)
    page = _monitor_call(client, "GET", f"/projects/{slug}/deployments/{args.deployment}/monitor/windows",
                         args.deployment, limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    _emit(args, {"items": [_window_row(w) for w in page["items"]], "total": page["total"]},
          ["seq", "version", "end", "rows", "status", "drifted", "labelled", "performance"])
    return 0


def cmd_monitor_retrainings(args: argparse.Namespace) -> int:
    client, slug = _client(), _project(args)
    page = _monitor_call(client, "GET", f"/projects/{slug}/deployments/{args.deployment}/monitor/retrainings",
                         args.deployment, limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    rows = [{"id": r["id"], "started": _when(r["created_at"]), "alert": r["alert"] or "-",
             "run": r["pipeline_run_id"] or "-", "version": f"v{r['version']}" if r["version"] else "-",
             "decision": f"#{r['decision_id']}" if r["decision_id"] else "-", "status": r["status"],
             "message": r["message"] or ""} for r in page["items"]]
    _emit(args, {"items": rows, "total": page["total"]},
          ["id", "started", "alert", "run", "version", "decision", "status", "message"])
    return 0


def cmd_alerts_list(args: argparse.Namespace) -> int:
    page = _client().get(f"/projects/{_project(args)}/alerts", state=args.state, deployment=args.deployment,
                         limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    rows = [{"id": a["id"], "deployment": a["deployment"], "key": a["key"], "severity": a["severity"],
             "state": a["state"], "windows": a["windows"], "started": _when(a["started_at"]),
             "resolved": _when(a["resolved_at"]),
             "webhooks": ", ".join(f"{d['webhook']} {d['state']} {'ok' if d['ok'] else 'FAILED'}"
                                   for d in a["deliveries"]) or "-",
             "title": a["title"]} for a in page["items"]]
    _emit(args, {"items": rows, "total": page["total"]},
          ["id", "deployment", "key", "severity", "state", "windows", "started", "resolved", "webhooks", "title"])
    return 0


def cmd_webhooks_list(args: argparse.Namespace) -> int:
    page = _client().get(f"/projects/{_project(args)}/webhooks", limit=args.limit, offset=args.offset)
    if not args.json:
        for h in page["items"]:
            h["secret"] = "set" if h["secret_set"] else "-"
            h["jira"] = f"{h['jira_project']} ({h['jira_issue_type']})" if h["jira_project"] else "-"
    _emit(args, page, ["id", "name", "kind", "url", "secret", "jira", "enabled", "created_by"])
    return 0


def cmd_webhooks_add(args: argparse.Namespace) -> int:
    import os

    secret = args.secret
    if args.secret_env:
        secret = os.environ.get(args.secret_env)
        if not secret:
            raise SystemExit(f"mlp: --secret-env {args.secret_env}: that environment variable is not set or empty")
    if args.kind == "jira" and (not args.jira_project or not secret):
        raise SystemExit("mlp: a Jira webhook needs --jira-project KEY and a `user:api_token` secret "
                         "(--secret-env VAR)")
    body = {"name": args.name, "kind": args.kind, "url": args.url, "secret": secret,
            "jira_project": args.jira_project, "jira_issue_type": args.jira_issue_type}
    h = _client().post(f"/projects/{_project(args)}/webhooks", body)
    if args.json:
        print(json.dumps(h, indent=2))
    else:
        extra = f", issues of type {h['jira_issue_type']} in {h['jira_project']}" if h["jira_project"] else ""
        print(f"Webhook {h['id']} '{h['name']}' ({h['kind']}) -> {h['url']}"
              f"{'; secret set (never shown again)' if h['secret_set'] else ''}{extra}")
    return 0


def cmd_webhooks_delete(args: argparse.Namespace) -> int:
    _client().delete(f"/projects/{_project(args)}/webhooks/{args.id}")
    print(f"Webhook {args.id} deleted; alerts are no longer sent to it.")
    return 0


def cmd_models_register(args: argparse.Namespace) -> int:
    v = _client().post(f"/projects/{_project(args)}/models",
                       {"name": args.name, "run_id": args.run, "artifact_path": args.path})
    print(json.dumps(v, indent=2) if args.json else
          f"Registered {v['name']} version {v['version']}: {v['files']} files signed with key {v['key_id']}")
    return 0


def cmd_models_verify(args: argparse.Namespace) -> int:
    r = _client().post(f"/projects/{_project(args)}/models/{args.name}/versions/{args.version}/verify")
    print(json.dumps(r, indent=2) if args.json else ("OK: " if r["ok"] else "REFUSED: ") + r["message"])
    return 0 if r["ok"] else 1


def _print_decision(args: argparse.Namespace, d: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(d, indent=2))
        return
    print(f"Decision #{d['id']}: {d['model']} v{d['version']} -> {d['alias']}: {d['status'].upper()}"
          + (f" (by {d['decided_by']}: {d['reason']})" if d.get("reason") else ""))
    for r in d["evidence"].get("results", []):
        print(f"  {'ok  ' if r['passed'] else 'FAIL'} {r['gate']}: {r['message']}")


def cmd_models_promote(args: argparse.Namespace) -> int:
    d = _client().post(f"/projects/{_project(args)}/models/{args.name}/versions/{args.version}/promote",
                       {"alias": args.alias})
    _print_decision(args, d)
    return 1 if d["status"] == "failed" else 0


def cmd_models_decisions(args: argparse.Namespace) -> int:
    page = _client().get(f"/projects/{_project(args)}/gate-decisions", model=args.name, status=args.status,
                         limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    if not page["items"]:
        print("No gate decisions" + (f" for {args.name}" if args.name else "")
              + (f" with status {args.status}" if args.status else "") + ".")
        return 0
    rows = [{"id": f"#{d['id']}", "model": f"{d['model']} v{d['version']}", "alias": d["alias"],
             "status": d["status"], "requested": d["requested_by"], "decided": d["decided_by"] or "-",
             "when": (d["decided_at"] or d["created_at"] or "")[:19].replace("T", " "),
             "alias moved": "yes" if d["alias_moved"] else "no", "reason": d["reason"] or "-"}
            for d in page["items"]]
    print(_table(rows, list(rows[0])))
    if page["total"] > len(rows):
        print(f"({len(rows)} of {page['total']}; use --limit/--offset for more)")
    return 0


def cmd_models_decide(args: argparse.Namespace) -> int:
    d = _client().post(f"/projects/{_project(args)}/gate-decisions/{args.decision}/{args.verb}",
                       {"reason": args.reason})
    _print_decision(args, d)
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    r = _client().post("/audit/verify")
    if args.json:
        print(json.dumps(r, indent=2))
    elif r["ok"]:
        print(f"Audit log intact: {r['entries']} entries verified.")
    else:
        print(f"Audit log BROKEN at entry {r['first_bad_seq']}: {r['reason']}")
    return 0 if r["ok"] else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlp", description="jupyter-mlp: the ML platform inside JupyterLab")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="start (or find) the backend and JupyterLab, print the URL")
    up.add_argument("--root-dir", default=".", help="folder JupyterLab opens (default: current)")
    up.add_argument("--detach", action="store_true", help="return once everything answers; `mlp down` stops it")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop JupyterLab and the backend of this MLP_HOME").set_defaults(func=cmd_down)

    def paged(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--limit", type=int, default=50)
        parser.add_argument("--offset", type=int, default=0)

    projects = sub.add_parser("projects", help="client engagements").add_subparsers(dest="verb", required=True)
    pl = projects.add_parser("list", help="projects you can see")
    paged(pl)
    pl.set_defaults(func=cmd_projects_list)
    pc = projects.add_parser("create", help="create a project (platform admins)")
    pc.add_argument("slug")
    pc.add_argument("--name")
    pc.add_argument("--description", default="")
    pc.set_defaults(func=cmd_projects_create)

    members = sub.add_parser("members", help="who works on a project").add_subparsers(dest="verb", required=True)
    ml = members.add_parser("list")
    ml.add_argument("project")
    paged(ml)
    ml.set_defaults(func=cmd_members_list)
    ma = members.add_parser("add", help="add a member or change a role (leads and admins)")
    ma.add_argument("project")
    ma.add_argument("user")
    ma.add_argument("--role", default="scientist", choices=["viewer", "stakeholder", "scientist", "lead", "admin"])
    ma.set_defaults(func=cmd_members_add)
    mr = members.add_parser("remove")
    mr.add_argument("project")
    mr.add_argument("user")
    mr.set_defaults(func=cmd_members_remove)

    runs = sub.add_parser("runs", help="experiment runs (MLflow)").add_subparsers(dest="verb", required=True)
    rl = runs.add_parser("list", help="search runs; filters use MLflow's syntax")
    rl.add_argument("project")
    rl.add_argument("--filter", help="e.g. \"params.alpha = '0.5' and metrics.auc > 0.8\"")
    rl.add_argument("--experiment", action="append", help="experiment name or id (repeatable; default: all)")
    rl.add_argument("--order-by", action="append", help="e.g. 'metrics.auc DESC' (repeatable)")
    rl.add_argument("--metrics", help="comma-separated metric columns to show")
    rl.add_argument("--params", help="comma-separated param columns to show")
    paged(rl)
    rl.set_defaults(func=cmd_runs_list)
    rs = runs.add_parser("show", help="one run with its lineage")
    rs.add_argument("project")
    rs.add_argument("run_id")
    rs.set_defaults(func=cmd_runs_show)
    rc = runs.add_parser("compare", help="2 to 50 runs side by side; differing params marked")
    rc.add_argument("project")
    rc.add_argument("run_ids", nargs="+")
    rc.set_defaults(func=cmd_runs_compare)
    rr = runs.add_parser("replay", help="run a pipeline run again exactly: same version, parameters and data")
    rr.add_argument("project")
    rr.add_argument("run_id", help="a pipeline run id")
    rr.add_argument("--wait", action="store_true")
    rr.set_defaults(func=cmd_runs_replay)

    promote = sub.add_parser("promote", help="promote a notebook to a versioned pipeline")
    promote.add_argument("notebook", help="path of the .ipynb file")
    promote.add_argument("--project", help="default: from the nearest mlp-project.toml")
    promote.add_argument("--name", help="pipeline name (default: the notebook's file name)")
    promote.add_argument("--check", action="store_true", help="only run the pre-flight check")
    promote.add_argument("--source-path", help="the path to record (default: the absolute path)")
    promote.set_defaults(func=cmd_promote)

    pipes = sub.add_parser("pipelines", help="promoted pipelines and their runs").add_subparsers(dest="verb",
                                                                                                required=True)
    pl2 = pipes.add_parser("list")
    pl2.add_argument("project")
    paged(pl2)
    pl2.set_defaults(func=cmd_pipelines_list)
    ps = pipes.add_parser("show", help="versions, stages and parameters")
    ps.add_argument("project")
    ps.add_argument("name")
    ps.set_defaults(func=cmd_pipelines_show)
    pr = pipes.add_parser("run", help="run a version (default: the latest) with parameters")
    pr.add_argument("project")
    pr.add_argument("name")
    pr.add_argument("-p", "--param", action="append", help="name=value (value parsed as JSON when it can be)")
    pr.add_argument("--version", help="version digest or a prefix of at least 12 hex digits")
    pr.add_argument("--wait", action="store_true", help="wait for the run to end; exit 1 if it failed")
    pr.set_defaults(func=cmd_pipelines_run)
    pst = pipes.add_parser("status", help="a run, stage by stage")
    pst.add_argument("project")
    pst.add_argument("run_id")
    pst.set_defaults(func=cmd_pipelines_status)
    pc2 = pipes.add_parser("cancel")
    pc2.add_argument("project")
    pc2.add_argument("run_id")
    pc2.set_defaults(func=cmd_pipelines_cancel)
    plog = pipes.add_parser("log", help="what a stage of a run printed")
    plog.add_argument("project")
    plog.add_argument("run_id")
    plog.add_argument("stage")
    plog.set_defaults(func=cmd_pipelines_log)
    psch = pipes.add_parser("schedule", help="run a version on a cron schedule (a Dagster schedule)")
    psch.add_argument("project")
    psch.add_argument("name")
    psch.add_argument("--cron", required=True, help="five fields, e.g. '0 6 * * 1-5'")
    psch.add_argument("--timezone", default="UTC", help="IANA time zone (default UTC)")
    psch.add_argument("-p", "--param", action="append", help="name=value (value parsed as JSON when it can be)")
    psch.add_argument("--version", help="version digest or prefix (default: the latest now; the schedule keeps it)")
    psch.set_defaults(func=cmd_pipelines_schedule)
    pscs = pipes.add_parser("schedules", help="a pipeline's schedules and their next ticks")
    pscs.add_argument("project")
    pscs.add_argument("name")
    paged(pscs)
    pscs.set_defaults(func=cmd_pipelines_schedules)
    pun = pipes.add_parser("unschedule", help="delete a schedule")
    pun.add_argument("project")
    pun.add_argument("schedule_id", type=int)
    pun.set_defaults(func=cmd_pipelines_unschedule)

    models = sub.add_parser("models", help="registered models: signed versions, gates, aliases").add_subparsers(
        dest="verb", required=True)

    def with_project(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("-P", "--project", help="project slug (default: the nearest mlp-project.toml)")
        return parser

    mdl = with_project(models.add_parser("list", help="the project's models and their aliases"))
    paged(mdl)
    mdl.set_defaults(func=cmd_models_list)
    mds = with_project(models.add_parser("show", help="versions, aliases, gates and pending approvals"))
    mds.add_argument("name")
    paged(mds)
    mds.set_defaults(func=cmd_models_show)
    mdr = with_project(models.add_parser("register", help="register a run's model (hashed and signed)"))
    mdr.add_argument("name")
    mdr.add_argument("--run", required=True, help="MLflow run id in the project")
    mdr.add_argument("--path", default="model", help="logged model name or artifact folder (default: model)")
    mdr.set_defaults(func=cmd_models_register)
    mdv = with_project(models.add_parser("verify", help="re-hash the files and check the signature"))
    mdv.add_argument("name")
    mdv.add_argument("version", type=int)
    mdv.set_defaults(func=cmd_models_verify)
    mdp = with_project(models.add_parser("promote", help="ask for an alias to move; the gates decide"))
    mdp.add_argument("name")
    mdp.add_argument("version", type=int)
    mdp.add_argument("--alias", choices=["staging", "champion"], default="champion")
    mdp.set_defaults(func=cmd_models_promote)
    mdd = with_project(models.add_parser("decisions", help="gate decisions, newest first, with who decided and why"))
    mdd.add_argument("name", nargs="?", help="only this model's decisions")
    mdd.add_argument("--status", choices=["passed", "failed", "pending", "approved", "rejected"])
    paged(mdd)
    mdd.set_defaults(func=cmd_models_decisions)
    for verb in ("approve", "reject"):
        mda = with_project(models.add_parser(verb, help=f"{verb} a pending gate decision (leads)"))
        mda.add_argument("decision", type=int)
        mda.add_argument("--reason", required=True)
        mda.set_defaults(func=cmd_models_decide)

    dp = with_project(sub.add_parser("deploy", help="serve a validated model version: MODEL@ALIAS or MODEL@VERSION"))
    dp.add_argument("target", help="e.g. churn@champion or churn@3")
    dp.add_argument("--name", help="deployment name (default: the model's); an existing one switches version")
    dp.add_argument("--min-workers", type=int, default=1)
    dp.add_argument("--max-workers", type=int, default=2)
    dp.add_argument("--sla-ms", type=float, default=100.0, help="p95 latency objective")
    dp.add_argument("--max-batch", type=int, default=64)
    dp.add_argument("--max-wait-ms", type=float, default=0.0)
    dp.set_defaults(func=cmd_deploy)
    deps = sub.add_parser("deployments", help="serving endpoints").add_subparsers(dest="verb", required=True)
    dl = with_project(deps.add_parser("list", help="the project's deployments"))
    paged(dl)
    dl.set_defaults(func=cmd_deployments_list)
    ds = with_project(deps.add_parser("show", help="status, workers, latency and recent events"))
    ds.add_argument("name")
    ds.add_argument("--minutes", type=float, default=15)
    ds.set_defaults(func=cmd_deployments_show)
    dsw = with_project(deps.add_parser("switch", help="serve another version (ALIAS or VERSION), no downtime"))
    dsw.add_argument("name")
    dsw.add_argument("target", help="champion, staging or a version number")
    dsw.set_defaults(func=cmd_deployments_switch)
    dr = with_project(deps.add_parser("rollback", help="serve the version that served before the last switch"))
    dr.add_argument("name")
    dr.set_defaults(func=cmd_deployments_rollback)
    dsc = with_project(deps.add_parser("scale", help="worker range and latency objective"))
    dsc.add_argument("name")
    dsc.add_argument("--min-workers", type=int)
    dsc.add_argument("--max-workers", type=int)
    dsc.add_argument("--sla-ms", type=float)
    dsc.set_defaults(func=cmd_deployments_scale)
    dd = with_project(deps.add_parser("delete", help="stop and remove a deployment"))
    dd.add_argument("name")
    dd.set_defaults(func=cmd_deployments_delete)
    dlg = with_project(deps.add_parser("logs", help="the workers' last lines"))
    dlg.add_argument("name")
    dlg.add_argument("--lines", type=int, default=100)
    dlg.set_defaults(func=cmd_deployments_logs)
    bt = with_project(sub.add_parser("batch", help="score a dataset or a file with a deployment's version"))
    bt.add_argument("deployment")
    bt.add_argument("--dataset", help="a project dataset (Iceberg table)")
    bt.add_argument("--snapshot", type=int, help="its snapshot id (default: current)")
    bt.add_argument("--input", help="a local .parquet or .csv file, uploaded")
    bt.add_argument("--output-dataset", help="write the scored rows to this dataset")
    bt.add_argument("--output", help="else download them to this Parquet file (default: JOB_ID.parquet)")
    bt.add_argument("--chunk-rows", type=int, default=10_000)
    bt.set_defaults(func=cmd_batch)
    keys = sub.add_parser("keys", help="API keys of client systems (leads)").add_subparsers(dest="verb", required=True)
    kc = with_project(keys.add_parser("create", help="print a new key (once)"))
    kc.add_argument("name")
    kc.add_argument("--deployment", help="limit the key to one deployment")
    kc.add_argument("--rate", type=float, help="requests per second for this key")
    kc.set_defaults(func=cmd_keys_create)
    kl = with_project(keys.add_parser("list", help="the project's keys (prefixes, never secrets)"))
    paged(kl)
    kl.set_defaults(func=cmd_keys_list)
    kr = with_project(keys.add_parser("revoke", help="revoke a key by its prefix"))
    kr.add_argument("prefix")
    kr.set_defaults(func=cmd_keys_revoke)

    monitor = sub.add_parser("monitor", help="watch a deployment: drift, performance, alerts, retraining"
                             ).add_subparsers(dest="verb", required=True)
    mset = with_project(monitor.add_parser(
        "set", help="create or change a deployment's monitor; prints its reference profile and thresholds",
        description="Create or change a deployment's monitor. Options not given keep their current value (or the "
                    "default for a new monitor). The reference is the served version's training data; drift "
                    "thresholds are calibrated on it for the window size."))
    mset.add_argument("deployment")
    mset.add_argument("--window", type=int, metavar="N", help="predictions per window (default: the platform's)")
    mset.add_argument("--window-seconds", type=int, metavar="SECONDS",
                      help="windows by time instead: the predictions of each slice of this many seconds, evaluated "
                           "once it has ended (0: back to windows of --window predictions)")
    mset.add_argument("--tolerance", action="append", metavar="METRIC=VALUE",
                      help="allowed loss against the validated baseline, e.g. roc_auc=0.03 (repeatable; metrics: "
                           "roc_auc, f1, rmse, ece; default 0.05, for rmse 10%% of the baseline)")
    mset.add_argument("--retrain", action=argparse.BooleanOptionalAction, default=None,
                      help="launch a retraining (as you) when an alert fires (default: off)")
    mset.add_argument("--retrain-on", choices=["drift", "performance", "any"], help="which alerts retrain (any)")
    mset.add_argument("--cooldown", type=int, metavar="SECONDS", help="least time between two retrainings (3600)")
    on = mset.add_mutually_exclusive_group()
    on.add_argument("--disable", dest="enabled", action="store_false", default=None,
                    help="stop evaluating (windows, alerts) until --enable")
    on.add_argument("--enable", dest="enabled", action="store_true", default=None)
    mset.set_defaults(func=cmd_monitor_set)
    msh = with_project(monitor.add_parser("show", help="status, newest window, firing alerts, profile, thresholds"))
    msh.add_argument("deployment")
    msh.set_defaults(func=cmd_monitor_show)
    mck = with_project(monitor.add_parser(
        "check", help="evaluate now; exit code 3 when alerts are firing (for CI jobs)",
        description="Evaluate the monitor now (new windows, alerts, webhooks, retraining) and print the summary. "
                    f"Exit code: 0 when no alert of the deployment is firing after the check, {CHECK_FIRING} when "
                    "some are (useful in CI jobs), 1 or 2 when the check could not run (no monitor, no permission)."))
    mck.add_argument("deployment")
    mck.set_defaults(func=cmd_monitor_check)
    mwin = with_project(monitor.add_parser("windows", help="windows, newest first: drift per feature, performance"))
    mwin.add_argument("deployment")
    paged(mwin)
    mwin.set_defaults(func=cmd_monitor_windows)
    mret = with_project(monitor.add_parser(
        "retrainings", help="automatic retrainings: alert -> run -> version -> gate decision -> status"))
    mret.add_argument("deployment")
    paged(mret)
    mret.set_defaults(func=cmd_monitor_retrainings)
    alerts = sub.add_parser("alerts", help="monitoring alerts").add_subparsers(dest="verb", required=True)
    al = with_project(alerts.add_parser("list", help="the project's alerts, newest first, with webhook deliveries"))
    al.add_argument("--state", choices=["firing", "resolved"])
    al.add_argument("--deployment", metavar="NAME")
    paged(al)
    al.set_defaults(func=cmd_alerts_list)
    hooks = sub.add_parser("webhooks", help="where alerts go: Slack, Jira, any URL (leads)").add_subparsers(
        dest="verb", required=True)
    hl = with_project(hooks.add_parser("list", help="the project's webhooks (secrets never shown)"))
    paged(hl)
    hl.set_defaults(func=cmd_webhooks_list)
    ha = with_project(hooks.add_parser(
        "add", help="send the project's alerts somewhere (leads)",
        description="Send the project's alerts to Slack (the incoming-webhook URL), Jira (the site's base URL; "
                    "issues are opened and commented) or any URL (JSON signed with HMAC-SHA256 when a secret is "
                    "set). Give secrets with --secret-env VAR, which reads them from an environment variable, so "
                    "they do not land in your shell history. Private, loopback and metadata addresses are refused "
                    "unless the platform admin allowed them."))
    ha.add_argument("name")
    ha.add_argument("--kind", required=True, choices=["slack", "jira", "generic"])
    ha.add_argument("--url", required=True)
    sec = ha.add_mutually_exclusive_group()
    sec.add_argument("--secret-env", metavar="VAR",
                     help="read the secret from this environment variable (preferred: stays out of shell history); "
                          "generic: the HMAC key; jira: user:api_token")
    sec.add_argument("--secret", metavar="S", help="the secret itself (lands in shell history: prefer --secret-env)")
    ha.add_argument("--jira-project", metavar="KEY", help="jira: the project key issues are opened in")
    ha.add_argument("--jira-issue-type", metavar="TYPE", default="Bug", help="jira: issue type (default Bug)")
    ha.set_defaults(func=cmd_webhooks_add)
    hd = with_project(hooks.add_parser("delete", help="stop sending alerts to a webhook (leads)"))
    hd.add_argument("id", type=int)
    hd.set_defaults(func=cmd_webhooks_delete)

    audit = sub.add_parser("audit", help="the audit log").add_subparsers(dest="verb", required=True)
    audit.add_parser("verify", help="recompute the hash chain; name the first bad entry").set_defaults(
        func=cmd_audit_verify
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .client import APIError

    try:
        return args.func(args)
    except APIError as e:
        print(f"mlp: {e.message}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        print(f"mlp: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
