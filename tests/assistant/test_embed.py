"""Embeddings: all-MiniLM-L6-v2 from its package, offline, normalized, batched; meaning decides nearness."""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_mlp_gpu.assistant.embed import Embedder, resolve_model


def test_paraphrases_embed_closer_than_an_unrelated_sentence(embedder):
    a, b, c = embedder.embed([
        "Which run of the churn model had the highest AUC?",
        "Show me the churn run with the best area under the ROC curve.",
        "The bakery on the corner sells sourdough bread on Sundays.",
    ])
    assert float(a @ b) > float(a @ c) + 0.2


def test_vectors_are_normalized_float32_in_batches(embedder):
    texts = [f"run {i} of experiment credit-scoring logged auc 0.{i:02d}" for i in range(70)]
    v = embedder.embed(texts, batch_size=16)
    assert v.shape == (70, 384) and v.dtype == np.float32 and embedder.dim == 384
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.allclose(embedder.embed(texts[:3]), v[:3], atol=1e-5)  # batching does not change a vector
    assert embedder.embed([]).shape == (0, 384)
    with pytest.raises(TypeError):
        embedder.embed("one string is not a list of texts")


def test_model_setting_names_the_packaged_model_or_a_local_folder(tmp_path):
    assert resolve_model("all-MiniLM-L6-v2").endswith("model")
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2") == resolve_model("all-MiniLM-L6-v2")
    with pytest.raises(RuntimeError, match="neither all-MiniLM-L6-v2 nor a local model folder"):
        Embedder("some-hub/model-we-cannot-download").embed(["x"])
