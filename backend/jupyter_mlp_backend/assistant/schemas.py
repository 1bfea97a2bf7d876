"""Bodies of the assistant's routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..schemas import Slug

MAX_QUESTION = 4000


class AskContext(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notebook_path: str | None = Field(default=None, max_length=1024,
                                      description="The notebook the question was asked from (its API path)")


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION, description="The question, 1-4000 characters")
    project: Slug | None = Field(default=None, description="The project the question is about (the caller must be "
                                 "able to open it); none: every project the caller can open")
    conversation_id: str | None = Field(default=None, max_length=36,
                                        description="Continue this conversation of the caller's (same project)")
    context: AskContext = Field(default_factory=AskContext)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the question is empty")
        return v


class ConversationOut(BaseModel):
    id: str
    project: str | None
    title: str
    created_at: datetime
    updated_at: datetime


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    total: int


class TurnOut(BaseModel):
    question: str
    answer: dict[str, Any] = Field(description="The answer contract: text, facts, citations, grounded, needs_llm")
    created_at: datetime


class ConversationDetail(ConversationOut):
    turns: list[TurnOut]


class FeedDocument(BaseModel):
    id: str
    project: str
    kind: str
    title: str
    text: str
    fields: dict[str, Any]


class FeedChange(BaseModel):
    seq: int
    project: str
    kind: str
    record_id: str
    op: Literal["upsert", "delete"]
    document: FeedDocument | None


class FeedPage(BaseModel):
    changes: list[FeedChange]
    next: int = Field(description="Ask again with after=next")
    more: bool = Field(description="More changes wait after `next`")


class NoteEntry(BaseModel):
    id: str = Field(description="Path of the note under notes_root")
    project: str
    mtime: float
    document: FeedDocument | None = Field(description="Set when the note changed after `since`")


class NotesPage(BaseModel):
    enabled: bool = Field(description="False: notes_root is unset and no notes are indexed")
    notes: list[NoteEntry]
