"""`mlp ask` and the `%mlp_ask` magic against a live backend and the real AI services app (issue 13 item 8).

The planner is a stand-in (the real one is tests/assistant's): it answers with what it was given (the question,
the project and the notebook path) and one citation, and its text carries record text a notebook must not run
(`<img onerror>`, `<script>`), so the tests see what each client does with an answer, not what the planner knows.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("qdrant_edge", reason="needs the `assistant` extra")

MLP = Path(sys.executable).parent / "mlp"
HOSTILE = "<img src=x onerror=alert(1)> <script>alert(2)</script>"


async def echo_planner(question, backend, *, project, context, retriever):  # noqa: ANN001, ANN201
    return {"text": f"You asked: {question}\n\nProject {project}, notebook {context.get('notebook_path')}. "
                    f"Run `woe-binning-gbm-013` has auc 0.8318. {HOSTILE}\n\n```python\nprint('champion')\n```",
            "facts": [{"name": "auc", "value": 0.8318, "citation": {"type": "run", "id": "r" * 32}}],
            "citations": [{"type": "run", "id": "r" * 32, "label": "woe-binning-gbm-013", "project": project}],
            "grounded": True, "needs_llm": False}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def embedder():
    from jupyter_mlp_gpu.assistant.embed import Embedder

    return Embedder()


@pytest.fixture
def stack(request, mlp_home, embedder):
    import uvicorn

    from jupyter_mlp.settings import Settings
    from jupyter_mlp_gpu.app import create_app

    gpu_port = _free_port()
    request.node.add_marker(pytest.mark.settings(gpu_url=f"http://127.0.0.1:{gpu_port}"))
    backend = request.getfixturevalue("backend")
    server = uvicorn.Server(uvicorn.Config(create_app(Settings(home=mlp_home, backend_url=backend.url),
                                                      embedder=embedder, planner=echo_planner, index_every_s=None),
                                           host="127.0.0.1", port=gpu_port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert backend.admin.post("/projects", json={"slug": "acme", "name": "Acme"}).status_code == 201
    assert backend.admin.put("/projects/acme/members/lena", json={"role": "lead"}).status_code == 200
    yield backend
    server.should_exit = True
    thread.join(30)


def _env(mlp_home: Path, backend, user: str = "lena") -> dict[str, str]:
    return {**os.environ, "MLP_HOME": str(mlp_home), "MLP_BACKEND_URL": backend.url, "USER": user, "LOGNAME": user}


def _mlp(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(MLP), *args], env=env, capture_output=True, text=True, timeout=120, cwd=cwd)


def test_mlp_ask_prints_the_answer_and_numbered_citations_and_json(stack, mlp_home, tmp_path):
    env = _env(mlp_home, stack)
    p = _mlp(env, "ask", "which run is best?", "--project", "acme")
    assert p.returncode == 0, p.stderr
    assert "You asked: which run is best?" in p.stdout and "Project acme" in p.stdout
    assert f"[1] run woe-binning-gbm-013 (acme) — {'r' * 32}" in p.stdout.splitlines()
    # --json, after the command or before it: the answer contract and the conversation id
    for argv in (("ask", "best run?", "-P", "acme", "--json"), ("--json", "ask", "best run?", "-P", "acme")):
        p = _mlp(env, *argv)
        assert p.returncode == 0, p.stderr
        answer = json.loads(p.stdout)
        assert answer["citations"][0]["id"] == "r" * 32 and answer["grounded"] is True
        assert answer["conversation_id"]
    # no --project: the folder's mlp-project.toml decides
    (tmp_path / "credit").mkdir()
    (tmp_path / "credit" / "mlp-project.toml").write_text('project = "acme"\n')
    p = _mlp(env, "ask", "best run?", cwd=tmp_path / "credit")
    assert p.returncode == 0 and "Project acme" in p.stdout, p.stderr


def test_mlp_ask_says_why_it_cannot_answer(stack, mlp_home):
    env = _env(mlp_home, stack)
    p = _mlp(env, "ask", "best run?", "--project", "globex")  # no such project (or not lena's): 404 in words
    assert p.returncode == 2 and "mlp:" in p.stderr and "Traceback" not in p.stderr
    p = _mlp(env, "ask", "x" * 4001, "--project", "acme")
    assert p.returncode == 2 and "question" in p.stderr.lower()


def test_mlp_ask_when_the_ai_services_process_is_down(backend, mlp_home):
    """The backend's 503 in plain words: what is not running and how to start it."""
    env = _env(mlp_home, backend, user="admin")
    p = _mlp(env, "ask", "best run?")
    assert p.returncode == 2, p.stdout
    assert "AI services process" in p.stderr and "Traceback" not in p.stderr


def test_the_magic_shows_markdown_with_citations_and_no_live_html(stack, mlp_home, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    import jupyter_mlp.magic as magic

    for k, v in _env(mlp_home, stack).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("MLP_PROJECT", "acme")  # what the server extension puts in a project notebook's kernel
    monkeypatch.setenv("MLP_NOTEBOOK_PATH", "credit/a.ipynb")
    monkeypatch.setattr(magic, "_client", None)
    shown: list[dict] = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    shell = InteractiveShell.instance()
    try:
        shell.run_line_magic("load_ext", "jupyter_mlp.magic")
        shell.run_line_magic("mlp_ask", "which run is best?")
        shell.run_cell_magic("mlp_ask", "--project acme", "compare the two\nbest runs")
        # typed in a cell: a trailing '?' is the question's, not IPython's help on its last word
        shell.run_cell("%mlp_ask which run has the best auc?")
    finally:
        InteractiveShell.clear_instance()
    assert len(shown) == 3
    md = shown[0]["text/markdown"]
    assert "You asked: which run is best?" in md and "notebook credit/a.ipynb" in md and "Project acme" in md
    assert "1. run `woe-binning-gbm-013` (acme)" in md
    assert "<img" not in md and "<script" not in md and "&lt;img src=x onerror=alert(1)&gt;" in md
    assert "`woe-binning-gbm-013`" in md and "```python\nprint('champion')\n```" in md  # code left as code
    assert "You asked: compare the two\nbest runs" in shown[1]["text/markdown"]
    assert "You asked: which run has the best auc?" in shown[2]["text/markdown"]
