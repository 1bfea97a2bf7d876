"""The assistant's domain in the backend: the chat route that relays a question to the AI services process, the
caller's conversations, and the index feed that process reads.

- `ask`: checks the project, mints a short-lived read-only token for the user (scope "assistant", GET only:
  identity.assistant_identity), calls the AI services process's `POST /v1/assistant/ask` with the service token
  and relays its NDJSON lines; the answer is stored as a turn of the caller's conversation and audited.
- `feed`: the outbox rows (outbox.py) after a sequence number, each upsert with its document (documents.py);
  the service token only.
- conversations: the caller's own; anyone else's id is answered like a missing one.
"""

from __future__ import annotations

import hmac
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from jupyter_mlp.gpu_service import find_gpu_service
from jupyter_mlp.identity import ensure_secret, mint_token

from .. import audit
from ..access import Action, require
from ..errors import Forbidden, MLPError, NotFound
from ..experiments.projects import user_name
from ..identity import ASSISTANT_SCOPE, Identity, assistant_identity, bearer_token
from ..orm import AssistantChange, AssistantConversation, AssistantTurn, ProjectExperiment, Project, utcnow
from ..outbox import DELETE, UPSERT
from . import documents

log = logging.getLogger(__name__)

USER_TOKEN_HEADER = "X-MLP-User-Token"
TOKEN_TTL = 300  # the assistant's token lives five minutes: a question's tool calls, not a session
ASK_PATH = "/v1/assistant/ask"
MAX_FEED = 500
HISTORY_TURNS = 6


class Unavailable(MLPError):
    status = 503
    code = "unavailable"


# --- the service token -------------------------------------------------------------------------------------------


def require_service(request: Request) -> None:
    """Only the AI services process (the service token) reads the feed: a user's valid token is 403, anything
    else (none, forged, expired) 401."""
    token = bearer_token(request.headers.get("authorization"))
    expected = ensure_secret(request.app.state.settings.gpu_key_path)
    if hmac.compare_digest(token.encode(), expected):
        return
    state = request.app.state
    if assistant_identity(state.secret, token, "GET") is None:
        state.resolver.resolve(token)  # raises Unauthenticated (401) for what is not a user's token
    raise Forbidden("Only the AI services process (its service token) reads the assistant's feed")


# --- the feed -----------------------------------------------------------------------------------------------------


def _changes(db: Session, after: int, limit: int) -> list[AssistantChange]:
    return list(db.execute(select(AssistantChange).where(AssistantChange.seq > after)
                           .order_by(AssistantChange.seq).limit(limit)).scalars())


def _run_experiment(db: Session, settings: Any, slug: str, experiment_id: str) -> str | None:
    row = db.execute(select(ProjectExperiment.name).join(Project, Project.id == ProjectExperiment.project_id)
                     .where(Project.slug == slug, ProjectExperiment.experiment_id == experiment_id)).scalar()
    return user_name(settings, slug, row) if row else None


async def _run_document(app: Any, slug: str, run_id: str) -> dict | None:
    exp = app.state.experiments
    await exp.ready()
    r = await exp.mlflow.client.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id})
    if r.status_code != 200:
        return None
    run = r.json().get("run", {})
    experiment_id = str(run.get("info", {}).get("experiment_id"))

    def name() -> str | None:
        with app.state.db.session() as db:
            return _run_experiment(db, app.state.settings, slug, experiment_id)

    experiment = await run_in_threadpool(name)
    if experiment is None:  # not an experiment of this project (never indexed under the wrong project)
        return None
    return documents.run_doc(slug, run, experiment)


def _document(db: Session, settings: Any, row: AssistantChange) -> dict | None:
    if row.kind == "experiment":
        return documents.experiment_doc(db, row.project, row.record_id, settings)
    if row.kind == "pipeline_run":
        return documents.pipeline_run_doc(db, row.project, row.record_id, settings.home)
    build = documents.BUILDERS.get(row.kind)
    return build(db, row.project, row.record_id) if build else None


async def feed(app: Any, after: int, limit: int) -> dict[str, Any]:
    """Changes after `after`, oldest first: a record changed twice in the page is sent once, at its last change,
    with its document as it is now (or as a delete when it is gone)."""
    limit = min(limit, MAX_FEED)

    def load() -> tuple[list[AssistantChange], dict[int, dict | None]]:
        with app.state.db.session() as db:
            rows = _changes(db, after, limit)
            last = {(r.kind, r.record_id): r.seq for r in rows}
            docs = {r.seq: _document(db, app.state.settings, r) for r in rows
                    if last[(r.kind, r.record_id)] == r.seq and r.op == UPSERT and r.kind != "run"}
            return rows, docs

    rows, docs = await run_in_threadpool(load)
    last = {(r.kind, r.record_id): r.seq for r in rows}
    out: list[dict[str, Any]] = []
    cursor = after
    for r in rows:
        if last[(r.kind, r.record_id)] == r.seq:
            document = None
            if r.op == UPSERT and r.kind == "run":
                try:
                    document = await _run_document(app, r.project, r.record_id)
                except (RuntimeError, httpx.HTTPError) as e:  # MLflow down: stop here, the indexer asks again
                    log.warning("assistant feed: run %s unreadable now: %s", r.record_id, e)
                    return {"changes": out, "next": cursor, "more": True}
            elif r.op == UPSERT:
                document = docs.get(r.seq)
            out.append({"seq": r.seq, "project": r.project, "kind": r.kind, "record_id": r.record_id,
                        "op": UPSERT if document is not None else DELETE, "document": document})
        cursor = r.seq
    return {"changes": out, "next": cursor, "more": len(rows) == limit}


async def notes(app: Any, since: float) -> dict[str, Any]:
    return await run_in_threadpool(_notes, app, since)


def _notes(app: Any, since: float) -> dict[str, Any]:
    """Every note under `notes_root` of a project that exists, `{id, project, mtime}`, with its document when it
    changed after `since` (a note missing from the list was deleted or moved)."""
    root = app.state.settings.notes_root
    if root is None:
        return {"enabled": False, "notes": []}
    with app.state.db.session() as db:
        projects = set(db.execute(select(Project.slug)).scalars())
    out = []
    for n in documents.scan_notes(root, projects):
        document = documents.note_doc(n) if n["mtime"] > since else None
        out.append({"id": n["id"], "project": n["project"], "mtime": n["mtime"], "document": document})
    return {"enabled": True, "notes": out}


# --- conversations ------------------------------------------------------------------------------------------------


def _conversation_out(c: AssistantConversation, turns: int | None = None) -> dict[str, Any]:
    out = {"id": c.id, "project": c.project, "title": c.title, "created_at": c.created_at.isoformat(),
           "updated_at": c.updated_at.isoformat()}
    if turns is not None:
        out["turns"] = turns
    return out


def _own_conversation(db: Session, who: Identity, conversation_id: str) -> AssistantConversation:
    c = db.get(AssistantConversation, conversation_id)
    if c is None or c.user != who.user:
        raise NotFound(f"Conversation '{conversation_id}' not found")
    return c


def list_conversations(db: Session, who: Identity, project: str | None, limit: int, offset: int) -> dict[str, Any]:
    q = select(AssistantConversation).where(AssistantConversation.user == who.user)
    if project is not None:
        q = q.where(AssistantConversation.project == project)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(AssistantConversation.updated_at.desc()).limit(limit).offset(offset)).scalars()
    return {"items": [_conversation_out(c) for c in rows], "total": total}


def get_conversation(db: Session, who: Identity, conversation_id: str) -> dict[str, Any]:
    c = _own_conversation(db, who, conversation_id)
    turns = db.execute(select(AssistantTurn).where(AssistantTurn.conversation_id == c.id)
                       .order_by(AssistantTurn.id)).scalars()
    out = _conversation_out(c)
    out["turns"] = [{"question": t.question, "answer": json.loads(t.answer), "created_at": t.created_at.isoformat()}
                    for t in turns]
    return out


def _history(db: Session, conversation_id: str) -> list[dict[str, Any]]:
    turns = list(db.execute(select(AssistantTurn).where(AssistantTurn.conversation_id == conversation_id)
                            .order_by(AssistantTurn.id.desc()).limit(HISTORY_TURNS)).scalars())
    return [{"question": t.question, "answer": json.loads(t.answer).get("text", "")} for t in reversed(turns)]


def _store_turn(db: Session, who: Identity, project: str | None, conversation_id: str | None, question: str,
                answer: dict[str, Any]) -> str:
    if conversation_id is None:
        conversation_id = str(uuid.uuid4())
        db.add(AssistantConversation(id=conversation_id, user=who.user, project=project,
                                     title=" ".join(question.split())[:200]))
        db.flush()
    else:
        c = _own_conversation(db, who, conversation_id)
        c.updated_at = utcnow()
    db.add(AssistantTurn(conversation_id=conversation_id, question=question,
                         answer=json.dumps(answer, default=str)))
    audit.append(db, actor=who.user, action="assistant.ask", decision="allow", project=project,
                 target=conversation_id, detail={
                     "question": question[:500], "grounded": bool(answer.get("grounded")),
                     "citations": [f"{c.get('type')}:{c.get('id')}" for c in answer.get("citations", [])
                                   if isinstance(c, dict)][:50]})
    db.commit()
    return conversation_id


# --- ask ----------------------------------------------------------------------------------------------------------


def _prepare(db: Session, who: Identity, project: str | None, conversation_id: str | None) -> list[dict[str, Any]]:
    if project is not None:
        require(db, who, project, Action.read_project, target="assistant")
    history: list[dict[str, Any]] = []
    if conversation_id is not None:
        c = _own_conversation(db, who, conversation_id)
        if c.project != project:
            raise NotFound(f"Conversation '{conversation_id}' not found in this project")
        history = _history(db, c.id)
    db.commit()
    return history


def _error_of(r: httpx.Response, body: bytes) -> str:
    try:
        return json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return body[:200].decode(errors="replace")


async def ask(request: Request, who: Identity, question: str, project: str | None, conversation_id: str | None,
              context: dict[str, Any]) -> AsyncIterator[bytes]:
    """Check, then open the AI service's answer stream (503 when it cannot be reached); the iterator relays it."""
    if who.scope == ASSISTANT_SCOPE:  # the assistant's own token never asks the assistant
        raise Forbidden("The assistant's token cannot ask the assistant")
    app = request.app
    settings = app.state.settings

    def prepare() -> list[dict[str, Any]]:
        with app.state.db.session() as db:
            return _prepare(db, who, project, conversation_id)

    history = await run_in_threadpool(prepare)
    url = await run_in_threadpool(find_gpu_service, settings)
    if url is None:
        raise Unavailable("The AI services process is not running (start it with `mlp up`, or set gpu_url)")
    user_token = mint_token(app.state.secret, who.user, TOKEN_TTL, scope=ASSISTANT_SCOPE, adm=who.is_admin)
    service = ensure_secret(settings.gpu_key_path).decode()
    client = httpx.AsyncClient(timeout=httpx.Timeout(120.0, connect=5.0))
    body = {"question": question, "project": project, "context": context, "history": history}
    try:
        resp = await client.send(client.build_request(
            "POST", f"{url}{ASK_PATH}", json=body,
            headers={"Authorization": f"Bearer {service}", USER_TOKEN_HEADER: user_token}), stream=True)
    except httpx.HTTPError as e:
        await client.aclose()
        raise Unavailable(f"The AI services process at {url} cannot be reached: {e}") from e
    if resp.status_code != 200:
        raw = await resp.aread()
        await resp.aclose()
        await client.aclose()
        if resp.status_code == 401:
            raise Unavailable("The AI services process refused the backend's service token (gpu-service.key "
                              "differs between the two homes)")
        raise Unavailable(f"The AI services process answered {resp.status_code}: {_error_of(resp, raw)}")

    async def relay() -> AsyncIterator[bytes]:
        answered = False
        try:
            async for line in resp.aiter_lines():
                if not line.strip():
                    continue
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if msg.get("type") == "answer" and isinstance(msg.get("answer"), dict):
                    answer = msg["answer"]

                    def store() -> str:
                        with app.state.db.session() as db:
                            return _store_turn(db, who, project, conversation_id, question, answer)

                    msg["conversation_id"] = await run_in_threadpool(store)
                    answered = True
                elif msg.get("type") not in ("status", "delta", "error"):
                    continue
                yield (json.dumps(msg) + "\n").encode()
        except httpx.HTTPError as e:
            yield (json.dumps({"type": "error", "error": {"code": "unavailable",
                                                           "message": f"The AI services process stopped: {e}"}})
                   + "\n").encode()
        finally:
            await resp.aclose()
            await client.aclose()
        if not answered:
            yield (json.dumps({"type": "error", "error": {"code": "unavailable",
                                                           "message": "The AI services process sent no answer"}})
                   + "\n").encode()

    return relay()
