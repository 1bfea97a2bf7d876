"""The index of the platform's records, kept up to date from the backend's feed, and the retriever over it.

- `Indexer.catch_up()`: reads `GET {backend}/api/assistant/feed?after=SEQ` with the service token (the backend
  answers every change written since, in order, an upsert with its document), embeds the documents and writes
  them to the vector store; a delete removes the point, a deleted project every point of the project. The last
  sequence number applied is kept in `$MLP_HOME/assistant/feed.json`, after the store has the page, so a crash
  repeats a page (idempotent) and loses none. Called before every question (one small request when nothing
  changed) and on a timer.
- `Retriever`: free-text search over the index, bound at construction to the projects the asking user can open
  (the ask route asks the backend for them at every question); `search` never reaches beyond them, whatever
  projects its caller names.

A point's id is `<kind>:<record id>` (the store keys it by uuid5 of that); its payload carries `project`, `kind`,
`record_id`, `title` and `text` (the record's short summary: data, never instructions).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)

FEED_PATH = "/api/assistant/feed"
NOTES_PATH = "/api/assistant/notes"
PAGE = 200


def vector_id(kind: str, record_id: str) -> str:
    return f"{kind}:{record_id}"


class FeedError(RuntimeError):
    """The backend's feed could not be read (the message says why)."""


class Indexer:
    def __init__(self, engine: Any, backend_url: str, service_token: str, state_path: Path, *,
                 http: httpx.AsyncClient | None = None, page: int = PAGE):
        self.engine = engine  # app.AssistantEngine: .embedder, .store
        self.backend_url = backend_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {service_token}"}
        self.state_path = Path(state_path)
        self._http = http
        self.page = page
        self._lock = asyncio.Lock()

    def _state(self) -> dict[str, Any]:
        try:
            state = json.loads(self.state_path.read_text())
            if state.get("backend") == self.backend_url and isinstance(state.get("after"), int):
                return state
        except (OSError, ValueError, TypeError):
            pass
        return {"backend": self.backend_url, "after": 0, "notes": {}}

    @property
    def after(self) -> int:
        return int(self._state()["after"])

    def _save(self, after: int | None = None, notes: dict[str, list] | None = None) -> None:
        state = self._state()
        if after is not None:
            state["after"] = after
        if notes is not None:
            state["notes"] = notes
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.state_path)

    async def _page(self, client: httpx.AsyncClient, after: int) -> dict[str, Any]:
        try:
            r = await client.get(f"{self.backend_url}{FEED_PATH}", params={"after": after, "limit": self.page},
                                 headers=self._headers)
        except httpx.HTTPError as e:
            raise FeedError(f"the backend at {self.backend_url} cannot be reached: {e}") from e
        if r.status_code != 200:
            raise FeedError(f"the backend's feed answered {r.status_code}: {r.text[:200]}")
        return r.json()

    def _apply(self, changes: list[dict[str, Any]]) -> None:
        store = self.engine.store
        upserts = [c for c in changes if c["op"] == "upsert" and c.get("document")]
        deletes = [c for c in changes if c not in upserts]
        for c in deletes:
            if c["kind"] == "project":
                store.delete_where("project", c["project"])
        if deletes:
            store.delete([vector_id(c["kind"], c["record_id"]) for c in deletes])
        if upserts:
            docs = [c["document"] for c in upserts]
            vectors = self.engine.embedder.embed([f"{d['title']}\n{d['text']}" for d in docs])
            store.upsert([(vector_id(c["kind"], c["record_id"]), v,
                           {"project": c["project"], "kind": c["kind"], "record_id": c["record_id"],
                            "title": d["title"], "text": d["text"]})
                          for c, d, v in zip(upserts, docs, vectors)])

    async def catch_up(self) -> int:
        """Apply every change the backend has written since the last call; the number applied."""
        async with self._lock:
            client = self._http or httpx.AsyncClient(timeout=60)
            applied = 0
            try:
                after = self.after
                while True:
                    page = await self._page(client, after)
                    changes = page.get("changes", [])
                    if changes:
                        await run_in_threadpool(self._apply, changes)
                        applied += len(changes)
                    nxt = int(page.get("next", after))
                    if nxt == after or not page.get("more"):
                        if nxt != after:
                            self._save(nxt)
                        break
                    after = nxt
                    self._save(after)
                applied += await self._catch_up_notes(client)
            finally:
                if self._http is None:
                    await client.aclose()
            return applied

    async def _notes_page(self, client: httpx.AsyncClient, since: float) -> dict[str, Any]:
        try:
            r = await client.get(f"{self.backend_url}{NOTES_PATH}", params={"since": since}, headers=self._headers)
        except httpx.HTTPError as e:
            raise FeedError(f"the backend at {self.backend_url} cannot be reached: {e}") from e
        if r.status_code != 200:
            raise FeedError(f"the backend's notes answered {r.status_code}: {r.text[:200]}")
        return r.json()

    async def _catch_up_notes(self, client: httpx.AsyncClient) -> int:
        """Project notes: the backend lists every Markdown note of a project (path, project, mtime) and sends the
        text of those modified after the newest mtime already indexed; a note gone from the list is deleted."""
        known: dict[str, list] = self._state().get("notes") or {}
        since = max((m for _, m in known.values()), default=0.0)
        page = await self._notes_page(client, since)
        if not page.get("enabled") and not known:
            return 0
        listed = {n["id"]: n for n in page.get("notes", [])}
        if any(i not in known and listed[i].get("document") is None for i in listed) and since > 0:
            page = await self._notes_page(client, 0.0)  # a new note with an old mtime (copied): read them all
            listed = {n["id"]: n for n in page.get("notes", [])}
        changes = [{"op": "delete", "kind": "note", "record_id": i, "project": p}
                   for i, (p, _) in known.items() if i not in listed or listed[i]["project"] != p]
        changes += [{"op": "upsert", "kind": "note", "record_id": i, "project": n["project"],
                     "document": n["document"]} for i, n in listed.items() if n.get("document")]
        if changes:
            await run_in_threadpool(self._apply, changes)
        self._save(notes={i: [n["project"], n["mtime"]] for i, n in listed.items()})
        return len(changes)

    async def run_every(self, seconds: float) -> None:
        """The timer: catch up every `seconds` (errors logged, never raised)."""
        while True:
            await asyncio.sleep(seconds)
            try:
                await self.catch_up()
            except FeedError as e:
                log.info("assistant index not updated: %s", e)
            except Exception:  # the timer goes on; the log says why
                log.exception("assistant index catch-up failed")


class Retriever:
    """Free-text search over the index, among `projects` only (the asking user's, from the backend)."""

    def __init__(self, engine: Any, projects: Sequence[str]):
        self.engine = engine
        self.projects = list(dict.fromkeys(projects))

    def _search(self, text: str, projects: Sequence[str] | None, limit: int,
                kinds: Sequence[str] | None) -> list[dict[str, Any]]:
        allowed = self.projects if projects is None else [p for p in projects if p in self.projects]
        if not allowed or not text.strip():
            return []
        vector = self.engine.embedder.embed([text])[0]
        where = {"kind": list(kinds)} if kinds else None
        hits = self.engine.store.query(vector, allowed, limit=limit, where=where)
        return [{"id": hid, "score": score, **payload} for hid, score, payload in hits
                if payload.get("project") in allowed]  # the store filters; this says so twice

    async def search(self, text: str, projects: Sequence[str] | None = None, limit: int = 10,
                     kinds: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The `limit` records nearest to `text` among `projects` (default: all the user's; any other named
        project is ignored), best first: `{id, score, project, kind, record_id, title, text}`."""
        return await run_in_threadpool(self._search, text, projects, limit, kinds)
