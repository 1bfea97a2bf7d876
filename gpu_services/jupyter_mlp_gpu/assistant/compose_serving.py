"""Composers of the questions about deployments and monitoring: drift per client, p95 latency against the SLA,
what is deployed, which alerts fire."""

from __future__ import annotations

import asyncio
import math
import re

from . import tools
from .answer import Composer, NoSlots, lit, not_found, num
from .slots import DAY, Ctx, mention


async def drift_client(c: Ctx) -> dict:
    clients = c.named_clients()
    projects = [p for p in c.named_projects()]
    if not clients and not projects and (c.unknown_proper_names() or await c.unknown_records()):
        return not_found("I found no deployments for that client that you can open.")
    scope = [p for p in c.projects if p.client in clients] if clients else (projects or list(c.projects))
    days = c.period_days(90.0)
    since = c.now - days * DAY
    deps = await c.per_project("deployments", tools.deployments, [p.slug for p in scope])
    picked = [(p, d) for p in scope for d in deps.get(p.slug, [])
              if (tools.parse_time(d.get("created_at")) or 0) >= since]
    if any(mention(d["name"], c.low) for _, d in picked):  # a deployment named: that one only
        picked = [(p, d) for p, d in picked if mention(d["name"], c.low)]
    if not picked:
        return not_found("I found no deployments in that period for that client that you can open.")
    picked.sort(key=lambda x: x[1]["name"])
    windows = await asyncio.gather(*(tools.monitor_windows(c.b, p.slug, d["name"]) for p, d in picked))
    a = Composer()
    who = " and ".join(clients) if clients else "your projects"
    a.line(f"Drift on the models deployed for {who} in the period asked, per deployment:")
    for (p, d), ws in zip(picked, windows):
        cd = a.cite("deployment", f"{p.slug}/{d['name']}", d["name"], project=p.slug)
        ws = sorted((w for w in ws if (tools.parse_time(w.get("end")) or c.now) >= since), key=lambda w: w["seq"])
        if not ws:
            a.line(f"- {lit(d['name'])} ({p.slug}, {d['model']} version {num(d['version'])}): no monitor windows.")
            continue
        cws = a.cite("monitor_windows", f"{p.slug}/{d['name']}", f"{d['name']} windows", project=p.slug,
                     deployment=d["name"])
        drifted = [w for w in ws if w.get("status") == "drift"]
        worst: dict[str, tuple[float, dict, str]] = {}
        for w in ws:
            for f in (w.get("drift") or {}).get("features", []):
                if f.get("drift") or f["feature"] in worst:
                    if f["feature"] not in worst or f["statistic"] > worst[f["feature"]][0]:
                        worst[f["feature"]] = (f["statistic"], w, f.get("test", "statistic"))
        drifting = sorted({f["feature"] for w in drifted for f in (w.get("drift") or {}).get("features", [])
                           if f.get("drift")})
        a.fact("windows", len(ws), cws)
        a.fact("drift_windows", len(drifted), cws)
        latest = ws[-1]
        line = (f"- {lit(d['name'])} ({p.slug}, {d['model']} version {num(d['version'])}): drift in "
                f"{len(drifted)} of {len(ws)} windows; latest window: {latest['status']}")
        if drifting:
            parts = []
            for f in drifting:
                stat, w, test = worst[f]
                cw = a.cite("monitor_window", w["id"], f"{d['name']} window {w['seq']}", project=p.slug,
                            deployment=d["name"])
                parts.append(f"{lit(f)} (highest {test.upper()} {num(a.fact(f'max {test} {f}', stat, cw))})")
            last = drifted[-1]
            a.cite("monitor_window", last["id"], f"{d['name']} window {last['seq']}", project=p.slug,
                   deployment=d["name"])
            line += "; drifting features: " + ", ".join(parts)
        else:
            line += "; no feature drifted"
        a.line(line + ".")
        del cd
    return a.done()


async def latency(c: Ctx) -> dict:
    deps = await c.deployments()
    named = [(s, d) for s, ds in deps.items() for d in ds if mention(d["name"], c.low)]
    if not named:
        projects = c.named_projects()
        if projects:
            named = [(p.slug, d) for p in projects for d in deps.get(p.slug, [])]
        elif await c.unknown_records() or not deps:
            return not_found("I found no such deployment that you can open.")
        else:
            raise NoSlots("no deployment")
    if not named:
        return not_found("I found no such deployment that you can open.")
    days = c.period_days(7.0)
    since = c.now - days * DAY
    a = Composer()
    any_found = False
    for slug, d in named[:5]:
        rows, _ = await tools.predictions_since(c.b, slug, d["name"], since)
        cd = a.cite("deployment", f"{slug}/{d['name']}", d["name"], project=slug)
        lat = sorted(r["latency_ms"] for r in rows if r.get("latency_ms") is not None)
        if not lat:
            continue
        any_found = True
        cp = a.cite("predictions", f"{slug}/{d['name']}", f"{d['name']} prediction log", project=slug,
                    since=since)
        q95 = lat[min(len(lat) - 1, int(math.ceil(0.95 * len(lat))) - 1)]  # nearest rank, as the gateway
        sla = d.get("sla_ms")
        a.fact("p95_ms", q95, cp)
        a.fact("requests", len(lat), cp)
        line = (f"{lit(d['name'])} ({slug}), period asked: p95 latency **{num(q95)} ms** over {len(lat)} logged "
                f"requests")
        if sla:
            a.fact("sla_ms", sla, cd)
            verdict = "within its SLA" if q95 <= sla else "**above its SLA**"
            line += f", against its SLA of {num(sla)} ms: {verdict}"
        a.line(line + ".")
    if not any_found:
        return not_found("I found no requests logged in that period for that deployment.")
    return a.done()


async def deployments_of(c: Ctx) -> dict:
    scope = await c.scope()
    if scope is None:
        return not_found("I found no such project that you can open.")
    deps = await c.per_project("deployments", tools.deployments, [p.slug for p in scope])
    a = Composer()
    for p in scope:
        for d in deps.get(p.slug, []):
            cd = a.cite("deployment", f"{p.slug}/{d['name']}", d["name"], project=p.slug)
            mon = await tools.monitor(c.b, p.slug, d["name"])
            watched = "monitored" if mon and mon.get("enabled") else \
                "not monitored (its monitor is disabled)" if mon else "not monitored"
            sla = f", SLA {num(a.fact('sla_ms', d['sla_ms'], cd))} ms" if d.get("sla_ms") else ", no SLA"
            a.line(f"- {lit(d['name'])} ({p.slug}): {d['model']} version {num(d['version'])}, status "
                   f"{lit(d['status'])}{sla}, {watched}.")
    if not a.citations:
        return not_found("I found no deployments in the projects you can open.")
    a.lines.insert(0, "Deployments:")
    return a.done()


async def alerts_of(c: Ctx) -> dict:
    scope = await c.scope()
    if scope is None:
        return not_found("I found no such project that you can open.")
    state = "resolved" if re.search(r"\bresolved|closed\b", c.low) else "firing"
    a = Composer()
    for p in scope:
        items = await tools.alerts(c.b, p.slug, state=state)
        if not items:
            continue
        cl = a.cite("alerts", p.slug, f"{state} alerts in {p.slug}", project=p.slug, state=state)
        a.fact("count", len(items), cl)
        a.line(f"{len(items)} alert(s) {state} in {p.slug}:")
        for x in items:
            ca = a.cite("alert", x["id"], x.get("title") or x["key"], project=p.slug, deployment=x.get("deployment"))
            feature = (x.get("detail") or {}).get("feature")
            a.fact("windows", x.get("windows"), ca)
            a.line(f"- {lit(x.get('title') or x['key'])}: {x['kind']}, {x['severity']}" +
                   (f", feature {lit(feature)}" if feature else "") +
                   f", over {num(x.get('windows'))} window(s), deployment {lit(x.get('deployment'))}.")
    if not a.citations:
        return not_found(f"I found no {state} alerts in the projects you can open.")
    return a.done()
