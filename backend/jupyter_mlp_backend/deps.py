"""FastAPI dependencies: the database session and the caller's identity, resolved on every request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from .identity import Identity, bearer_token


def db_session(request: Request) -> Iterator[Session]:
    with request.app.state.db.session() as s:
        yield s


def caller(request: Request) -> Identity:
    token = bearer_token(request.headers.get("authorization"))
    return request.app.state.resolver.resolve(token)


class Page:
    def __init__(
        self,
        request: Request,
        limit: Annotated[int, Query(ge=1, description="Rows per page (at most the server's max_page_size)")] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ):
        self.limit = min(limit, request.app.state.settings.max_page_size)
        self.offset = offset


DB = Annotated[Session, Depends(db_session)]
Caller = Annotated[Identity, Depends(caller)]
Paging = Annotated[Page, Depends(Page)]
