"""Asking the assistant from Python: the `mlp ask` command and the `%mlp_ask` magic share this.

`ask(client, question, project, context)` posts to the backend's `POST /api/assistant/ask` with the caller's own
identity (the CLI's and the notebook SDK's `BackendClient`) and reads its NDJSON answer: `status` lines while the
assistant works, then one `answer` line (the answer contract of tests/bench/assistant_score.py: text, facts,
citations, grounded, needs_llm) or an `error` line. `to_markdown` and `to_text` write an answer with its numbered
citations, record text kept inert: the answer's Markdown may carry text copied from records (run names, notes), so
every `<` and `&` outside code is escaped before a notebook renders it (a notebook trusts the outputs it just made
and would otherwise run an `<img onerror=...>` a record's name carried).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from .client import APIError, BackendClient

# A fenced code block or an inline code span: Markdown shows what is inside them literally.
_CODE = re.compile(r"(^```[^\n]*\n.*?^```[ \t]*$|`[^`\n]+`)", re.MULTILINE | re.DOTALL)


def ask(client: BackendClient, question: str, project: str | None = None, context: dict[str, Any] | None = None,
        conversation_id: str | None = None, on_status: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The assistant's answer (its `answer` line, with `conversation_id` added).

    Raises APIError with the backend's message when the request is refused (422 bad question, 404 project, 503 the
    AI services process is not running) or when the stream ends with an error line or without an answer."""
    body: dict[str, Any] = {"question": question, "project": project, "context": context or {}}
    if conversation_id:
        body["conversation_id"] = conversation_id
    raw = client.request("POST", "/assistant/ask", raw=True, json=body)
    return read_answer(raw.decode("utf-8", errors="replace"), on_status)


def read_answer(ndjson: str, on_status: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The answer of an NDJSON answer stream (blank and unreadable lines skipped)."""
    for line in ndjson.splitlines():
        if not line.strip():
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "status" and on_status is not None:
            on_status(str(msg.get("text", "")))
        elif kind == "error":
            err = msg.get("error") or {}
            raise APIError(503, str(err.get("code") or "unavailable"),
                           str(err.get("message") or "The assistant could not answer"))
        elif kind == "answer" and isinstance(msg.get("answer"), dict):
            return {**msg["answer"], "conversation_id": msg.get("conversation_id")}
    raise APIError(503, "unavailable", "The assistant sent no answer")


def escape_markdown_html(text: str) -> str:
    """`text` with `&`, `<` and `>` escaped outside code spans and fenced blocks: Markdown a notebook renders as
    text, never as HTML."""
    out, at = [], 0
    for m in _CODE.finditer(text):
        out.append(_escape(text[at:m.start()]))
        out.append(m.group(0))
        at = m.end()
    out.append(_escape(text[at:]))
    return "".join(out)


def _escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _label(c: dict[str, Any]) -> str:
    label = " ".join(str(c.get("label") or c.get("id") or "").split())
    return label


def citation_lines(answer: dict[str, Any]) -> list[str]:
    """One line per citation, numbered from 1: `[1] run woe-binning-gbm-013 (acme) — 3f2a...`."""
    lines = []
    for i, c in enumerate(answer.get("citations") or [], 1):
        where = f" ({c['project']})" if c.get("project") else ""
        ident = str(c.get("id", ""))
        tail = f" — {ident}" if ident and ident != _label(c) else ""
        lines.append(f"[{i}] {c.get('type', '?')} {_label(c)}{where}{tail}")
    return lines


def to_text(answer: dict[str, Any]) -> str:
    """The answer as the CLI prints it: its text, then the numbered citations."""
    parts = [str(answer.get("text") or "").rstrip()]
    cites = citation_lines(answer)
    if cites:
        parts += ["", "Sources:", *cites]
    return "\n".join(parts)


def to_markdown(answer: dict[str, Any]) -> str:
    """The answer as a notebook shows it: its Markdown (HTML escaped) and the citations as a numbered list whose
    labels are code spans (record text, shown literally)."""
    parts = [escape_markdown_html(str(answer.get("text") or "").rstrip())]
    cites = answer.get("citations") or []
    if cites:
        parts += ["", "**Sources**", ""]
        for i, c in enumerate(cites, 1):
            label = _label(c).replace("`", "'")
            where = f" ({_escape(str(c['project']))})" if c.get("project") else ""
            parts.append(f"{i}. {_escape(str(c.get('type', '?')))} `{label}`{where}")
    return "\n".join(parts)
