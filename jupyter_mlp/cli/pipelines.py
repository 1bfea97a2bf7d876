"""`mlp promote` and `mlp pipelines`: notebooks promoted to versioned pipelines, their runs and schedules."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .common import backend_client, emit, paged


def _problems(problems: list[dict[str, Any]]) -> None:
    for p in problems:
        where = f"cell {p['cell']}" if p.get("cell") else "notebook"
        print(f"  {p['severity'].upper():7} {where:>9}  {p['message']}", file=sys.stderr)


def cmd_promote(args: argparse.Namespace) -> int:
    from ..client import APIError
    from ..projects import project_of

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
    client = backend_client()
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
    page = backend_client().get(f"/projects/{args.project}/pipelines", limit=args.limit, offset=args.offset)
    for item in page["items"]:
        item["latest_version"] = item["latest_version"][:12]
    emit(args, page, ["name", "versions", "latest_version", "updated_at", "source_path"])
    return 0


def cmd_pipelines_show(args: argparse.Namespace) -> int:
    p = backend_client().get(f"/projects/{args.project}/pipelines/{args.name}")
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


def show_run(args: argparse.Namespace, client: Any, r: dict[str, Any]) -> dict[str, Any]:
    """Print a pipeline run; with --wait, first follow it until it ends."""
    if args.wait:
        import time

        while r["status"] not in ("SUCCESS", "FAILURE", "CANCELED"):
            time.sleep(1)
            r = client.get(f"/projects/{args.project}/pipeline-runs/{r['run_id']}")
    print(json.dumps(r, indent=2)) if args.json else _print_run(r)
    return r


def cmd_pipelines_run(args: argparse.Namespace) -> int:
    client = backend_client()
    body: dict[str, Any] = {"parameters": dict(_parse_param(p) for p in args.param or [])}
    if args.version:
        body["version"] = args.version
    r = client.post(f"/projects/{args.project}/pipelines/{args.name}/runs", body)
    r = show_run(args, client, r)
    return 0 if r["status"] in ("SUCCESS", "STARTED", "QUEUED", "STARTING") else 1


def cmd_pipelines_status(args: argparse.Namespace) -> int:
    r = backend_client().get(f"/projects/{args.project}/pipeline-runs/{args.run_id}")
    print(json.dumps(r, indent=2)) if args.json else _print_run(r)
    return 0


def cmd_pipelines_cancel(args: argparse.Namespace) -> int:
    r = backend_client().post(f"/projects/{args.project}/pipeline-runs/{args.run_id}/cancel")
    print(json.dumps(r, indent=2)) if args.json else _print_run(r)
    return 0


def cmd_pipelines_log(args: argparse.Namespace) -> int:
    text = backend_client().get(f"/projects/{args.project}/pipeline-runs/{args.run_id}/stages/{args.stage}/log")
    sys.stdout.write(text or "(no output yet)\n")
    return 0


def cmd_pipelines_executor(args: argparse.Namespace) -> int:
    """Where stages run, and the stage base image the platform checks (and builds) in the background at start."""
    e = backend_client().get("/pipeline-executor")
    if args.json:
        print(json.dumps(e, indent=2))
        return 0
    print(f"Executor: {e['kind']} — {e['detail']}")
    b = e.get("base_image")
    if b:
        print(f"Base image {b['image']}: {b['state']} ({b['detail']})")
    elif e["kind"] == "docker":
        print("Base image: not checked yet (the platform checks it when it starts)")
    return 0 if e["kind"] != "unavailable" and (b or {}).get("state") != "failed" else 1


def cmd_pipelines_schedule(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"cron": args.cron, "timezone": args.timezone,
                            "parameters": dict(_parse_param(p) for p in args.param or [])}
    if args.version:
        body["version"] = args.version
    s = backend_client().post(f"/projects/{args.project}/pipelines/{args.name}/schedules", body)
    if args.json:
        print(json.dumps(s, indent=2))
    else:
        print(f"Schedule {s['id']}: {s['pipeline']}@{s['version'][:12]} at '{s['cron']}' ({s['timezone']}); "
              f"next: {', '.join(t[:16] for t in s['next_ticks'])}")
    return 0


def cmd_pipelines_schedules(args: argparse.Namespace) -> int:
    page = backend_client().get(f"/projects/{args.project}/pipelines/{args.name}/schedules", limit=args.limit,
                         offset=args.offset)
    for item in page["items"]:
        item["version"] = item["version"][:12]
        item["next"] = item["next_ticks"][0][:16] if item["next_ticks"] else ""
        item["parameters"] = json.dumps(item["parameters"], sort_keys=True)
    emit(args, page, ["id", "cron", "timezone", "version", "parameters", "next", "last_run", "created_by"])
    return 0


def cmd_pipelines_unschedule(args: argparse.Namespace) -> int:
    backend_client().delete(f"/projects/{args.project}/pipeline-schedules/{args.schedule_id}")
    print(f"Schedule {args.schedule_id} deleted; the runs it launched stay.")
    return 0


def add_promote(sub: argparse._SubParsersAction) -> None:
    promote = sub.add_parser("promote", help="promote a notebook to a versioned pipeline")
    promote.add_argument("notebook", help="path of the .ipynb file")
    promote.add_argument("--project", help="default: from the nearest mlp-project.toml")
    promote.add_argument("--name", help="pipeline name (default: the notebook's file name)")
    promote.add_argument("--check", action="store_true", help="only run the pre-flight check")
    promote.add_argument("--source-path", help="the path to record (default: the absolute path)")
    promote.set_defaults(func=cmd_promote)


def add_pipelines(sub: argparse._SubParsersAction) -> None:
    pipes = sub.add_parser("pipelines", help="promoted pipelines and their runs").add_subparsers(dest="verb",
                                                                                                required=True)
    pl2 = pipes.add_parser("list")
    pl2.add_argument("project")
    paged(pl2)
    pl2.set_defaults(func=cmd_pipelines_list)
    pex = pipes.add_parser("executor", help="where stages run, and the stage base image's state (building, ready)")
    pex.add_argument("--json", action="store_true")
    pex.set_defaults(func=cmd_pipelines_executor)
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


# Top-level commands this module adds, by name; main.py places them in `mlp --help`'s order.
COMMANDS = {"promote": add_promote, "pipelines": add_pipelines}
