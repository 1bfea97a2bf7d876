"""Composers of the questions about runs and experiments: the best feature-engineering approach across projects,
the runs of a dataset snapshot, the two best runs compared, run counts and lists, experiments, best and latest runs."""

from __future__ import annotations

import asyncio
import re

from . import tools
from .answer import Composer, NoSlots, cite_project, cite_run, lit, not_found, num, run_label
from .slots import Ctx, mention, since_ms


def approach_param(params: dict[str, str]) -> str | None:
    """The parameter that names a feature-engineering approach: a feature/approach/encoding key whose value is a
    word, not a number (`features`, not `n_features`)."""
    for k in sorted(params):
        v = str(params[k])
        if re.search(r"feature|approach|encod|transform|preprocess", k, re.IGNORECASE) and \
                not re.fullmatch(r"-?\d+(\.\d+)?", v):
            return k
    return None


async def best_approach(c: Ctx) -> dict:
    domains = c.named_domains()
    clients = c.named_clients()
    if c.unknown_proper_names() and not clients:
        return not_found("I found no projects of that client that you can open.")
    cands = [p for p in c.projects if (not domains or p.domain in domains) and (not clients or p.client in clients)]
    if not domains and not clients and not re.search(r"\bprojects?\b|\bengagements?\b", c.low):
        raise NoSlots("no projects")
    if not cands:
        return not_found("I found no projects of that kind that you can open.")
    cands.sort(key=lambda p: p.created_at or 0, reverse=True)
    cands = cands[: c.count_word(3)]
    metric = await c.metric([p.slug for p in cands])
    results = await asyncio.gather(*(tools.search_runs(c.b, p.slug, "attributes.status = 'FINISHED'",
                                                       [f"metrics.`{metric}` DESC"], limit=1) for p in cands))
    a = Composer()
    per = []
    for p, (runs, _) in zip(cands, results):
        runs = [r for r in runs if metric in r.get("metrics", {})]
        if runs:
            per.append((p, runs[0]))
    if not per:
        return not_found(f"I found no finished runs with {metric} in those projects.")
    top_p, top = max(per, key=lambda x: x[1]["metrics"][metric])
    key = approach_param(top["params"]) or "features"
    cr = cite_run(a, top_p.slug, top)
    a.line(f"**{lit(top['params'].get(key))}** gave the highest {metric}: "
           f"{num(a.fact(metric, top['metrics'][metric], cr))} in run {lit(run_label(top))} ({top_p.slug}).")
    a.line("")
    a.line(f"Best run per project (the most recent {' / '.join(domains) + ' ' if domains else ''}projects you "
           "can open, newest first):")
    for p, r in per:
        cr = cite_run(a, p.slug, r)
        k = approach_param(r["params"]) or key
        a.line(f"- {p.slug} ({p.name}): {lit(r['params'].get(k))}, {metric} "
               f"{num(a.fact(metric, r['metrics'][metric], cr))} — run {lit(run_label(r))}")
        cite_project(a, p)
    return a.done()


async def dataset_runs(c: Ctx) -> dict:
    m = re.search(r"(?<![\w.])(\d{6,})(?![\w.])", c.text)
    if not m:
        raise NoSlots("no snapshot id")
    snap = m.group(1)
    named = c.named_projects()
    if not named and await c.unknown_records():
        return not_found("I found no runs of that snapshot in the projects you can open.")
    scope = named or list(c.projects)
    flt = f"tags.`mlp.datasets` LIKE '%\"snapshot_id\":\"{snap}\"%'"
    results = await asyncio.gather(*(tools.search_runs(c.b, p.slug, flt, ["attributes.start_time DESC"])
                                     for p in scope))
    hits = [(p, runs, total) for p, (runs, total) in zip(scope, results) if total]
    if not hits:
        return not_found("I found no runs that used that snapshot in the projects you can open.")
    a = Composer()
    total = sum(t for _, _, t in hits)
    dataset = None
    for _, runs, _ in hits:
        for r in runs:
            try:
                import json

                for ds in json.loads(r.get("tags", {}).get("mlp.datasets", "[]")):
                    if str(ds.get("snapshot_id")) == snap:
                        dataset = ds.get("name")
            except ValueError:
                pass
    where = ", ".join(p.slug for p, _, _ in hits)
    head = f"{total} run(s) used snapshot {snap}" + (f" of dataset {lit(dataset)}" if dataset else "") + \
        f" ({where}):"
    a.line(head)
    for p, runs, t in hits:
        cs = a.cite("run_search", p.slug, f"runs of snapshot {snap} in {p.slug}", project=p.slug, filter=flt)
        a.fact("count", t, cs)
        for r in sorted(runs, key=run_label):
            cite_run(a, p.slug, r)
            a.line(f"- {lit(run_label(r))} ({r.get('status', '').lower()})")
    return a.done()


async def compare_top2(c: Ctx) -> dict:
    scope = await c.scope()
    if scope is None:
        return not_found("I found no such project or experiment that you can open.")
    p = scope[0]
    exps = await c.experiments(p.slug)
    named = [e for e in exps if mention(e["name"], c.low)]
    if not named:
        if await c.unknown_records():
            return not_found("I found no such experiment that you can open.")
        raise NoSlots("no experiment")
    e = named[0]
    metric = await c.metric([p.slug])
    runs, _ = await tools.search_runs(c.b, p.slug, "attributes.status = 'FINISHED'", [f"metrics.`{metric}` DESC"],
                                      [e["experiment_id"]], limit=3)
    runs = [r for r in runs if metric in r.get("metrics", {})][:2]
    if len(runs) < 2:
        return not_found(f"I found fewer than two finished runs with {metric} in that experiment.")
    a = Composer()
    r1, r2 = runs
    c1, c2 = cite_run(a, p.slug, r1), cite_run(a, p.slug, r2)
    v1, v2 = a.fact(metric, r1["metrics"][metric], c1), a.fact(metric, r2["metrics"][metric], c2)
    diff = float(f"{v1 - v2:.4f}")
    a.line(f"The two best runs of {lit(e['name'])} in {p.slug} by {metric}:")
    a.line(f"- {lit(run_label(r1))}: {metric} {num(v1)}")
    a.line(f"- {lit(run_label(r2))}: {metric} {num(v2)}")
    a.line(f"The first leads by {num(diff)} {metric}.")
    keys = sorted(set(r1.get("params", {})) | set(r2.get("params", {})))
    differ = [k for k in keys if r1["params"].get(k) != r2["params"].get(k)]
    same = [k for k in keys if k not in differ]
    if differ:
        a.line("Parameters that differ: " + "; ".join(
            f"{k} {lit(r1['params'].get(k))} vs {lit(r2['params'].get(k))}" for k in differ) + ".")
    if same:
        a.line("Same in both: " + "; ".join(f"{k} {lit(r1['params'][k])}" for k in same) + ".")
    others = sorted((set(r1["metrics"]) & set(r2["metrics"])) - {metric})
    if others:
        a.line("Other metrics: " + "; ".join(f"{k} {num(r1['metrics'][k])} vs {num(r2['metrics'][k])}"
                                            for k in others) + ".")
    return a.done()


async def _run_filter(c: Ctx, p: tools.Project) -> tuple[str, list[str], list[str]]:
    """The MLflow search a run question asks for in project p: (filter, experiment ids, what it means in words)."""
    parts, exp_ids, said = [], [], []
    exps = await c.experiments(p.slug)
    named = [e for e in exps if mention(e["name"], c.low)]
    if named:
        exp_ids = [e["experiment_id"] for e in named]
        said.append("in " + ", ".join(lit(e["name"]) for e in named))
    status = next((s for s in ("FAILED", "FINISHED", "RUNNING", "KILLED")
                   if re.search(r"\b" + s[:-2].lower() + r"(ed|ing)?\b", c.low)), None)
    if status:
        parts.append(f"attributes.status = '{status}'")
        said.append(f"with status {status}")
    days = c.period_days(None)
    if days:
        parts.append(f"attributes.start_time >= {since_ms(c.now, days)}")
        said.append("started in the period asked")
    return " and ".join(parts), exp_ids, said


async def count_runs(c: Ctx) -> dict:
    scope = await c.scope()
    if scope is None:
        return not_found("I found no such project that you can open.")
    a = Composer()
    for p in scope:
        flt, exp_ids, said = await _run_filter(c, p)
        _, total = await tools.search_runs(c.b, p.slug, flt, experiment_ids=exp_ids, limit=1)
        cs = a.cite("run_search", p.slug, f"run search in {p.slug}", project=p.slug, filter=flt or None,
                    experiment_id=exp_ids or None)
        cite_project(a, p)
        a.fact("count", total, cs)
        a.line(f"{p.slug}: **{total}** run(s)" + (" " + ", ".join(said) if said else "") +
               (f" (MLflow filter {lit(flt)})" if flt else "") + ".")
    return a.done()


async def list_runs(c: Ctx) -> dict:
    scope = await c.scope()
    if scope is None:
        return not_found("I found no such project that you can open.")
    limit = c.count_word(20)
    a = Composer()
    for p in scope:
        flt, exp_ids, said = await _run_filter(c, p)
        if not flt and not exp_ids:
            raise NoSlots("no condition on the runs")
        runs, total = await tools.search_runs(c.b, p.slug, flt, ["attributes.start_time DESC"], exp_ids,
                                              limit=limit)
        cs = a.cite("run_search", p.slug, f"run search in {p.slug}", project=p.slug, filter=flt or None,
                    experiment_id=exp_ids or None)
        a.fact("count", total, cs)
        a.line(f"{p.slug}: {total} run(s) " + ", ".join(said) + (f" (MLflow filter {lit(flt)})" if flt else "") +
               (", newest first:" if runs else "."))
        for r in runs:
            cite_run(a, p.slug, r)
            a.line(f"- {lit(run_label(r))} ({str(r.get('status', '')).lower()}, by {lit(r.get('user') or '?')})")
    return a.done()


async def experiments_of(c: Ctx) -> dict:
    scope = await c.scope()
    if scope is None:
        return not_found("I found no such project that you can open.")
    a = Composer()
    for p in scope:
        exps = await c.experiments(p.slug)
        totals = await asyncio.gather(*(tools.search_runs(c.b, p.slug, "", experiment_ids=[e["experiment_id"]],
                                                          limit=1) for e in exps))
        a.line(f"Experiments of {p.slug}:")
        for e, (_, total) in zip(exps, totals):
            cs = a.cite("run_search", p.slug, f"runs of {e['name']}", project=p.slug,
                        experiment_id=[e["experiment_id"]])
            a.fact("runs", total, cs)
            a.line(f"- {lit(e['name'])}: {total} run(s)")
    return a.done()


async def best_run(c: Ctx) -> dict:
    scope = await c.scope()
    if scope is None:
        return not_found("I found no such project that you can open.")
    a = Composer()
    for p in scope:
        metric = await c.metric([p.slug])
        exps = await c.experiments(p.slug)
        named = [e for e in exps if mention(e["name"], c.low)]
        runs, _ = await tools.search_runs(c.b, p.slug, "attributes.status = 'FINISHED'",
                                          [f"metrics.`{metric}` DESC"], [e["experiment_id"] for e in named],
                                          limit=3)
        runs = [r for r in runs if metric in r.get("metrics", {})]
        if not runs:
            a.line(f"{p.slug}: no finished run has {metric}.")
            continue
        r = runs[0]
        cr = cite_run(a, p.slug, r)
        where = f" of {lit(named[0]['name'])}" if named else ""
        params = ", ".join(f"{k} {lit(v)}" for k, v in sorted(r.get("params", {}).items())
                           if not re.fullmatch(r"-?\d+(\.\d+)?", str(v)))
        a.line(f"The best run{where} in {p.slug} by {metric}: {lit(run_label(r))} with {metric} "
               f"**{num(a.fact(metric, r['metrics'][metric], cr))}**" + (f" ({params})" if params else "") + ".")
    if not a.citations:
        return not_found("I found no finished runs with that metric in the projects you can open.")
    return a.done()


async def latest_runs(c: Ctx) -> dict:
    scope = await c.scope()
    if scope is None:
        return not_found("I found no such project that you can open.")
    n = c.count_word(5)
    a = Composer()
    for p in scope:
        runs, _ = await tools.search_runs(c.b, p.slug, "", ["attributes.start_time DESC"], limit=n)
        a.line(f"The most recent runs in {p.slug}, newest first:")
        for r in runs:
            cite_run(a, p.slug, r)
            a.line(f"- {lit(run_label(r))} ({str(r.get('status', '')).lower()}, by {lit(r.get('user') or '?')})")
    if not a.citations:
        return not_found("I found no runs in the projects you can open.")
    return a.done()
