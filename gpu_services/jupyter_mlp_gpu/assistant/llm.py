"""The assistant's language model: an OpenAI-compatible chat-completions client, LLM planning of free-form
questions into typed tool calls, and phrasing of a composed answer under a figure guard (issue 13 item 6). This
module names the whole path; the code is in `llm_client.py`, `llm_plan.py` and `llm_phrase.py` (under ~500 lines
a file).

The LLM is optional. With no `llm_url` the deterministic planner answers the structured questions alone; with one
(vLLM's server on a GPU host in production, `transformers serve` in the tests) the planner may call:

- `plan_with_llm(question, tool_catalogue, entities, records=...) -> list[ToolCall]`: the LLM proposes tool calls
  as JSON; each is validated with pydantic against the catalogue and against `entities` (the names the asker can
  see); anything else is dropped. The LLM only chooses tools and arguments: figures still come from the tools.
- `phrase(answer, question) -> Phrasing`: an async iterator of text deltas rephrasing the composed answer. A number
  the answer does not hold is never streamed: the guard checks each completed word before it is let through and,
  at the first figure the answer does not hold (or a figure of the answer left out), stops and keeps the
  original text (`Phrasing.text`, `.accepted`, `.reason`).

Record text (run names, notes, reasons) reaches the LLM only inside a data block delimited by a random marker the
record cannot know, as JSON strings, and the system prompt says that block is data, never instructions.

*Why httpx and not the `openai` package:* we use one endpoint; httpx is already a dependency of the platform,
and with ~100 lines we decide the timeouts, read the SSE stream ourselves and turn every failure into one
`LLMUnavailable` with a plain message. The `openai` package (a large, fast-moving SDK) is only a test dependency,
because `transformers serve` imports its types.
"""

from __future__ import annotations

from .llm_client import (  # noqa: F401 - the names the planner, the tools and the tests import from here
    DEFAULT_TIMEOUT_S,
    LLMUnavailable,
    LLMClient,
    default_client,
)
from .llm_plan import (  # noqa: F401 - the names the planner, the tools and the tests import from here
    DATA_RULE,
    DataBlock,
    ToolCall,
    ToolSpec,
    PLAN_SYSTEM,
    validate_plan,
    plan_messages,
    plan_with_llm,
)
from .llm_phrase import (  # noqa: F401 - the names the planner, the tools and the tests import from here
    FIGURE,
    NUMBER_WORDS,
    SCALE_WORDS,
    WORD,
    figures,
    allowed_figures,
    required_figures,
    guard_problem,
    PHRASE_SYSTEM,
    phrase_messages,
    Phrasing,
    phrase,
)
