"""Composers of the questions about pipeline runs: which stage failed in a pipeline's last run, why last night's run
failed (the stage, the notebook cell and the error the stage runner recorded), how many runs failed in a period,
when a pipeline last succeeded.

Read through the backend's pipeline API as the asker (GET `/projects/<slug>/pipelines` and
`/projects/<slug>/pipelines/<name>/runs`); each run named is cited as `pipeline_run` (its record:
GET `/projects/<slug>/pipeline-runs/<id>`). A stage's error is record text: it is quoted as data, never read."""

from __future__ import annotations

import re

from . import tools
from .answer import Composer, NoSlots, cite_project, lit, not_found, num
from .slots import DAY, Ctx, mention

# Words that make a question about a pipeline even when the name it gives is one the asker cannot open.
PIPELINE_WORDS = re.compile(r"\bpipelines?\b|\bstages?\b")


async def _named(c: Ctx) -> list[tuple[str, str]] | None:
    """(project, pipeline) the question names among the pipelines the asker can open; None: it names one the
    asker cannot open (or that does not exist). NoSlots: not a pipeline question."""
    listed = await c.per_project("pipelines", tools.pipelines)
    projects = {p.slug for p in c.named_projects()}
    found = [(s, pl["name"]) for s, pls in listed.items() for pl in pls if mention(pl["name"], c.low)
             and (not projects or s in projects)]
    if len(found) > 1 and c.current in {s for s, _ in found}:
        found = [x for x in found if x[0] == c.current]
    if found:
        return sorted(found)
    if PIPELINE_WORDS.search(c.low) or (re.search(r"\brun of\b", c.low) and await c.unknown_records()):
        return None
    raise NoSlots("no pipeline named")


def _cite_project(a: Composer, c: Ctx, slug: str) -> None:
    cite_project(a, c.by_slug[slug])  # its slug is named in the answer (and may hold digits: nb-credit-2024)


def _cite(a: Composer, slug: str, name: str, run: dict) -> dict:
    return a.cite("pipeline_run", run["run_id"], f"{name} run {run['run_id'][:8]}", project=slug, pipeline=name)


def _failed_stage(run: dict) -> dict | None:
    return next((s for s in run.get("stages", []) if s.get("status") == "FAILURE"), None)


def _stages_line(run: dict) -> str:
    return ", ".join(f"{s['name']} {lit(s.get('status', ''))}" for s in run.get("stages", []))


def _failure_lines(a: Composer, cr: dict, run: dict, with_error: bool) -> None:
    st = _failed_stage(run)
    if st is None:
        a.line(f"No stage failed: {_stages_line(run)}.")
        return
    err = st.get("error") or {}
    cell = err.get("cell")
    where = f" at cell {num(a.fact('cell', cell, cr))} of the notebook" if cell is not None else ""
    a.line(f"Stage **{st['name']}** failed{where}. Stages: {_stages_line(run)}.")
    if with_error:
        if err.get("error"):
            a.line(f"The error the stage recorded (record text, quoted as data): {lit(err['error'])}")
        else:
            a.line("The stage recorded no error message.")


NOT_FOUND = "I found no such pipeline that you can open."


async def _runs(c: Ctx, slug: str, name: str) -> list[dict]:
    return await tools.pipeline_runs(c.b, slug, name)  # newest first


async def pipeline_stage(c: Ctx) -> dict:
    """Which stage failed in the last run of pipeline P?"""
    named = await _named(c)
    if named is None:
        return not_found(NOT_FOUND)
    a = Composer()
    for slug, name in named:
        _cite_project(a, c, slug)
        runs = await _runs(c, slug, name)
        if not runs:
            a.line(f"Pipeline {lit(name)} ({slug}) has not run yet.")
            continue
        run = runs[0]
        cr = _cite(a, slug, name, run)
        a.line(f"The last run of pipeline {lit(name)} ({slug}), started {run['created_at']} by "
               f"{lit(run['created_by'])}, ended with status {lit(run['status'])}.")
        _failure_lines(a, cr, run, with_error=False)
    return a.done()


async def pipeline_why(c: Ctx) -> dict:
    """Why did (last night's) run of pipeline P fail? The stage, the cell and the error."""
    named = await _named(c)
    if named is None:
        return not_found(NOT_FOUND)
    a = Composer()
    for slug, name in named:
        _cite_project(a, c, slug)
        runs = await _runs(c, slug, name)
        if c.last_night():
            runs = [r for r in runs if (tools.parse_time(r.get("created_at")) or 0) >= c.now - 1.5 * DAY]
            if not runs:
                a.line(f"Pipeline {lit(name)} ({slug}) did not run last night.")
                continue
            run = runs[0]
        else:
            run = next((r for r in runs if r["status"] == "FAILURE"), runs[0] if runs else None)
            if run is None:
                a.line(f"Pipeline {lit(name)} ({slug}) has not run yet.")
                continue
        cr = _cite(a, slug, name, run)
        verdict = "failed" if run["status"] == "FAILURE" else "did not fail"
        a.line(f"The run of pipeline {lit(name)} ({slug}) started {run['created_at']} by "
               f"{lit(run['created_by'])} {verdict}: its status is {lit(run['status'])}.")
        _failure_lines(a, cr, run, with_error=True)
    return a.done()


async def pipeline_fail_count(c: Ctx) -> dict:
    """How many runs of pipeline P failed in the last N days (no period: ever)?"""
    named = await _named(c)
    if named is None:
        return not_found(NOT_FOUND)
    days = c.period_days(None)
    since = c.now - days * DAY if days else 0.0  # no period asked: all the pipeline's runs
    period = "among the runs started in the period asked" if days else "among all its runs"
    a = Composer()
    for slug, name in named:
        _cite_project(a, c, slug)
        runs = [r for r in await _runs(c, slug, name) if (tools.parse_time(r.get("created_at")) or 0) >= since]
        failed = [r for r in runs if r["status"] == "FAILURE"]
        cq = a.cite("pipeline_runs", f"{slug}/{name}", f"failed runs of {name} in the period", project=slug,
                    since=since, status="FAILURE")
        a.fact("count", len(failed), cq)
        a.line(f"Pipeline {lit(name)} ({slug}): **{len(failed)}** run(s) failed {period}"
               + (", newest first:" if failed else "."))
        for r in failed:
            _cite(a, slug, name, r)
            st = _failed_stage(r)
            a.line(f"- started {r['created_at']}: " + (f"stage {st['name']} failed" if st else "failed"))
    return a.done()


async def pipeline_last_success(c: Ctx) -> dict:
    """When did pipeline P last succeed?"""
    named = await _named(c)
    if named is None:
        return not_found(NOT_FOUND)
    a = Composer()
    for slug, name in named:
        _cite_project(a, c, slug)
        runs = await _runs(c, slug, name)
        ok = next((r for r in runs if r["status"] == "SUCCESS"), None)
        if ok is None:
            a.line(f"Pipeline {lit(name)} ({slug}) has no successful run.")
            continue
        _cite(a, slug, name, ok)
        a.line(f"Pipeline {lit(name)} ({slug}) last succeeded in the run started {ok['created_at']} by "
               f"{lit(ok['created_by'])} (version {lit(ok['version'][:12])}).")
        later = runs[:runs.index(ok)]
        if later:
            a.line(f"The runs since then ended {', '.join(lit(r['status']) for r in later)}.")
    return a.done()
