"""The assistant's tests need the `assistant` extra (part of the dev install); the embedding model is loaded once
per session (~15 s) and shared."""

from __future__ import annotations

import pytest

pytest.importorskip("qdrant_edge", reason="needs the `assistant` extra")


@pytest.fixture(scope="session")
def embedder():
    from jupyter_mlp_gpu.assistant.embed import Embedder

    e = Embedder()
    e.embed(["warm up"])  # loads the model once for the session
    return e
