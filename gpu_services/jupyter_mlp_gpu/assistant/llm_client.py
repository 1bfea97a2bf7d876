"""The OpenAI-compatible chat-completions client of the assistant (see `llm.py` for the whole LLM path)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx


DEFAULT_TIMEOUT_S = 60.0


class LLMUnavailable(RuntimeError):
    """The language model could not give an answer: not configured, unreachable, an error status, a malformed
    reply or no reply in time. The message is plain and safe to show."""


# --- the client ----------------------------------------------------------------------------------------------------

class LLMClient:
    """`POST {url}/v1/chat/completions`, streaming (SSE) or not.

    `model`: the served model's name (vLLM and `transformers serve` refuse another); None: the first model that
    `GET {url}/v1/models` lists. `timeout`: seconds to wait for the server — to connect, for each streamed chunk,
    and for a non-streamed answer as a whole."""

    def __init__(self, url: str, model: str | None = None, *, api_key: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT_S, client: httpx.AsyncClient | None = None):
        self.url = url.rstrip("/")
        if self.url.endswith("/v1"):
            self.url = self.url[:-3]
        self.model = model
        self.timeout = float(timeout)
        self._own = client is None
        self._http = client or httpx.AsyncClient(timeout=httpx.Timeout(self.timeout))
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    @classmethod
    def from_settings(cls, settings: Any) -> LLMClient | None:
        """The configured client, or None when `llm_url` is unset (the no-LLM path)."""
        if not getattr(settings, "llm_url", None):
            return None
        return cls(settings.llm_url, settings.llm_model, api_key=settings.llm_api_key,
                   timeout=settings.llm_timeout_seconds)

    async def aclose(self) -> None:
        if self._own:
            await self._http.aclose()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- requests --

    def _where(self) -> str:
        return f"The language model at {self.url}"

    async def _model(self) -> str:
        if self.model:
            return self.model
        body = await self._call(lambda: self._http.get(f"{self.url}/v1/models", headers=self._headers))
        try:
            self.model = str(body["data"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise LLMUnavailable(f"{self._where()} lists no model; set llm_model") from None
        return self.model

    async def _call(self, send: Any) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                r = await send()
        except (TimeoutError, httpx.TimeoutException):
            raise LLMUnavailable(f"{self._where()} did not answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise LLMUnavailable(f"{self._where()} could not be reached ({type(exc).__name__})") from None
        if r.status_code >= 400:
            raise LLMUnavailable(f"{self._where()} answered {r.status_code}: {_error_message(r.text)}")
        try:
            return r.json()
        except ValueError:
            raise LLMUnavailable(f"{self._where()} sent a malformed reply (not JSON)") from None

    async def _body(self, messages: Sequence[Mapping[str, str]], stream: bool, max_tokens: int,
                    temperature: float, extra: Mapping[str, Any] | None) -> dict[str, Any]:
        return {"model": await self._model(), "messages": [dict(m) for m in messages], "stream": stream,
                "max_tokens": max_tokens, "temperature": temperature, **(extra or {})}

    async def complete(self, messages: Sequence[Mapping[str, str]], *, max_tokens: int = 512,
                       temperature: float = 0.0, extra: Mapping[str, Any] | None = None) -> str:
        """The assistant message's text (non-streaming)."""
        body = await self._body(messages, False, max_tokens, temperature, extra)
        reply = await self._call(lambda: self._http.post(f"{self.url}/v1/chat/completions", json=body,
                                                         headers=self._headers))
        try:
            content = reply["choices"][0]["message"].get("content")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise LLMUnavailable(f"{self._where()} sent a malformed reply (no choices[0].message)") from None
        if content is not None and not isinstance(content, str):
            raise LLMUnavailable(f"{self._where()} sent a malformed reply (content is not text)")
        return content or ""

    async def stream(self, messages: Sequence[Mapping[str, str]], *, max_tokens: int = 512,
                     temperature: float = 0.0, extra: Mapping[str, Any] | None = None) -> AsyncIterator[str]:
        """The assistant message's text deltas as the server streams them (`data: {...}` events, `[DONE]`)."""
        body = await self._body(messages, True, max_tokens, temperature, extra)
        try:
            async with asyncio.timeout(self.timeout) as deadline:
                async with self._http.stream("POST", f"{self.url}/v1/chat/completions", json=body,
                                             headers={**self._headers, "Accept": "text/event-stream"}) as r:
                    if r.status_code >= 400:
                        text = (await r.aread()).decode("utf-8", "replace")
                        raise LLMUnavailable(f"{self._where()} answered {r.status_code}: {_error_message(text)}")
                    async for data in _sse_data(r.aiter_lines()):
                        if data.strip() == "[DONE]":
                            return
                        delta = self._delta(data)
                        deadline.reschedule(asyncio.get_running_loop().time() + self.timeout)
                        if delta:
                            yield delta
        except (TimeoutError, httpx.TimeoutException):
            raise LLMUnavailable(f"{self._where()} did not answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise LLMUnavailable(f"{self._where()} could not be reached ({type(exc).__name__})") from None

    def _delta(self, data: str) -> str:
        try:
            chunk = json.loads(data)
        except ValueError:
            raise LLMUnavailable(f"{self._where()} sent a malformed chunk (not JSON)") from None
        if not isinstance(chunk, dict):
            raise LLMUnavailable(f"{self._where()} sent a malformed chunk (not an object)")
        if "error" in chunk:  # vLLM reports a failure mid-stream as an error event
            raise LLMUnavailable(f"{self._where()} failed while answering: {_error_message(json.dumps(chunk))}")
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            raise LLMUnavailable(f"{self._where()} sent a malformed chunk (no choices)")
        if not choices:  # a usage-only chunk
            return ""
        delta = choices[0].get("delta") if isinstance(choices[0], dict) else None
        if not isinstance(delta, dict):
            raise LLMUnavailable(f"{self._where()} sent a malformed chunk (no delta)")
        content = delta.get("content")
        if content is not None and not isinstance(content, str):
            raise LLMUnavailable(f"{self._where()} sent a malformed chunk (content is not text)")
        return content or ""


async def _sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The `data` of each server-sent event (multi-line data joined by newlines; comments and other fields
    skipped)."""
    buf: list[str] = []
    async for line in lines:
        if line == "":
            if buf:
                yield "\n".join(buf)
                buf = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            buf.append(value[1:] if value.startswith(" ") else value)
    if buf:
        yield "\n".join(buf)


def _error_message(text: str) -> str:
    """The server's own message (OpenAI `{"error": {"message"}}`, FastAPI `{"detail"}`), one line, short."""
    try:
        body = json.loads(text)
        msg = body.get("error", body.get("detail", text)) if isinstance(body, dict) else text
        if isinstance(msg, dict):
            msg = msg.get("message", json.dumps(msg))
    except ValueError:
        msg = text
    msg = " ".join(str(msg).split())
    return (msg[:300] + "…") if len(msg) > 300 else (msg or "no message")


def default_client() -> LLMClient:
    """The client the settings configure; `LLMUnavailable` when `llm_url` is unset."""
    from jupyter_mlp.settings import Settings

    client = LLMClient.from_settings(Settings())
    if client is None:
        raise LLMUnavailable("No language model is configured (set llm_url)")
    return client


# --- data blocks -----------------------------------------------------------------------------------------------------
