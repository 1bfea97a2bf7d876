"""The answer contract's builder (tests/bench/assistant_score.py): `Composer` collects the lines, the facts and the
citations of one answer; `not_found` and `llm_needed` are the ungrounded answers; `lit` quotes record text inert and
`num` writes a figure as the record holds it. `NoSlots` is how a composer yields to the next form."""

from __future__ import annotations

import math
from typing import Any

from . import tools

NEEDS_LLM_TEXT = ("This question needs a language model (free-form reasoning or writing), and none is configured: "
                  "set `llm_url` (an OpenAI-compatible server such as vLLM) and `llm_model`. Without one I answer "
                  "structured questions about runs, models, deployments, drift, latency, gates and retrainings.")


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


def run_label(r: dict) -> str:
    return r.get("run_name") or r.get("run_id", "")


def cite_run(a: Composer, slug: str, r: dict) -> dict:
    return a.cite("run", r["run_id"], run_label(r), project=slug)


def cite_project(a: Composer, p: tools.Project) -> dict:
    return a.cite("project", p.slug, p.name, project=p.slug)
