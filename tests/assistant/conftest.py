"""The assistant's tests need the `assistant` extra (part of the dev install); the embedding model is loaded once
per session (~15 s) and shared, and so is the small generated platform history (`assistant_history`: a real
MLflow server and backend with tests/bench/assistant_history.py's `small` plan, ~1 min to build)."""

from __future__ import annotations

import pytest

pytest.importorskip("qdrant_edge", reason="needs the `assistant` extra")


@pytest.fixture(scope="session")
def embedder():
    from jupyter_mlp_gpu.assistant.embed import Embedder

    e = Embedder()
    e.embed(["warm up"])  # loads the model once for the session
    return e


@pytest.fixture(scope="session")
def assistant_history(tmp_path_factory):
    """The `small` history served by a real backend: `.url`, `.token(user)`, `.truth`, `.plan`."""
    from tests.bench.bench_assistant import history

    with history("small", tmp_path_factory.mktemp("assistant-history"), log=lambda *_: None) as h:
        yield h
