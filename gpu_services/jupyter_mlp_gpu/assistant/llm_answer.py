"""The LLM path of the planner (issue 13 item 6), used only when `llm_url` is set.

- `answer_free_form(ctx, question, retriever, client)`: a question no form answers. The entity lists the asker
  can see (the `Ctx` entity index: project slugs, `<project>/<model>`, `<project>/<deployment>`,
  `<project>/<pipeline>`) and the retrieved records (as data) go to `llm_plan.plan_with_llm`; the calls it
  validates run as the asker (`llm_tools.execute`), and `compose` writes the answer from their results: every
  figure and every named record comes from a result and is cited (`citations.py` types; experiments and models,
  which have none, cite their project). No valid call or no
  result: an honest ungrounded "I could not find ..." — the LLM's own text never reaches the answer.
- `phrase_lines(answer, question, client)`: the phrasing of a grounded answer (`llm_phrase.phrase`, under the
  figure guard) as NDJSON-ready messages: `{"type": "delta", "text"}` while the guard lets words through, then the
  answer with `text` = the phrased text if the guard accepted it, else the composed text, and `phrased: bool`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from . import tools
from .answer import Composer, cite_run, lit, llm_needed, not_found, num, run_label
from .backend_client import BackendError
from .llm_client import LLMClient, LLMUnavailable
from .llm_phrase import phrase
from .llm_plan import ToolCall, plan_with_llm
from .llm_tools import CATALOGUE, execute
from .slots import Ctx

MAX_ITEMS = 10  # records listed per call
RETRIEVED = 5  # retrieved records given to the planner as data
# The fields written per tool (top-level scalars of the record, or a dict of figures such as a run's metrics)
FIELDS = {
    "search_runs": ("status", "params", "metrics"),
    "model_versions": ("status", "aliases"),
    "gate_decisions": ("model", "version", "alias", "status", "decided_by", "reason"),
    "deployments": ("model", "version", "status", "sla_ms"),
    "monitor_windows": ("seq", "status", "rows", "labelled"),
    "retrainings": ("status", "version", "message"),
    "alerts": ("deployment", "kind", "severity", "state", "title"),
    "pipeline_runs": ("status", "created_by"),
    "experiments": (),
    "models": (),
}


async def entities(ctx: Ctx) -> dict[str, list[str]]:
    """The names the asker can see, by entity kind, per-project names as `<project>/<name>` (the strict form
    `validate_plan` accepts with the call's `project` argument)."""
    async def pipes(b: Any, slug: str) -> list[dict]:
        try:
            return await tools.pipelines(b, slug)
        except BackendError:
            return []

    models, deps, pipelines = await ctx.models(), await ctx.deployments(), await ctx.per_project("pipelines", pipes)
    return {"project": [p.slug for p in ctx.projects],
            "model": sorted(f"{s}/{m['name']}" for s, ms in models.items() for m in ms),
            "deployment": sorted(f"{s}/{d['name']}" for s, ds in deps.items() for d in ds),
            "pipeline": sorted(f"{s}/{x['name']}" for s, xs in pipelines.items() for x in xs if x.get("name"))}


def _items(result: Any) -> list[dict]:
    if isinstance(result, dict):
        result = result.get("items", [])
    return [r for r in result or [] if isinstance(r, dict)][:MAX_ITEMS]


def _cite(a: Composer, call: ToolCall, r: dict) -> tuple[dict, str]:
    """The citation of one result record and the name it is listed under."""
    p, args = call.args["project"], call.args
    match call.tool:
        case "search_runs":
            return cite_run(a, p, r), run_label(r)
        case "model_versions":
            label = f"{args['model']} v{r['version']}"
            return a.cite("model_version", f"{p}/{args['model']}/{r['version']}", label, project=p), label
        case "gate_decisions":
            label = f"{r.get('model')} v{r.get('version')} {r.get('alias')} decision"
            return a.cite("gate_decision", r["id"], label, project=p, model=r.get("model")), label
        case "deployments":
            return a.cite("deployment", f"{p}/{r['name']}", r["name"], project=p), r["name"]
        case "monitor_windows":
            label = f"{args['deployment']} window {r.get('seq')}"
            return a.cite("monitor_window", r["id"], label, project=p, deployment=args["deployment"]), label
        case "retrainings":
            label = f"retraining of {args['deployment']}"
            return a.cite("retraining", r["id"], label, project=p, deployment=args["deployment"]), label
        case "alerts":
            label = str(r.get("title") or r.get("key"))
            return a.cite("alert", r["id"], label, project=p), label
        case "pipeline_runs":
            label = f"a run of {args['pipeline']}"
            return a.cite("pipeline_run", r["run_id"], label, project=p), label
    # experiments, models: no record type of their own; the project lists them
    name = str(r.get("name") or r.get("pipeline") or "")
    return a.cite("project", p, p, project=p), name


def _fields(a: Composer, tool: str, r: dict, c: dict) -> list[str]:
    out = []
    for k in FIELDS.get(tool, ()):
        v = r.get(k)
        if v is None or v == "" or v == [] or v == {}:
            continue
        if isinstance(v, bool):
            out.append(f"{k} {'yes' if v else 'no'}")
        elif isinstance(v, (int, float)):
            out.append(f"{k} {num(a.fact(k, v, c))}")
        elif isinstance(v, dict):
            for kk, vv in sorted(v.items())[:12]:
                if isinstance(vv, (int, float)) and not isinstance(vv, bool):
                    out.append(f"{kk} {num(a.fact(kk, vv, c))}")
                elif isinstance(vv, str):
                    out.append(f"{kk} {lit(vv)}")
        elif isinstance(v, list):
            out.append(f"{k} {', '.join(lit(x) for x in v[:12])}")
        else:
            out.append(f"{k} {lit(v)}")
    return out


def compose(results: list[tuple[ToolCall, Any]]) -> dict[str, Any]:
    """A grounded answer from the results of validated calls: each record listed under its name with the fields
    `FIELDS` names, every one from the record and cited; None of the LLM's text. Ungrounded when nothing came
    back."""
    a = Composer()
    for call, result in results:
        items = _items(result)
        if not items:
            continue
        p = call.args["project"]
        head = f"**{call.tool.replace('_', ' ')}** in {lit(p)}"
        if call.tool == "search_runs" and isinstance(result, dict) and "total" in result:
            flt = call.args.get("filter") or None
            cs = a.cite("run_search", p, f"run search in {p}", project=p, filter=flt)
            head += f" ({num(a.fact('runs', int(result['total']), cs))} runs match" + \
                (f" {lit(flt)}" if flt else "") + ")"
        a.line(head + ":")
        for r in items:
            try:
                c, name = _cite(a, call, r)
            except KeyError:
                continue
            a.line(f"- {lit(name)}" + (": " + "; ".join(_fields(a, call.tool, r, c)) if FIELDS.get(call.tool)
                                       else ""))
    if not a.facts and not a.citations:
        return not_found("I could not find records that answer this among the projects you can open.")
    out = a.done()
    out["llm_planned"] = True
    return out


async def answer_free_form(ctx: Ctx, question: str, retriever: Any, client: LLMClient) -> dict[str, Any]:
    """Plan with the LLM, execute as the asker, compose from the results (see the module's doc)."""
    records: list[dict] = []
    if retriever is not None:
        try:
            records = await retriever.search(question, limit=RETRIEVED)
        except Exception:  # noqa: BLE001 - the plan goes on without retrieved records
            records = []
    try:
        calls = await plan_with_llm(question, CATALOGUE, await entities(ctx), records=records, client=client)
    except LLMUnavailable as exc:
        reason = str(exc).rstrip(".")
        return llm_needed(f"This question needs a language model (free-form reasoning or writing), and the "
                          f"configured one could not plan it: {reason}. Without it I answer structured questions "
                          f"about runs, models, deployments, drift, latency, gates and retrainings.")
    results = []
    for call in calls:
        try:
            results.append((call, await execute(call, ctx.b)))
        except BackendError:  # the backend decides access again: a refused call adds nothing
            continue
    out = compose(results)
    out["llm_calls"] = [c.model_dump() for c in calls]
    if not calls:
        out["text"] = "I could not turn this question into a lookup of your records, so I have no figures for it."
    return out


async def phrase_lines(answer: dict[str, Any], question: str,
                       client: LLMClient | None) -> AsyncIterator[dict[str, Any]]:
    """`{"type": "delta", "text"}` messages while the guarded phrasing streams, then `{"type": "answer"}` with the
    text to show and `phrased`. Without a client, or for an answer that is not grounded, only the answer."""
    if client is None or not answer.get("grounded") or answer.get("needs_llm"):
        yield {"type": "answer", "answer": {**answer, "phrased": False}}
        return
    p = phrase(answer, question, client=client)
    async for delta in p:
        yield {"type": "delta", "text": delta}
    out = {**answer, "text": p.text, "phrased": p.accepted}
    if not p.accepted and p.reason:
        out["phrase_reason"] = p.reason
    yield {"type": "answer", "answer": out}
