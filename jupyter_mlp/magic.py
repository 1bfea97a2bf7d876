"""`%mlp_ask` (line) and `%%mlp_ask` (cell): ask the platform's assistant from a notebook.

    %load_ext jupyter_mlp.magic
    %mlp_ask which run of churn-v2 has the best auc?
    %%mlp_ask --project acme
    compare the two best runs of experiment credit-v2

The question goes to the backend's `POST /api/assistant/ask` as the notebook's user, with the project the kernel
was started for (`MLP_PROJECT`, set by the server extension for a notebook inside a project; `--project` overrides)
and the notebook's path as context (`MLP_NOTEBOOK_PATH`). The user's identity is the notebook SDK's: standalone, a
short-lived token signed with `$MLP_HOME/secret.key`, as the `mlp` CLI does; under JupyterHub the kernel's
`JUPYTERHUB_API_TOKEN`. (The kernel's MLflow token is scoped to MLflow and cannot ask.) The answer is shown as
Markdown with its citations listed (HTML in record text escaped, see assistant.py); the magic returns nothing.

Not loaded automatically: run `%load_ext jupyter_mlp.magic` once per kernel (or add `jupyter_mlp.magic` to
IPython's `c.InteractiveShellApp.extensions`).
"""

from __future__ import annotations

import os
import re
from typing import Any

_client: Any = None
_LINE = re.compile(r"^%mlp_ask(?![\w%])(.*?)\s*$")  # a line magic at the start of a line
_PROJECT = re.compile(r"^(?:--project|-P)[ =]+(\S+)(.*)$", re.DOTALL)


def _backend() -> Any:
    global _client
    if _client is None:
        from .client import BackendClient

        _client = BackendClient()
    return _client


def parse_line(line: str) -> tuple[str | None, str]:
    """(`--project`/`-P` value or None, the rest of the line as the question; quotes in it are kept)."""
    m = _PROJECT.match(line.strip())
    return (m.group(1), m.group(2).strip()) if m else (None, line.strip())


def mlp_ask(line: str, cell: str | None = None) -> None:
    """Ask the assistant; show the answer as Markdown with its citations."""
    from IPython.display import display

    from .assistant import ask, to_markdown, to_text
    from .client import APIError

    project, question = parse_line(line)
    if cell is not None and cell.strip():
        question = (question + "\n" + cell).strip()
    if not question:
        print("Usage: %mlp_ask [--project SLUG] QUESTION   (or %%mlp_ask with the question in the cell)")
        return
    project = project or os.environ.get("MLP_PROJECT") or None
    context = {"notebook_path": os.environ["MLP_NOTEBOOK_PATH"]} if os.environ.get("MLP_NOTEBOOK_PATH") else {}
    try:
        answer = ask(_backend(), question, project=project, context=context)
    except APIError as e:
        print(f"The assistant could not answer: {e.message}")
        return
    display({"text/markdown": to_markdown(answer), "text/plain": to_text(answer)}, raw=True)


def keep_question_marks(lines: list[str]) -> list[str]:
    """An input transformer: a `%mlp_ask` line becomes its magic call before IPython reads a trailing `?` as a
    request for help on the last word ("...the best auc?" answered "Object `auc` not found")."""
    return [f"get_ipython().run_line_magic('mlp_ask', {m.group(1).strip()!r})\n" if (m := _LINE.match(line)) else line
            for line in lines]


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magic_function(mlp_ask, magic_kind="line_cell", magic_name="mlp_ask")
    if keep_question_marks not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(keep_question_marks)
