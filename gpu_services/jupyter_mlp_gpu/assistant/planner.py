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

Where each part lives (split by concern, issue 12's rule on file size): `forms.py` the catalogue, its embedded
examples and `rank`; `slots.py` the entity index and slot filling (`Ctx`); `compose_runs.py`,
`compose_models.py`, `compose_serving.py` the composers of each form (runs and experiments; versions, gates and
retrainings; deployments and monitoring); `answer.py` the answer builder (`Composer`) and the ungrounded answers.
This module is the entry point (`answer`) and keeps the names other code imports from it.
"""

from __future__ import annotations

import re
import time
from typing import Any

from . import tools
from .answer import NEEDS_LLM_TEXT, Composer, NoSlots, lit, llm_needed, not_found, num
from .backend_client import BackendClient, BackendError
from .forms import FORMS, Catalogue, Form, rank
from .slots import Ctx, mention

__all__ = ["FORMS", "NEEDS_LLM_TEXT", "Catalogue", "Composer", "Ctx", "Form", "NoSlots", "answer", "lit",
           "llm_needed", "mention", "not_found", "num", "rank"]

MAX_QUESTION_CHARS = 4000
LLM_CUES = re.compile(r"\b(why do you think|what do you think|in your opinion|your view|explain like|explain why|"
                      r"should we|what should|would you|write (a|an|me|the)|draft|summar(y|ise|ize)|recommend|"
                      r"suggest|e-?mail|worry|advice|opinion|brainstorm|poem|story)\b", re.IGNORECASE)


async def answer(question: str, backend: BackendClient, *, project: str | None = None,
                 context: dict | None = None, retriever: Any = None, llm: Any = None) -> dict[str, Any]:
    """Answer `question` as the user whose token `backend` carries. `project`: the project the chat or notebook
    is in (the default scope); `context["now"]`: the moment relative times refer to (default: now).
    `retriever` (the record index) is not needed for structured questions. `llm` (an `LLMClient`, when
    `llm_url` is set): free-form questions are planned by it into tool calls (`llm_answer.py`); without one
    they are answered `needs_llm`."""
    context = context or {}
    question = (question or "").strip()
    if not question:
        return not_found("Ask a question about your runs, models, deployments, monitors or pipelines.")
    if len(question) > MAX_QUESTION_CHARS:
        return not_found(f"That question is too long (at most {MAX_QUESTION_CHARS} characters).")
    free_form = bool(LLM_CUES.search(question))
    if free_form and llm is None:
        return llm_needed()
    forms: list = []
    if not free_form:
        Catalogue.adopt(retriever)
        forms = await rank(question)
        if not forms and llm is None:
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
    if llm is None:
        return llm_needed()
    from .llm_answer import answer_free_form

    return await answer_free_form(ctx, question, retriever, llm)
