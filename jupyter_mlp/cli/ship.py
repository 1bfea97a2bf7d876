"""`mlp ship NOTEBOOK`: the Ship flow from the terminal — the plan, then promote → run → register → gates →
(a lead's approval) → deploy → monitor with a line per step, and the endpoint with a first request at the end
(docs/ship.md). Exits 0 with the endpoint URL; 1 with the failing step's message."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .common import backend_client

TERMINAL = ("succeeded", "failed", "interrupted")


def _source_path(path: Path, marker: str | None) -> str:
    """The notebook's path as the project's kernels record it: from the folder above the project's folder (the
    Jupyter root, when project folders sit at its top)."""
    if marker:
        base = (Path("/") / marker).parent.parent
        try:
            return str(path.relative_to(base))
        except ValueError:
            pass
    return str(path)


def _print_plan(out: dict[str, Any], project: str) -> None:
    p = out["plan"]
    g = p["gates"]
    print(f"Ship {out['path']} in {project}:")
    print(f"  pipeline    {p['pipeline']['name']}: stages {', '.join(p['pipeline']['stages'])}; parameters "
          + (", ".join(f"{k}={v!r}" for k, v in p["pipeline"]["parameters"].items()) or "none"))
    m = p["model"]
    print(f"  model       {m['name']}" + (f": {m['metric']} = {m['value']:.4g} in run {m['run_id']}"
                                          if m["value"] is not None else ""))
    rules = [f"{t['metric']} {t['op']} {t['value']:.4g}" for t in g["thresholds"]]
    if g["challenger"]:
        rules.append(f"beats the champion on {g['challenger'].get('metric')}")
    if g["require_approval"]:
        rules.append("a lead approves")
    whose = "the model's, set by a lead" if g["source"] == "model" else "proposed"
    print(f"  gates       {'; '.join(rules) or 'none'} ({whose})")
    d = p["deployment"]
    print(f"  deployment  {d['name']} ({'switch' if d['exists'] else 'new'}): SLA p95 {d['sla_ms']:g} ms, "
          f"{d['min_workers']}-{d['max_workers']} worker(s)")
    mo = p["monitor"]
    print(f"  monitor     windows of {mo['window_size']}: drift per feature, performance when labels come"
          + (", retraining through the gates" if mo["retrain"] else ""))
    for n in out["notes"]:
        print(f"  note: {n}")
    for pr in out["problems"]:
        print(f"  {pr['severity']}: {pr['message']}")


def _step_line(i: int, n: int, s: dict[str, Any]) -> str:
    took = f" ({s['seconds']:.1f} s)" if s.get("seconds") is not None else ""
    return f"[{i}/{n}] {s['name']:<9} {s['status']}{took}" + (f": {s['message']}" if s.get("message") else "")


def cmd_ship(args: argparse.Namespace) -> int:
    from ..projects import project_of

    path = Path(args.notebook).resolve()
    try:
        nb = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        print(f"mlp: cannot read {args.notebook} as a notebook: {e}", file=sys.stderr)
        return 2
    found = project_of("/", str(path))
    project = args.project or found.project
    if not project:
        print(f"mlp: {args.notebook} is in no project: add --project, or an mlp-project.toml with "
              'project = "<slug>" in its folder or a parent', file=sys.stderr)
        return 2
    source = args.source_path or _source_path(path, found.marker if found.project else None)
    client = backend_client()
    planned = client.post(f"/projects/{project}/ship/plan", {"path": source, "notebook": nb})
    _print_plan(planned, project)
    if any(p["severity"] == "error" for p in planned["problems"]):
        print("mlp: the notebook cannot be promoted as it is: fix the errors above", file=sys.stderr)
        return 1
    if not args.yes:
        try:
            answer = input("Ship it? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("Not shipped.")
            return 1
    ship = client.post(f"/projects/{project}/ship", {"path": source, "notebook": nb, "plan": planned["plan"]})
    print(f"Ship {ship['id']} started")
    seen: dict[str, tuple] = {}
    while True:
        ship = client.get(f"/projects/{project}/ship/{ship['id']}")
        for i, s in enumerate(ship["steps"], 1):
            key = (s["status"], s.get("message"))
            if s["status"] != "pending" and seen.get(s["name"]) != key:
                seen[s["name"]] = key
                print(_step_line(i, len(ship["steps"]), s), flush=True)
        if ship["status"] in TERMINAL:
            break
        time.sleep(args.poll)
    if ship["status"] != "succeeded":
        print(f"mlp: ship failed at {ship['failed_step'] or 'an unknown step'}: {ship['message']}", file=sys.stderr)
        return 1
    e = ship["endpoint"]
    print(f"\nEndpoint: {e['url']}")
    if e["api_key"]:
        print(f"API key (shown once, keep it): {e['api_key']}")
    elif e["key_message"]:
        print(f"API key: {e['key_message']}")
    print(f"Example row: {e['example_from'] or 'none found'}")
    print(f"\n# curl (export MLP_API_KEY=<the key>)\n{e['requests']['curl']}")
    print(f"\n# Python (requests)\n{e['requests']['python']}")
    print(f"# mlflow.deployments\n{e['requests']['mlflow_deployments']}")
    print(e["url"])
    return 0


def add_ship(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ship", help="ship a notebook: promote, run, gates, approval, deploy, monitor, endpoint")
    p.add_argument("notebook", help="path of the .ipynb file (its last run gives the validated metric)")
    p.add_argument("-P", "--project", help="default: from the nearest mlp-project.toml")
    p.add_argument("--yes", "-y", action="store_true", help="ship the plan as shown, without asking")
    p.add_argument("--source-path", help="the notebook's path as the project's runs record it (default: from the "
                                         "folder above the project's folder)")
    p.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_ship)


# Top-level commands this module adds, by name; main.py places them in `mlp --help`'s order.
COMMANDS = {"ship": add_ship}
