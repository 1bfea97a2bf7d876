"""FastAPI dependencies: the database session and the caller's identity, resolved on every request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import Field
from sqlalchemy.orm import Session

from .identity import Identity, assistant_identity, bearer_token


# Every integer the API takes is bounded by what the column it is compared with holds, so a larger one is a 422
# rather than an OverflowError (SQLite's driver) or "integer out of range" (PostgreSQL); a test walks the OpenAPI
# document for integers without bounds.
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=INT32_MAX)]
"""A row id or version number (path parameters such as `{decision_id}`, body fields that name a version): the
platform's tables keep them in 32-bit INTEGER columns."""
Int64 = Annotated[int, Field(ge=-(2**63), le=INT64_MAX)]
"""Any integer a 64-bit column holds (Iceberg snapshot ids are random 63-bit numbers)."""


def db_session(request: Request) -> Iterator[Session]:
    with request.app.state.db.session() as s:
        yield s


def caller(request: Request) -> Identity:
    token = bearer_token(request.headers.get("authorization"))
    scoped = assistant_identity(request.app.state.secret, token, request.method)
    resolver = request.app.state.resolver
    # an assistant token stands for its user only while the hub still knows them
    return resolver.recheck(scoped) if scoped is not None else resolver.resolve(token)


class Page:
    def __init__(
        self,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=INT64_MAX,
                                    description="Rows per page (at most the server's max_page_size)")] = 50,
        offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
    ):
        self.limit = min(limit, request.app.state.settings.max_page_size)
        self.offset = offset


DB = Annotated[Session, Depends(db_session)]
Caller = Annotated[Identity, Depends(caller)]
Paging = Annotated[Page, Depends(Page)]
