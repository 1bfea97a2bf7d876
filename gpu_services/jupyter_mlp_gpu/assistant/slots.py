"""Slot filling: `Ctx` is one question with the asker's API client and the entity index of what the asker can see
(projects, clients, domains, models, deployments, experiments, metrics), loaded as a form needs it, plus the slots
read from the text (versions, counts, periods, "last night") against `context["now"]`."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from . import tools
from .answer import NoSlots
from .backend_client import BackendClient, NotVisible

DAY = 86400.0
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "twelve": 12, "twenty": 20}
DEFAULT_METRIC = "auc"


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
