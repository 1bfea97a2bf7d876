"""`mlp monitor`, `mlp alerts`, `mlp webhooks`: a deployment's drift and performance monitor, its alerts and where
they go."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .common import backend_client, emit, num, paged, project_slug, table, when, with_project


METRICS = ("roc_auc", "f1", "rmse", "ece")
CHECK_FIRING = 3  # `mlp monitor check`'s exit code when alerts are firing after the check


def _monitor_call(client: Any, method: str, path: str, deployment: str, **params: Any) -> Any:
    """A call on a deployment's monitor; a missing monitor is said with the command that creates one."""
    from ..client import APIError

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
    metrics = ", ".join(f"{k} {num(v)}" for k, v in sorted((base.get("metrics") or {}).items()))
    print(f"  baseline: {metrics} (from {base['source']})" if metrics else
          "  baseline: none (no passing gate evaluation and no logged roc_auc/f1/rmse/ece): performance is not checked")
    if m.get("evaluated_at"):
        print(f"  last evaluated: {when(m['evaluated_at'])}")
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
          f"(built {when(p.get('created_at'))})")
    meth = p.get("method") or {}
    if "alpha" in meth:
        print(f"  calibration: alpha {meth['alpha']:g} (a window without drift alarms on any feature at most "
              f"~{meth['alpha'] * 100:g}% of the time); {meth.get('features_tested', '?')} feature(s) tested, each at "
              f"level {num(meth.get('per_feature_level'))} ({meth.get('correction', 'Bonferroni').split(':')[0]})")
    rows = []
    for f in p["features"]:
        if f.get("ignored"):
            rows.append({"feature": f["feature"], "kind": "-", "test": "-", "threshold": "-",
                         "drift when": f"ignored: {f['ignored']}"})
            continue
        row = {"feature": f["feature"], "kind": f["kind"], "test": f["test"], "threshold": num(f["threshold"]),
               "drift when": f.get("drift_when", "")}
        if "mean" in f:
            row["reference"] = f"mean {num(f['mean'])}, std {num(f['std'])}"
        elif f.get("top"):
            row["reference"] = f"{f.get('categories')} categories, top {f['top'][0]['value']}"
        rows.append(row)
    print("\nThresholds:")
    print(table(rows, ["feature", "kind", "test", "threshold", "drift when", "reference"]))


def cmd_monitor_set(args: argparse.Namespace) -> int:
    from ..client import APIError

    client, slug = backend_client(), project_slug(args)
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
        status += " (" + ", ".join(f"{k} {num(v)}" for k, v in sorted(perf["metrics"].items())) + ")"
    return {"seq": w["seq"], "version": f"v{w['version']}", "end": when(w["end"]), "rows": w["rows"],
            "status": w["status"], "drifted": ", ".join(drifted) or "-", "labelled": w["labelled"],
            "performance": status}


def cmd_monitor_show(args: argparse.Namespace) -> int:
    client, slug = backend_client(), project_slug(args)
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
        print(f"  #{a['id']} {a['key']} [{a['severity']}] since {when(a['started_at'])}: {a['title']}")


def cmd_monitor_check(args: argparse.Namespace) -> int:
    client, slug = backend_client(), project_slug(args)
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
    client, slug = backend_client(), project_slug(args)
    page = _monitor_call(client, "GET", f"/projects/{slug}/deployments/{args.deployment}/monitor/windows",
                         args.deployment, limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    emit(args, {"items": [_window_row(w) for w in page["items"]], "total": page["total"]},
          ["seq", "version", "end", "rows", "status", "drifted", "labelled", "performance"])
    return 0


def cmd_monitor_retrainings(args: argparse.Namespace) -> int:
    client, slug = backend_client(), project_slug(args)
    page = _monitor_call(client, "GET", f"/projects/{slug}/deployments/{args.deployment}/monitor/retrainings",
                         args.deployment, limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    rows = [{"id": r["id"], "started": when(r["created_at"]), "alert": r["alert"] or "-",
             "run": r["pipeline_run_id"] or "-", "version": f"v{r['version']}" if r["version"] else "-",
             "decision": f"#{r['decision_id']}" if r["decision_id"] else "-", "status": r["status"],
             "message": r["message"] or ""} for r in page["items"]]
    emit(args, {"items": rows, "total": page["total"]},
          ["id", "started", "alert", "run", "version", "decision", "status", "message"])
    return 0


def cmd_alerts_list(args: argparse.Namespace) -> int:
    page = backend_client().get(f"/projects/{project_slug(args)}/alerts", state=args.state, deployment=args.deployment,
                         limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    rows = [{"id": a["id"], "deployment": a["deployment"], "key": a["key"], "severity": a["severity"],
             "state": a["state"], "windows": a["windows"], "started": when(a["started_at"]),
             "resolved": when(a["resolved_at"]),
             "webhooks": ", ".join(f"{d['webhook']} {d['state']} {'ok' if d['ok'] else 'FAILED'}"
                                   for d in a["deliveries"]) or "-",
             "title": a["title"]} for a in page["items"]]
    emit(args, {"items": rows, "total": page["total"]},
          ["id", "deployment", "key", "severity", "state", "windows", "started", "resolved", "webhooks", "title"])
    return 0


def cmd_webhooks_list(args: argparse.Namespace) -> int:
    page = backend_client().get(f"/projects/{project_slug(args)}/webhooks", limit=args.limit, offset=args.offset)
    if not args.json:
        for h in page["items"]:
            h["secret"] = "set" if h["secret_set"] else "-"
            h["jira"] = f"{h['jira_project']} ({h['jira_issue_type']})" if h["jira_project"] else "-"
    emit(args, page, ["id", "name", "kind", "url", "secret", "jira", "enabled", "created_by"])
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
    h = backend_client().post(f"/projects/{project_slug(args)}/webhooks", body)
    if args.json:
        print(json.dumps(h, indent=2))
    else:
        extra = f", issues of type {h['jira_issue_type']} in {h['jira_project']}" if h["jira_project"] else ""
        print(f"Webhook {h['id']} '{h['name']}' ({h['kind']}) -> {h['url']}"
              f"{'; secret set (never shown again)' if h['secret_set'] else ''}{extra}")
    return 0


def cmd_webhooks_delete(args: argparse.Namespace) -> int:
    backend_client().delete(f"/projects/{project_slug(args)}/webhooks/{args.id}")
    print(f"Webhook {args.id} deleted; alerts are no longer sent to it.")
    return 0


def add_monitor(sub: argparse._SubParsersAction) -> None:
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


def add_alerts(sub: argparse._SubParsersAction) -> None:
    alerts = sub.add_parser("alerts", help="monitoring alerts").add_subparsers(dest="verb", required=True)
    al = with_project(alerts.add_parser("list", help="the project's alerts, newest first, with webhook deliveries"))
    al.add_argument("--state", choices=["firing", "resolved"])
    al.add_argument("--deployment", metavar="NAME")
    paged(al)
    al.set_defaults(func=cmd_alerts_list)


def add_webhooks(sub: argparse._SubParsersAction) -> None:
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


# Top-level commands this module adds, by name; main.py places them in `mlp --help`'s order.
COMMANDS = {"monitor": add_monitor, "alerts": add_alerts, "webhooks": add_webhooks}
