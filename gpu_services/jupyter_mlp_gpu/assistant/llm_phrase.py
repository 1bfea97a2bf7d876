"""Phrasing a composed answer with the LLM under the figure guard (see `llm.py`)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any


from .llm_client import LLMClient, LLMUnavailable, default_client
from .llm_plan import DataBlock


# a figure: optional sign (not a hyphen inside a name), digits with thousands separators and decimals
FIGURE = re.compile(r"(?:(?<![\w-])-)?\d+(?:,\d{3})*(?:\.\d+)?")
NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split()) if w != "_"}
NUMBER_WORDS.update({"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
                     "eighty": 80, "ninety": 90})
SCALE_WORDS = ("hundred", "thousand", "million", "billion", "dozen")
WORD = re.compile(r"[a-z]+")


def figures(text: str) -> list[float]:
    """The figures written in `text`, as numbers ("1,024" is 1024; "gbm-013" holds 13, not -13)."""
    out = []
    for m in FIGURE.finditer(text):
        try:
            out.append(float(m.group().replace(",", "")))
        except ValueError:
            pass
    return out


def allowed_figures(answer: Mapping[str, Any]) -> set[float]:
    """The figures the answer holds: its facts' values, and those written in its text and citations (all from
    tool results, every one cited by the planner)."""
    nums: set[float] = set()

    def add(v: Any) -> None:
        if isinstance(v, bool) or v is None:
            return
        if isinstance(v, (int, float)):
            nums.add(float(v))
            nums.update(figures(repr(v)))
        elif isinstance(v, str):
            nums.update(figures(v))
        elif isinstance(v, Mapping):
            for x in v.values():
                add(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                add(x)

    add(answer.get("text", ""))
    for f in answer.get("facts") or []:
        add(f.get("value"))
    add(answer.get("citations") or [])
    return nums


def required_figures(answer: Mapping[str, Any]) -> list[float]:
    """Figures the phrasing must keep: the numeric facts."""
    out = []
    for f in answer.get("facts") or []:
        v = f.get("value")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(float(v))
    return out


SPAN = re.compile(r"`([^`\n]+)`")


def required_names(answer: Mapping[str, Any]) -> list[str]:
    """Names the phrasing must keep: the record text the answer quotes (its code spans) and every cited record's
    label and project that its text writes."""
    text = str(answer.get("text", ""))
    names = [m.strip() for m in SPAN.findall(text)]
    for c in answer.get("citations") or []:
        for v in (c.get("label"), c.get("project")):
            if isinstance(v, str) and v.strip() and re.search(rf"(?<![\w-]){re.escape(v.strip())}(?![\w-])", text):
                names.append(v.strip())
    return list(dict.fromkeys(n for n in names if n))


def guard_problem(phrased: str, answer: Mapping[str, Any], *, final: bool = True) -> str | None:
    """Why `phrased` may not replace the answer's text, or None: a figure (or number word) the answer does not
    hold; with `final`, also an empty text, a numeric fact left out or a record name left out (the bench's tiny
    random model wrote figure-free noise that passed the figure checks and lost every run the answer named)."""
    allowed = allowed_figures(answer)
    for x in figures(phrased):
        if x not in allowed:
            return f"the figure {x:g} is in no fact of the answer"
    original = str(answer.get("text", "")).lower()
    for w in WORD.findall(phrased.lower()):
        if w in NUMBER_WORDS and float(NUMBER_WORDS[w]) not in allowed:
            return f"the number word {w!r} is in no fact of the answer"
        if w in SCALE_WORDS and w not in original:
            return f"the number word {w!r} is in no fact of the answer"
    if final:
        if not phrased.strip():
            return "the phrasing is empty"
        body = phrased.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
        if body[:1] in "{[":
            try:
                json.loads(body)
                return "the phrasing echoes the data as JSON"  # a small model's habit: not prose
            except ValueError:
                pass
        written = set(figures(phrased)) | {float(NUMBER_WORDS[w]) for w in WORD.findall(phrased.lower())
                                           if w in NUMBER_WORDS}
        for x in required_figures(answer):
            if x not in written:
                return f"the fact {x:g} is left out"
        low = phrased.lower()
        for name in required_names(answer):
            if name.lower() not in low:
                return f"the record name {name!r} is left out"
    return None


PHRASE_SYSTEM = """You rewrite an assistant's answer about an ML platform's records so that it reads naturally.
Keep every figure exactly as written (same digits, no rounding, no units added), keep every record name, and add
no figure, name, fact or advice that is not in the answer. Reply with the rewritten answer only, in plain
Markdown: no JSON, no markers, no list of facts.
{rule}"""


def phrase_messages(answer: Mapping[str, Any], question: str, block: DataBlock | None = None) -> list[dict[str, str]]:
    block = block or DataBlock()
    data = [{"answer": answer.get("text", "")},
            {"facts": [{"name": f.get("name"), "value": f.get("value")} for f in answer.get("facts") or []]}]
    user = (f"Question: {json.dumps(question, ensure_ascii=False)}\n\nThe answer to rewrite, as data:\n"
            f"{block.wrap(data)}\n\nThe rewritten answer:")
    return [{"role": "system", "content": PHRASE_SYSTEM.format(rule=block.rule())},
            {"role": "user", "content": user}]


class Phrasing:
    """`async for delta in phrasing`: the guarded text deltas. Afterwards `text` is what to show (the phrased
    text when `accepted`, else the answer's own text, which a UI that showed deltas puts in their place) and
    `reason` says why the original was kept."""

    def __init__(self, answer: Mapping[str, Any], question: str, client: LLMClient | None, own: bool,
                 max_tokens: int):
        self.answer, self.question = answer, question
        self.original = str(answer.get("text", ""))
        self.text = self.original
        self.accepted = False
        self.reason: str | None = None
        self._client, self._own, self._max_tokens = client, own, max_tokens
        self._used = False

    def __aiter__(self) -> AsyncIterator[str]:
        if self._used:
            raise RuntimeError("a Phrasing is iterated once")
        self._used = True
        return self._run()

    async def _run(self) -> AsyncIterator[str]:
        if not self.answer.get("grounded") or self.answer.get("needs_llm") or self._client is None:
            self.reason = self.reason or "only grounded answers are rephrased"
            return
        buf, sent = "", 0
        stream = self._client.stream(phrase_messages(self.answer, self.question), max_tokens=self._max_tokens)
        try:
            async for delta in stream:
                buf += delta
                # let through only whole words: a figure or number word may go on in the next delta
                cut = max(buf.rfind(c) for c in " \n\t")
                if cut + 1 <= sent:
                    continue
                problem = guard_problem(buf[:cut + 1], self.answer, final=False)
                if problem:
                    self.reason = problem
                    return
                yield buf[sent:cut + 1]
                sent = cut + 1
            problem = guard_problem(buf, self.answer, final=True)
            if problem:
                self.reason = problem
                return
            if sent < len(buf):
                yield buf[sent:]
            self.text, self.accepted = buf, True
        except LLMUnavailable as exc:
            self.reason = str(exc)
        finally:
            await stream.aclose()
            if self._own and self._client is not None:
                await self._client.aclose()


def phrase(answer: Mapping[str, Any], question: str, *, client: LLMClient | None = None,
           max_tokens: int = 600) -> Phrasing:
    """Rephrase a composed answer (the answer contract) with the LLM, streamed and guarded; see `Phrasing`.
    Never raises for the model's failures: the original text is kept and `reason` says why. Answers that are not
    grounded (or need an LLM) are not rephrased."""
    own = client is None
    if own:
        try:
            client = default_client()
        except LLMUnavailable as exc:
            p = Phrasing(answer, question, None, False, max_tokens)
            p.reason = str(exc)
            return p
    return Phrasing(answer, question, client, own, max_tokens)
