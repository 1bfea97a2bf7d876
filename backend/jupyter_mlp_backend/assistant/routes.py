"""The assistant's HTTP routes: ask (NDJSON relayed from the AI services process), the caller's conversations,
and the index feed (the AI services process only). Thin: the work is assistant/service.py's. Imported by the app
factory only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from ..deps import DB, INT64_MAX, Caller, Paging
from ..schemas import Slug
from . import service
from .schemas import AskRequest, ConversationDetail, ConversationPage, FeedPage, NotesPage

router = APIRouter(prefix="/assistant", tags=["assistant"])

NDJSON = {200: {"content": {"application/x-ndjson": {}},
                "description": "One JSON object a line: {\"type\": \"status\", \"text\"} while it works, then "
                               "{\"type\": \"answer\", \"answer\": {...}, \"conversation_id\"} (or {\"type\": "
                               "\"error\", \"error\"}); a client that does not stream reads the last line"}}


@router.post("/ask", summary="Ask the assistant a question about the platform's records (streamed NDJSON)",
             response_class=StreamingResponse, responses=NDJSON)
async def ask(body: AskRequest, request: Request, who: Caller) -> StreamingResponse:
    lines = await service.ask(request, who, body.question, body.project, body.conversation_id,
                              body.context.model_dump(exclude_none=True))
    return StreamingResponse(lines, media_type="application/x-ndjson")


@router.get("/conversations", response_model=ConversationPage, summary="The caller's conversations, newest first")
def list_conversations(db: DB, who: Caller, page: Paging, project: Slug | None = None) -> dict:
    return service.list_conversations(db, who, project, page.limit, page.offset)


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail,
            summary="One of the caller's conversations with its turns")
def get_conversation(conversation_id: str, db: DB, who: Caller) -> dict:
    return service.get_conversation(db, who, conversation_id)


@router.get("/feed", response_model=FeedPage,
            summary="Changes to index after a sequence number, with their documents (the AI services process only)")
async def feed(request: Request, after: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
               limit: Annotated[int, Query(ge=1, le=service.MAX_FEED)] = 200) -> dict:
    service.require_service(request)
    return await service.feed(request.app, after, limit)


@router.get("/notes", response_model=NotesPage,
            summary="Project notes (Markdown under notes_root) with the documents of those changed since a time "
                    "(the AI services process only)")
async def notes(request: Request, since: Annotated[float, Query(ge=0)] = 0) -> dict:
    service.require_service(request)
    return await service.notes(request.app, since)
