"""The deterministic planner: structured questions answered exactly from the platform's records, every figure
cited (issue 13 items 5 and 6, the no-LLM path).

    answer(question, backend, *, project=None, context={}, retriever=None) -> the answer contract
    (tests/bench/assistant_score.py: text, facts, citations, grounded, needs_llm)

How a question is answered:
1. **Which form.** A catalogue of question forms (`FORMS`: best approach across projects, drift per client,
   why a retraining did not promote, who approved a version, runs of a dataset snapshot, p95 latency against
   the SLA, the two best runs compared, run counts, best and latest runs, champions, deployments, alerts,
   decisions by a person). Each has example phrasings and keyword cues; the question is scored against every
   form by the cosine similarity of its embedding (all-MiniLM-L6-v2, `embed.py`, loaded on first use) with the
   examples plus the cues it hits. Questions that ask for opinion, explanation or writing ("why do you think",
   "draft", "summarise", "should we") and questions no form matches well enough get `needs_llm: true`.
2. **Slots.** Filled from an entity index built for this question from what the asker can see through the API:
   project slugs, names, clients and domains (from the project description "Client: X. Domain: Y."), models,
   deployments, experiments, metrics, the people who decided gates; versions, snapshot ids, counts and periods
   ("last night", "this week", "last 14 days", "past 3 months") from the text, against `context["now"]` or now.
   A form whose slots cannot be filled yields to the next form.
3. **Tool calls** (`tools.py`) as the asker — the backend decides access; the assistant never sees another
   project's records, and a name the asker cannot open is answered like a name that does not exist: "I found
   no ... you can open", ungrounded, citing nothing, and without repeating the name.
4. **Composition** from templates: every figure and record named comes from a tool result and its record is
   cited (`citations.py`); record text (run names, reasons, messages) is quoted as data in code spans and never
   read as instructions.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import tools
from .backend_client import BackendClient, BackendError, NotVisible

DAY = 86400.0
MAX_QUESTION_CHARS = 4000
NEEDS_LLM_TEXT = ("This question needs a language model (free-form reasoning or writing), and none is configured: "
                  "set `llm_url` (an OpenAI-compatible server such as vLLM) and `llm_model`. Without one I answer "
                  "structured questions about runs, models, deployments, drift, latency, gates and retrainings.")
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "twelve": 12, "twenty": 20}
LLM_CUES = re.compile(r"\b(why do you think|what do you think|in your opinion|your view|explain like|explain why|"
                      r"should we|what should|would you|write (a|an|me|the)|draft|summar(y|ise|ize)|recommend|"
                      r"suggest|e-?mail|worry|advice|opinion|brainstorm|poem|story)\b", re.IGNORECASE)
DEFAULT_METRIC = "auc"


# --- the answer ----------------------------------------------------------------------------------------------------

def lit(text: Any) -> str:
    """Record text as inert Markdown: a code span (nothing inside one is interpreted), one line."""
    s = " ".join(str(text).split()).replace("`", "'")
    return f"`{s}`"


def num(x: Any) -> str:
    """A figure as the record holds it (shortest repr: 0.8002, 120.0, 400)."""
    if isinstance(x, float):
        return repr(x) if math.isfinite(x) else str(x)
    return str(x)


class Composer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.facts: list[dict] = []
        self.citations: list[dict] = []
        self._seen: set[tuple[str, str]] = set()

    def cite(self, type_: str, id_: Any, label: str | None = None, **extra: Any) -> dict:
        c = {"type": type_, "id": str(id_), "label": label or str(id_),
             **{k: v for k, v in extra.items() if v is not None}}
        if (type_, str(id_)) not in self._seen:
            self._seen.add((type_, str(id_)))
            self.citations.append(c)
        return c

    def fact(self, name: str, value: Any, citation: dict) -> Any:
        self.facts.append({"name": name, "value": value,
                           "citation": {"type": citation["type"], "id": citation["id"]}})
        return value

    def line(self, text: str) -> None:
        self.lines.append(text)

    def done(self) -> dict[str, Any]:
        return {"text": "\n".join(self.lines), "facts": self.facts, "citations": self.citations,
                "grounded": True, "needs_llm": False}


def not_found(text: str) -> dict[str, Any]:
    return {"text": text, "facts": [], "citations": [], "grounded": False, "needs_llm": False}


def llm_needed(text: str = NEEDS_LLM_TEXT) -> dict[str, Any]:
    return {"text": text, "facts": [], "citations": [], "grounded": False, "needs_llm": True}


class NoSlots(Exception):
    """The form cannot be filled from this question: the next form is tried."""


# --- the entity index ----------------------------------------------------------------------------------------------

def mention(name: str, low: str) -> bool:
    """`name` occurs in the lowercased question as a whole name (hyphens and spaces alike)."""
    if not name:
        return False
    parts = [re.escape(p) for p in re.split(r"[-\s_]+", name.lower()) if p]
    if not parts:
        return False
    return re.search(r"(?<![\w-])" + r"[-\s_]+".join(parts) + r"(?![\w-])", low) is not None


class Ctx:
    """One question: its text, the asker's API client, and the entity index (loaded as the form needs it)."""

    def __init__(self, question: str, b: BackendClient, projects: list[tools.Project], now: float,
                 project: str | None):
        self.text = question
        self.low = question.lower()
        self.b = b
        self.projects = projects
        self.by_slug = {p.slug: p for p in projects}
        self.now = now
        self.current = project if project in self.by_slug else None
        self._cache: dict[str, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def _once(self, key: str, make: Callable[[], Awaitable[Any]]) -> Any:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._cache:
                self._cache[key] = await make()
            return self._cache[key]

    async def per_project(self, what: str, fn: Callable[[BackendClient, str], Awaitable[Any]],
                          slugs: list[str] | None = None) -> dict[str, Any]:
        slugs = slugs if slugs is not None else [p.slug for p in self.projects]

        async def one(slug: str) -> Any:
            try:
                return await fn(self.b, slug)
            except NotVisible:
                return []
        results = await asyncio.gather(*(self._once(f"{what}:{s}", lambda s=s: one(s)) for s in slugs))
        return dict(zip(slugs, results))

    async def models(self) -> dict[str, list[dict]]:
        return await self.per_project("models", tools.models)

    async def deployments(self) -> dict[str, list[dict]]:
        return await self.per_project("deployments", tools.deployments)

    async def experiments(self, slug: str) -> list[dict]:
        return (await self.per_project("experiments", tools.experiments, [slug]))[slug]

    # slots ---------------------------------------------------------------------------------------------------
    def named_projects(self) -> list[tools.Project]:
        return [p for p in self.projects if mention(p.slug, self.low) or mention(p.name, self.low)]

    def clients(self) -> dict[str, list[tools.Project]]:
        out: dict[str, list[tools.Project]] = {}
        for p in self.projects:
            if p.client:
                out.setdefault(p.client, []).append(p)
        return out

    def named_clients(self) -> list[str]:
        named = []
        for client in self.clients():
            first = client.split()[0]
            if mention(client, self.low) or (len(first) >= 4 and mention(first, self.low)):
                named.append(client)
        return named

    def named_domains(self) -> list[str]:
        return sorted({p.domain for p in self.projects if p.domain and mention(p.domain, self.low)})

    def unknown_proper_names(self) -> list[str]:
        """Capitalized names after for/of/on/at or before 's that match nothing the asker can see (a client, a
        project): the question is about something this user cannot open (or that does not exist)."""
        known = {w.lower() for c in self.clients() for w in c.split()}
        known |= {w.lower() for p in self.projects for w in p.name.split()}
        found = re.findall(r"(?:\bfor|\bof|\bon|\bat|\bto)\s+(?:all\s+(?:of\s+)?)?(?:the\s+)?"
                           r"([A-Z][\w&.-]*(?:\s+[A-Z][\w&.-]*)*)", self.text)
        found += re.findall(r"([A-Z][\w&-]*(?:\s+[A-Z][\w&-]*)*)'s\b", self.text)
        stop = {"auc", "sla", "ks", "i", "p95", "psi", "mlflow"}
        return [f for f in found if f.lower() not in stop and not all(w.lower() in known for w in f.split())]

    def record_like_tokens(self) -> list[str]:
        """Hyphenated names in a record's place: after in/of/for/on/from, before 's, or before a record noun."""
        name = r"([a-z0-9]+(?:-[a-z0-9]+)+)"
        found = re.findall(r"(?:\bin|\bof|\bfor|\bon|\bfrom)\s+(?:the\s+)?" + name + r"(?![\w-])", self.low)
        found += re.findall(name + r"'s?(?![\w])", self.low)
        found += re.findall(name + r"\s+(?:retrain\w*|deployment|model|project|experiment|p95|latency|runs?)\b",
                            self.low)
        return found

    async def known_names(self) -> set[str]:
        names = {p.slug for p in self.projects} | {p.domain for p in self.projects if p.domain}
        for ms in (await self.models()).values():
            names |= {m["name"].lower() for m in ms}
        for ds in (await self.deployments()).values():
            names |= {d["name"].lower() for d in ds}
        for key, value in self._cache.items():
            if key.startswith("experiments:"):
                names |= {e["name"].lower() for e in value}
        return names

    async def unknown_records(self) -> list[str]:
        known = await self.known_names()
        return [t for t in self.record_like_tokens() if t not in known]

    def version(self) -> int | None:
        m = re.search(r"\bv(\d+)\b|\bversion\s+(\d+)\b", self.low)
        if m:
            return int(m.group(1) or m.group(2))
        return None

    def count_word(self, default: int) -> int:
        m = re.search(r"\b(?:last|latest|recent|top|first)\s+(\d+|" + "|".join(NUMBER_WORDS) + r")\b", self.low) \
            or re.search(r"\b(\d+|" + "|".join(NUMBER_WORDS) + r")\s+(?:most\s+recent|latest|newest|last)\b",
                         self.low)
        if not m:
            return default
        w = m.group(1)
        return int(w) if w.isdigit() else NUMBER_WORDS[w]

    def period_days(self, default: float | None = None) -> float | None:
        """'last 14 days', 'past 3 months', 'this week', 'since 90 days ago' -> days."""
        low = self.low
        m = re.search(r"\b(?:last|past|previous|since)\s+(\d+|" + "|".join(NUMBER_WORDS) +
                      r")\s+(day|week|month|year)s?\b", low) or \
            re.search(r"\b(\d+)\s+(day|week|month|year)s?\s+ago\b", low)
        if m:
            n = int(m.group(1)) if m.group(1).isdigit() else NUMBER_WORDS[m.group(1)]
            return n * {"day": 1, "week": 7, "month": 30, "year": 365}[m.group(2)]
        if re.search(r"\b(this|past|last)\s+week\b|\bweekly\b", low):
            return 7.0
        if re.search(r"\b(this|past|last)\s+month\b", low):
            return 30.0
        if re.search(r"\btoday\b|\blast\s+24\s+hours\b", low):
            return 1.0
        return default

    def last_night(self) -> bool:
        return re.search(r"\blast\s+night|\bovernight\b|\byesterday\b|\bnightly\b|\btonight\b", self.low) is not None

    async def metric(self, slugs: list[str]) -> str:
        cols = await self.per_project("columns", lambda b, s: b.get(f"/projects/{tools.q(s)}/runs/columns"), slugs)
        keys = sorted({k for c in cols.values() if isinstance(c, dict) for k in c.get("metrics", [])},
                      key=len, reverse=True)
        for k in keys:
            if mention(k, self.low):
                return k
        return DEFAULT_METRIC if DEFAULT_METRIC in keys or not keys else keys[-1]

    async def scope(self) -> list[tools.Project] | None:
        """The projects a project-scoped question is about: named, else holding a named model/deployment, else the
        notebook's project, else the asker's only project. None: it names something the asker cannot open."""
        named = self.named_projects()
        if named:
            return named
        if await self.unknown_records():
            return None
        held = set()
        for slug, ms in (await self.models()).items():
            if any(mention(m["name"], self.low) for m in ms):
                held.add(slug)
        for slug, ds in (await self.deployments()).items():
            if any(mention(d["name"], self.low) for d in ds):
                held.add(slug)
        if held:
            return [self.by_slug[s] for s in sorted(held)]
        if self.current:
            return [self.by_slug[self.current]]
        if len(self.projects) == 1:
            return list(self.projects)
        raise NoSlots("no project named")


def since_ms(now: float, days: float) -> int:
    return int((now - days * DAY) * 1000)


def run_label(r: dict) -> str:
    return r.get("run_name") or r.get("run_id", "")


def approach_param(params: dict[str, str]) -> str | None:
    """The parameter that names a feature-engineering approach: a feature/approach/encoding key whose value is a
    word, not a number (`features`, not `n_features`)."""
    for k in sorted(params):
        v = str(params[k])
        if re.search(r"feature|approach|encod|transform|preprocess", k, re.IGNORECASE) and \
                not re.fullmatch(r"-?\d+(\.\d+)?", v):
            return k
    return None


def cite_run(a: Composer, slug: str, r: dict) -> dict:
    return a.cite("run", r["run_id"], run_label(r), project=slug)


def cite_project(a: Composer, p: tools.Project) -> dict:
    return a.cite("project", p.slug, p.name, project=p.slug)


# --- the forms -----------------------------------------------------------------------------------------------------

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
                          project=slug, model=model)
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
        cd = a.cite("gate_decision", d["id"], f"{name} v{version} {d['alias']} decision", project=slug, model=name)
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
                    model=d["model"])
        a.fact("version", d["version"], cd)
        a.line(f"- {d['model']} version {num(d['version'])} ({s}) for {lit(d['alias'])}: "
               f"{lit(d.get('reason') or 'no reason recorded')}")
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
            ca = a.cite("alert", x["id"], x.get("title") or x["key"], project=p.slug)
            feature = (x.get("detail") or {}).get("feature")
            a.fact("windows", x.get("windows"), ca)
            a.line(f"- {lit(x.get('title') or x['key'])}: {x['kind']}, {x['severity']}" +
                   (f", feature {lit(feature)}" if feature else "") +
                   f", over {num(x.get('windows'))} window(s), deployment {lit(x.get('deployment'))}.")
    if not a.citations:
        return not_found(f"I found no {state} alerts in the projects you can open.")
    return a.done()


# --- the catalogue -------------------------------------------------------------------------------------------------

@dataclass
class Form:
    name: str
    run: Callable[[Ctx], Awaitable[dict]]
    examples: list[str]
    cues: list[tuple[str, float]]
    exclude: str | None = None
    vectors: Any = field(default=None, repr=False)

    def cue_score(self, low: str) -> float:
        if self.exclude and re.search(self.exclude, low):
            return -1.0
        return sum(w for pattern, w in self.cues if re.search(pattern, low))


FORMS = [
    Form("best_approach", best_approach, [
        "Which feature engineering approach gave the highest AUC on the last three credit-scoring projects?",
        "what feature set had the best auc across our recent projects",
        "which way of building features won on accuracy in the last two churn engagements"],
        [(r"approach|feature set|feature engineering|building features|way of (building|engineering)", 1.0),
         (r"\bprojects?\b|\bengagements?\b", 1.0)]),
    Form("drift_client", drift_client, [
        "Show me the drift for all models deployed for client X in the last 90 days",
        "which features drift on the client's deployments", "has any feature drifted on models in production"],
        [(r"\bdrift", 1.0), (r"deploy|production|models?\b", 0.5)]),
    Form("retraining_why", retraining_why, [
        "Why did last night's retraining of churn not promote?", "the retrain didn't become champion, what happened",
        "what stopped the retraining from promoting"],
        [(r"retrain", 1.0), (r"promot|champion|why|what happened|stopp|not change", 1.0)]),
    Form("approval", approval, [
        "Who approved churn v7 and on what evidence?", "why was model version 5 rejected and by whom",
        "what was the decision on the model version and who made it"],
        [(r"approv|sign(ed)?\s+off|decision on|reject|who decided", 1.0),
         (r"\bv\d+\b|\bversion\s+\d+|\b[a-z][\w-]*\s+\d+\b", 1.0)]),
    Form("decisions_by", decisions_by, [
        "Which versions did ava reject, and why?", "list everything nora approved"],
        [(r"\b(approved?|rejected?|reject)\b", 1.0), (r"\b(everything|versions|all)\b", 0.5)],
        exclude=r"\bv\d+\b|\bversion\s+\d+"),
    Form("dataset_runs", dataset_runs, [
        "Which runs used dataset applicants at snapshot 123?", "runs trained on customers snapshot 456"],
        [(r"snapshot|@\s*\d{6,}", 1.5), (r"\d{6,}", 1.0)]),
    Form("latency", latency, [
        "What is the p95 latency of risk-api this week against its SLA?", "how fast is the api this week",
        "is the deployment meeting its latency objective"],
        [(r"latency|\bp95\b|95th|response time|how fast|latency objective", 1.0), (r"\bsla\b", 0.5)]),
    Form("compare_top2", compare_top2, [
        "Compare the two best runs of experiment tuning", "how do the top 2 runs differ",
        "side by side, the two best runs"],
        [(r"compar|two best|best two|top (2|two)|two highest|side by side|separates|differ", 1.5)]),
    Form("count_runs", count_runs, [
        "How many runs are there in the project?", "how many runs failed", "number of runs in the last 14 days"],
        [(r"how many|number of|\bcount\b", 1.0), (r"\bruns?\b", 0.5)]),
    Form("list_runs", list_runs, [
        "list the failed runs in the project", "show the runs of the tuning experiment from the last 7 days"],
        [(r"\b(list|show|which|find|give)\b.*\bruns\b", 0.9)]),
    Form("experiments", experiments_of, [
        "what experiments are in the project?", "list the project's experiments"],
        [(r"\bexperiments\b", 1.0)], exclude=r"\bruns\b"),
    Form("best_run", best_run, [
        "What's the best run by AUC in the project?", "highest f1 run", "best AUC in the baseline experiment"],
        [(r"\b(best|highest|top)\b", 0.6), (r"\bruns?\b|experiment", 0.4)]),
    Form("latest_runs", latest_runs, [
        "Show me the five most recent runs in the project", "latest runs"],
        [(r"(most recent|latest|newest|last \w+)\s+runs|recent runs", 1.5)]),
    Form("champion", champion, [
        "Which version of churn is champion now?", "current champion of the model"],
        [(r"\bchampion\b", 1.0)], exclude=r"retrain"),
    Form("deployments", deployments_of, [
        "What is deployed in the project?", "list the deployments of the project with their SLA"],
        [(r"deployments?\s+(of|in|for)|deployed in|what('s| is) deployed|list (the )?deployments", 1.0)]),
    Form("alerts", alerts_of, [
        "Which alerts are firing on the project?", "any open alerts right now"],
        [(r"\balerts?\b", 1.0)]),
]
MIN_CUE = 0.9
MIN_SIMILARITY = 0.6
DECISIVE_CUE = 1.5
CUE_MARGIN = 0.5


class Catalogue:
    """The forms' example phrasings embedded once per process (lazily; keyword cues alone without the extra)."""

    _embedder: Any = None
    _vectors: Any = None
    _lock = threading.Lock()
    _failed = False

    @classmethod
    def use(cls, embedder: Any) -> None:
        with cls._lock:
            cls._embedder, cls._vectors, cls._failed = embedder, None, False

    @classmethod
    def adopt(cls, retriever: Any) -> None:
        """Share the process's embedder (the retriever's engine holds it) instead of loading a second copy."""
        if cls._embedder is not None or retriever is None:
            return
        try:
            embedder = retriever.engine.embedder
        except Exception:  # noqa: BLE001 - no engine or no extra: the catalogue loads its own or uses cues
            return
        with cls._lock:
            if cls._embedder is None:
                cls._embedder, cls._vectors = embedder, None

    @classmethod
    def _ready(cls) -> bool:
        with cls._lock:
            if cls._vectors is not None:
                return True
            if cls._failed:
                return False
            try:
                if cls._embedder is None:
                    from .embed import Embedder

                    cls._embedder = Embedder()
                cls._vectors = [cls._embedder.embed(f.examples) for f in FORMS]
                return True
            except Exception:  # noqa: BLE001 - no extra / no model: keyword cues only
                cls._failed = True
                return False

    @classmethod
    def warm(cls) -> bool:
        """Load the model and embed the examples now (seconds) rather than at the first undecided question."""
        return cls._ready()

    @classmethod
    def similarities(cls, question: str) -> list[float]:
        if not cls._ready():
            return [0.0] * len(FORMS)
        q = cls._embedder.embed([question])[0]
        return [float((v @ q).max()) for v in cls._vectors]


async def rank(question: str) -> list[tuple[float, Form]]:
    """Forms worth trying, best first. Keyword cues rank first; the embedding similarity to each form's examples is
    added when the cues do not decide (no form with a strong cue, or two within CUE_MARGIN), which is also how a
    question with no cue can still reach a form. (Embedding a question costs 20-300 ms on a busy 2-core CPU.)"""
    low = question.lower()
    cues = [(f.cue_score(low), f) for f in FORMS]
    ranked = sorted((x for x in cues if x[0] >= MIN_CUE), key=lambda x: -x[0])
    if ranked and ranked[0][0] >= DECISIVE_CUE and (len(ranked) == 1 or ranked[0][0] - ranked[1][0] >= CUE_MARGIN):
        return ranked
    sims = await asyncio.to_thread(Catalogue.similarities, question)
    scored = []
    for (cue, form), sim in zip(cues, sims):
        if cue < 0:
            continue
        if cue >= MIN_CUE or sim >= MIN_SIMILARITY:
            scored.append((cue + sim, form))
    scored.sort(key=lambda x: -x[0])
    return scored


async def answer(question: str, backend: BackendClient, *, project: str | None = None,
                 context: dict | None = None, retriever: Any = None) -> dict[str, Any]:
    """Answer `question` as the user whose token `backend` carries. `project`: the project the chat or notebook
    is in (the default scope); `context["now"]`: the moment relative times refer to (default: now).
    `retriever` (the record index) is not needed for structured questions; free-form ones need an LLM."""
    context = context or {}
    question = (question or "").strip()
    if not question:
        return not_found("Ask a question about your runs, models, deployments, monitors or pipelines.")
    if len(question) > MAX_QUESTION_CHARS:
        return not_found(f"That question is too long (at most {MAX_QUESTION_CHARS} characters).")
    if LLM_CUES.search(question):
        return llm_needed()
    Catalogue.adopt(retriever)
    forms = await rank(question)
    if not forms:
        return llm_needed()
    try:
        projects = await tools.list_projects(backend)
    except BackendError as exc:
        return not_found(f"The platform could not be reached ({exc.status}).")
    if not projects:
        return not_found("You are not a member of any project, so there is nothing I can look up for you.")
    ctx = Ctx(question, backend, projects, float(context.get("now") or time.time()), project)
    for _, form in forms:
        try:
            out = await form.run(ctx)
        except NoSlots:
            continue
        out["form"] = form.name
        return out
    return llm_needed()
