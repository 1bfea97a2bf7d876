"""Composers of the questions about model versions and their gates: why a retraining did not promote, who approved
a version and on what evidence, what a person approved or rejected, the champion of a model (and the code that
loads it, when the question asks to load it: a fenced block the Chat offers as a new notebook cell)."""

from __future__ import annotations

import asyncio
import json
import re

from . import tools
from .answer import Composer, NoSlots, cite_run, lit, not_found, num, run_label
from .backend_client import NotVisible
from .slots import DAY, Ctx, mention


async def retraining_why(c: Ctx) -> dict:
    deps = await c.deployments()
    models = await c.models()
    named_deps = [(s, d) for s, ds in deps.items() for d in ds if mention(d["name"], c.low)]
    named_models = {(s, m["name"]) for s, ms in models.items() for m in ms if mention(m["name"], c.low)}
    named_projects = {p.slug for p in c.named_projects()}
    if named_deps:
        cands = named_deps
    elif named_models:
        cands = [(s, d) for s, ds in deps.items() for d in ds if (s, d["model"]) in named_models]
    elif named_projects:
        cands = [(s, d) for s, ds in deps.items() if s in named_projects for d in ds]
    else:
        unknown = await c.unknown_records()
        m = re.search(r"\b(?:retrain\w*|retraining)\s+(?:of|for)\s+(?:the\s+)?([\w-]+)", c.low)
        if unknown or (m and m.group(1) not in {"model", "models", "it", "them"}):
            return not_found("I found no retraining of that model that you can open.")
        cands = [(s, d) for s, ds in deps.items() for d in ds]
    found = await asyncio.gather(*(tools.retrainings(c.b, s, d["name"]) for s, d in cands))
    events = [(s, d, r) for (s, d), rs in zip(cands, found) for r in rs]
    if c.last_night():
        events = [e for e in events if (tools.parse_time(e[2].get("created_at")) or 0) >= c.now - 1.5 * DAY]
    if not events:
        return not_found("I found no retraining in that period for that model that you can open.")
    slug, d, r = max(events, key=lambda e: tools.parse_time(e[2].get("created_at")) or 0)
    a = Composer()
    cr = a.cite("retraining", r["id"], f"retraining of {d['name']}", project=slug, deployment=d["name"])
    model = d["model"]
    decisions = await tools.gate_decisions(c.b, slug, model=model)
    dec = next((x for x in decisions if x["id"] == r.get("decision_id")), None)
    promoted = r.get("status") in ("promoted", "succeeded", "done") or bool(dec and dec.get("alias_moved"))
    a.line(f"The retraining of {lit(d['name'])} ({slug}) {'promoted' if promoted else 'did not promote'}: "
           f"its status is {lit(r['status'])}.")
    if r.get("version") is not None:
        cv = a.cite("model_version", f"{slug}/{model}/{r['version']}", f"{model} v{r['version']}", project=slug)
        vrec = await tools.model_version(c.b, slug, model, r["version"])
        a.fact("version", r["version"], cv)
        line = f"It registered {model} version {num(r['version'])}"
        if dec is not None:
            cdec = a.cite("gate_decision", dec["id"], f"{model} v{dec['version']} {dec['alias']} decision",
                          project=slug, model=model, version=dec["version"])
            line += (f"; the gates' decision on moving {lit(dec['alias'])} to it: {lit(dec['status'])}"
                     f" (decided by {lit(dec.get('decided_by') or 'pending')})")
            failed = [g for g in (dec.get("evidence") or {}).get("results", []) if not g.get("passed", True)]
            for g in failed:
                if g.get("gate") == "threshold":
                    a.fact(f"{g['metric']}", g["value"], cdec)
                    a.fact("threshold", g["required"], cdec)
                    line += (f". Failed gate: {g['metric']} = {num(g['value'])} against the threshold "
                             f"{g['metric']} {g['op']} {num(g['required'])}")
                else:
                    line += f". Failed gate: {lit(g.get('message') or g.get('gate'))}"
            if not failed and not promoted:
                line += f". Reason: {lit(dec.get('reason') or 'none recorded')}"
        metrics = vrec.get("metrics", {})
        if metrics:
            line += "; the version's metrics: " + ", ".join(f"{k} {num(v)}" for k, v in sorted(metrics.items()))
        a.line(line + ".")
    if r.get("message"):
        a.line(f"The monitor's record of it: {lit(r['message'])}.")
    if r.get("alert"):
        a.line(f"It was started by the alert {lit(r['alert'])}.")
    del cr
    return a.done()


async def approval(c: Ctx) -> dict:
    version = c.version()
    m = None
    if version is None:
        m = re.search(r"\b([a-z][\w-]*)\s+(\d+)\b", c.low)
        if m and re.search(r"approv|decision|sign|reject", c.low):
            version = int(m.group(2))
    if version is None:
        raise NoSlots("no version")
    models = await c.models()
    named_projects = {p.slug for p in c.named_projects()}
    cands = [(s, mm) for s, ms in models.items() for mm in ms if mention(mm["name"], c.low)
             and (not named_projects or s in named_projects)]
    cands = [(s, mm) for s, mm in cands if (mm.get("latest_version") or 0) >= version]
    if not cands:
        return not_found("I found no such model version that you can open.")
    a = Composer()
    for slug, mm in cands[:3]:
        name = mm["name"]
        decisions = [d for d in await tools.gate_decisions(c.b, slug, model=name) if d["version"] == version]
        vrec = await tools.model_version(c.b, slug, name, version)
        cv = a.cite("model_version", f"{slug}/{name}/{version}", f"{name} v{version}", project=slug)
        if not decisions:
            a.line(f"{name} version {num(version)} ({slug}) has no gate decision: nobody approved or rejected it.")
            continue
        decided = [d for d in decisions if d["status"] in ("approved", "rejected")]
        d = decided[0] if decided else decisions[0]  # newest first
        cd = a.cite("gate_decision", d["id"], f"{name} v{version} {d['alias']} decision", project=slug, model=name,
                    version=version)
        who = d.get("decided_by")
        if d["status"] in ("approved", "rejected"):
            a.line(f"{name} version {num(version)} ({slug}) was **{d['status']}** by {lit(who)} for "
                   f"{lit(d['alias'])}.")
            a.line(f"- Reason given: {lit(d.get('reason') or 'none recorded')}")
        elif d["status"] == "pending":
            a.line(f"{name} version {num(version)} ({slug}) passed the gates for {lit(d['alias'])} and waits for a "
                   "lead's approval: nobody has approved or rejected it yet.")
        else:
            a.line(f"{name} version {num(version)} ({slug}) was not approved by anyone: the gates decided "
                   f"{lit(d['status'])} for {lit(d['alias'])} (decided by {lit(who or 'the gates')}).")
        ev = d.get("evidence") or {}
        for g in ev.get("results", []):
            if g.get("gate") == "threshold":
                a.fact(g["metric"], g["value"], cd)
                a.fact("threshold", g["required"], cd)
                verdict = "passed" if g.get("passed") else "failed"
                a.line(f"- Evidence: gate {g['metric']} {g['op']} {num(g['required'])} {verdict} with "
                       f"{g['metric']} = {num(g['value'])} ({g.get('source', 'run metrics')})")
            elif g.get("gate") == "signature":
                a.line(f"- Evidence: signature gate {'passed' if g.get('passed') else 'failed'}: "
                       f"{lit(g.get('message', ''))}")
        if vrec.get("run_id"):
            try:
                run = await tools.get_run(c.b, slug, vrec["run_id"])
                cr = cite_run(a, slug, run)
                ms = run.get("metrics", {})
                a.line(f"- Trained in run {lit(run_label(run))}: " +
                       ", ".join(f"{k} {num(a.fact(k, v, cr))}" for k, v in sorted(ms.items())))
            except NotVisible:
                pass
        del cv
    return a.done()


async def decisions_by(c: Ctx) -> dict:
    outcome = "rejected" if re.search(r"\breject", c.low) else "approved" if re.search(r"\bapprov|sign", c.low) \
        else None
    if outcome is None:
        raise NoSlots("no outcome")
    all_dec = await c.per_project("decisions", lambda b, s: tools.gate_decisions(b, s))
    people = {d["decided_by"] for ds in all_dec.values() for d in ds if d.get("decided_by")} - {"gates"}
    who = [u for u in people if mention(u, c.low)]
    if len(who) != 1:
        raise NoSlots("no person")
    user = who[0]
    rows = sorted(((s, d) for s, ds in all_dec.items() for d in ds
                   if d.get("decided_by") == user and d["status"] == outcome), key=lambda x: (x[0], x[1]["model"],
                                                                                            x[1]["version"]))
    if not rows:
        return not_found(f"I found no versions {outcome} by that person in the projects you can open.")
    a = Composer()
    a.line(f"{lit(user)} {outcome} {len(rows)} version(s) in the projects you can open:")
    for s, d in rows:
        cd = a.cite("gate_decision", d["id"], f"{d['model']} v{d['version']} {d['alias']} decision", project=s,
                    model=d["model"], version=d["version"])
        a.fact("version", d["version"], cd)
        a.line(f"- {d['model']} version {num(d['version'])} ({s}) for {lit(d['alias'])}: "
               f"{lit(d.get('reason') or 'no reason recorded')}")
    return a.done()


async def champion(c: Ctx) -> dict:
    models = await c.models()
    named_projects = {p.slug for p in c.named_projects()}
    cands = [(s, m) for s, ms in models.items() for m in ms if mention(m["name"], c.low)
             and (not named_projects or s in named_projects)]
    if not cands and named_projects:
        cands = [(s, m) for s, ms in models.items() if s in named_projects for m in ms]
    if not cands:
        if await c.unknown_records() or re.search(r"\bof\s+[\w-]+", c.low):
            return not_found("I found no such model that you can open.")
        raise NoSlots("no model")
    a = Composer()
    alias = "champion"
    for slug, m in cands:
        v = (m.get("aliases") or {}).get(alias)
        if v is None:
            a.line(f"{m['name']} ({slug}) has no {alias}.")
            continue
        rec = await tools.model_version(c.b, slug, m["name"], v)
        cv = a.cite("model_version", f"{slug}/{m['name']}/{v}", f"{m['name']} v{v}", project=slug)
        a.fact("version", v, cv)
        metrics = ", ".join(f"{k} {num(a.fact(k, x, cv))}" for k, x in sorted(rec.get("metrics", {}).items()))
        a.line(f"The {alias} of {m['name']} ({slug}) is version **{num(v)}**" + (f": {metrics}" if metrics else "")
               + ".")
        if LOAD.search(c.low):
            a.line(load_code(m["name"], alias, slug))
    return a.done()


# "load the champion of churn", "how do I load it", "loading code": the answer carries the code
LOAD = re.compile(r"\bload(?:s|ing)?\b")


def load_code(model: str, alias: str, slug: str) -> str:
    """A fenced Python block loading the model by alias through MLflow, as a notebook of `slug` can (its kernel's
    MLFLOW_TRACKING_URI is the project's gateway, which checks the signed files first). The name is a registered
    model's (`[a-z0-9][a-z0-9_-]*`), written as a JSON string literal all the same: record text is data."""
    uri = json.dumps(f"models:/{model}@{alias}")
    return (f"\nIn a notebook of {slug}:\n\n```python\nimport mlflow\n\n"
            f"{alias} = mlflow.pyfunc.load_model({uri})\n```")
