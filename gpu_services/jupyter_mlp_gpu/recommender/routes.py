"""The AI services' recommender route: `POST /v1/recommender/suggest`, as the user whose token the backend sends.

Like `/v1/assistant/ask`: the service token (app.py's middleware) and the asking user's read-only token
(`X-MLP-User-Token`, minted per request by the backend). The platform's own history is read through the backend's
API with that token (`GET /api/recommender/history`): the backend alone decides which runs the user may see cited
and which count only as anonymous statistics, so nothing here can name a run the user cannot open.

The corpus and the ranker load once, on first use (`RecommenderEngine`): the corpus built under
`$MLP_HOME/recommender/corpus` when there is one, else the shipped one, and the method named by the
`recommender_method` setting (`baselines.py`), else the nearest-datasets ranker of suggest.py.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)

USER_TOKEN_HEADER = "x-mlp-user-token"


class SuggestBody(BaseModel):
    meta: dict[str, float | None] = Field(max_length=500)
    task: Literal["binary", "multiclass", "regression"]
    project: str | None = Field(default=None, max_length=64)


class RecommenderEngine:
    """The corpus and the ranker of one process, each loaded once (thread-safe); tests pass ready ones."""

    def __init__(self, settings: Any, corpus: Any = None, ranker: Any = None):
        self.settings, self._corpus, self._ranker = settings, corpus, ranker
        self._lock = threading.Lock()

    @property
    def corpus(self) -> Any:
        with self._lock:
            if self._corpus is None:
                from .corpus import load_corpus

                local = self.settings.home / "recommender" / "corpus"  # one built here, else the shipped one
                self._corpus = load_corpus(local if (local / "manifest.json").is_file() else None)
            return self._corpus

    @property
    def ranker(self) -> Any:
        corpus = self.corpus
        with self._lock:
            if self._ranker is None:
                self._ranker = _method(corpus, getattr(self.settings, "recommender_method", None), self.settings)
            return self._ranker


def _method(corpus: Any, name: str | None, settings: Any = None) -> Any:
    from .suggest import NearestDatasetsRanker

    try:
        from . import baselines
    except ImportError:
        return NearestDatasetsRanker(corpus)
    known = {"knn": getattr(baselines, "KnnRanker", None), "portfolio": getattr(baselines, "PortfolioRanker", None)}
    if name == "encoder" and settings is not None:  # only the signed champion, else the kNN baseline (signed.py)
        from ..app import backend_url
        from .signed import SignedEncoder

        return SignedEncoder(settings, backend_url, known["knn"](corpus), "knn")
    cls = known.get(name or "knn")
    return cls(corpus) if cls is not None else NearestDatasetsRanker(corpus)


def _error(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "detail": None}}, status_code=status)


def make_router(backend_url: Any) -> APIRouter:
    """`backend_url(settings) -> str | None`: where the platform's API is (app.py's)."""
    router = APIRouter()

    @router.post("/v1/recommender/suggest")
    async def suggest(body: SuggestBody, request: Request) -> Any:
        """The suggestion for a profile (suggest.compose), the platform's runs read as the asking user."""
        from ..assistant.backend_client import BackendClient, BackendError
        from .corpus import CorpusError
        from .suggest import compose

        user_token = request.headers.get(USER_TOKEN_HEADER)
        if not user_token:
            return _error("unauthenticated", "The asking user's token (X-MLP-User-Token) is required.", 401)
        state = request.app.state
        if getattr(state, "recommender", None) is None:
            state.recommender = RecommenderEngine(state.settings)
        engine: RecommenderEngine = state.recommender
        url = await run_in_threadpool(backend_url, state.settings)
        if url is None:
            return _error("unavailable", "The backend is not running and backend_url is unset.", 503)
        try:
            async with BackendClient(url, user_token, timeout=120.0) as backend:
                history = (await backend.get("/recommender/history", task=body.task)).get("items", [])
        except BackendError as e:
            return _error("unavailable", f"The backend did not give the run history: {e}", 503)
        meta = {k: v for k, v in body.meta.items() if v is not None and math.isfinite(v)}
        try:
            corpus, ranker = await run_in_threadpool(lambda: (engine.corpus, engine.ranker))
        except CorpusError as e:
            return _error("unavailable", f"The recommender has no corpus: {e}", 503)
        status = await run_in_threadpool(lambda: getattr(ranker, "status", None))  # the encoder: signed, or why not
        out = await run_in_threadpool(compose, meta, body.task, ranker, corpus, history=history)
        if status is not None:
            out["ranker"] = status
        return out

    return router
