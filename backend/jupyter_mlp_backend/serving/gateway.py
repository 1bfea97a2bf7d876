"""The serving gateway: a stable URL per deployment, API keys, rate limits, then the deployment's workers.

    /serve/{project}/{deployment}/invocations                MLflow scoring protocol (POST)
    /serve/{project}/{deployment}/ping | /health             MLflow liveness (GET)
    /serve/{project}/endpoints/{deployment}/invocations      the same, as `mlflow.deployments` clients call it
    /serve/{project}/{deployment}/v2                         Open Inference Protocol v2: server metadata (GET)
    /serve/{project}/{deployment}/v2/health/live | ready     (GET)
    /serve/{project}/{deployment}/v2/models/{model}[/versions/{v}]            metadata (GET)
    /serve/{project}/{deployment}/v2/models/{model}[/versions/{v}]/ready      (GET)
    /serve/{project}/{deployment}/v2/models/{model}[/versions/{v}]/infer      (POST)
    /serve/{project}/{deployment}/feedback                   ground-truth labels by prediction id (POST)

A plain ASGI app mounted beside the FastAPI routes: it is the hot path, so it does only what must happen here —
the key (looked up once, then from memory), the deployment, two token buckets (the key's and the project's), a
size check, and one frame to the least busy worker, which parses, validates and micro-batches. Every answer has a
prediction id (`X-Prediction-Id`, and in the body). Identity for these URLs is the API key alone; a platform token
does not open them, and a key opens nothing else.

Errors under `/v2/` have the protocol's shape, `{"error": "<message>"}`; the others the platform's
`{"error": {"code", "message", "detail"}}`. v2 infer takes JSON and the binary tensor data extension
(`Inference-Header-Content-Length`) both ways; the gateway turns binary into JSON before a worker sees it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from . import predlog, protocol, wire
from . import fairness
from .fairness import Fairness
from .manager import Live, Manager

JSON = (b"content-type", b"application/json")
OCTETS = (b"content-type", b"application/octet-stream")
SERVER_NAME = "jupyter-mlp"


@dataclass
class KeyInfo:
    id: int
    prefix: str
    secret_sha256: str
    project_id: int
    project: str
    deployment_id: int | None
    rate_per_s: float | None
    revoked: bool


class Bucket:
    """A token bucket: `rate` per second, up to one second's worth banked — and never less than one whole token,
    so that a rate under one per second (a key allowed one request every 10 s) still lets a request through."""

    __slots__ = ("rate", "capacity", "tokens", "last")

    def __init__(self, rate: float):
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.last = time.monotonic()

    def take(self) -> float:
        """0 when allowed; else the seconds until a token is there."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def split_key(raw: str) -> tuple[str, str] | None:
    """`mlpk_<prefix>_<secret>` -> (prefix, secret)."""
    if not raw.startswith("mlpk_"):
        return None
    prefix, _, secret = raw[5:].partition("_")
    if not prefix or not secret or len(raw) > 200:
        return None
    return prefix, secret


class Gateway:
    def __init__(self, manager: Manager, lookup_key: Callable[[str], KeyInfo | None], *, key_rate: float,
                 project_rate: float, max_body: int, reject_rate: float = fairness.REJECT_RATE):
        self.manager = manager
        self.lookup_key = lookup_key  # prefix -> KeyInfo from the database (run in a thread)
        self.keys: dict[str, tuple[float, KeyInfo | None]] = {}
        self.key_rate, self.project_rate, self.max_body = key_rate, project_rate, max_body
        self.key_buckets: dict[int, Bucket] = {}
        self.project_buckets: dict[int, Bucket] = {}
        self.predlog: predlog.PredictionLog | None = None
        self.rejected_keys = 0
        self.fair = Fairness(reject_rate=reject_rate)  # paced 429s, per-project turns, project limits sized from capacity
        self.verified: dict[str, KeyInfo] = {}  # whole key as sent -> its checked record: no hashing per request
        self.tls_only: str | None = None  # the TLS listener's URL when `serving_tls_cert` is set (serving/tls.py)
        self.client_tls = None  # serving/client_tls.py ClientTls: projects that require a client certificate

    def forget_key(self, prefix: str) -> None:
        self.keys.pop(prefix, None)
        for raw in [raw for raw, info in self.verified.items() if info.prefix == prefix]:
            del self.verified[raw]

    async def _key(self, raw: str) -> KeyInfo | None:
        known = self.verified.get(raw)
        if known is not None:
            return known
        parts = split_key(raw)
        if parts is None:
            return None
        prefix, secret = parts
        cached = self.keys.get(prefix)
        now = time.monotonic()
        if cached is None or (cached[1] is None and now - cached[0] > 5):  # unknown prefixes re-checked after 5 s
            info = await asyncio.get_running_loop().run_in_executor(None, self.lookup_key, prefix)
            if len(self.keys) > 100_000:
                self.keys.clear()
            self.keys[prefix] = (now, info)
        else:
            info = cached[1]
        if info is None or info.revoked:
            return None
        if not hmac.compare_digest(hashlib.sha256(secret.encode()).hexdigest(), info.secret_sha256):
            return None
        if len(self.verified) > 100_000:
            self.verified.clear()
        self.verified[raw] = info
        return info

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        t0 = time.perf_counter()
        pid = uuid.uuid4().hex
        parts = scope["path"].split("/")  # ["", "serve", project, deployment, ...rest]
        if len(parts) >= 6 and parts[3] == "endpoints" and parts[5] == "invocations":
            # `mlflow.deployments.get_deploy_client("<backend>/serve/<project>").predict(endpoint=...)` calls
            # /endpoints/{name}/invocations; no deployment route ends that way, so the name is never ambiguous.
            parts = parts[:3] + parts[4:]
        v2 = len(parts) > 4 and parts[4] == "v2"  # the protocol's own error shape there
        method = scope["method"]
        headers = dict(scope["headers"])
        live: Live | None = None
        status = 500
        try:
            if self.tls_only is not None and "mlp_tls" not in scope:  # no plain path to a model (serving/tls.py)
                status = 403
                await _send(send, 403, _err("tls_required", f"Serving needs TLS: call {self.tls_only}"
                                            f"{scope['path']}", v2), pid)
                return
            raw = _api_key(headers)
            info = await self._key(raw) if raw else None
            if info is None:
                self.rejected_keys += 1
                status = 401
                await _send(send, 401, _err("unauthenticated", "A valid API key is needed: "
                                             "'Authorization: Bearer mlpk_…' or 'X-API-Key: mlpk_…'", v2), pid,
                            extra=[(b"www-authenticate", b"Bearer")])
                return
            if self.client_tls is not None and self.client_tls.policies:
                why = self.client_tls.refuse(info.project_id, info.id, scope.get("mlp_tls"), "mlp_tls" in scope)
                if why:
                    status = 403
                    await _send(send, 403, _err("client_certificate_required", why, v2), pid)
                    return
            if len(parts) < 5 or not parts[4]:
                status = 404
                await _send(send, 404, _err("not_found", "Use /serve/{project}/{deployment}/invocations or "
                                            "/serve/{project}/{deployment}/v2/…"), pid)
                return
            project, name, rest = parts[2], parts[3], parts[4:]
            live = self.manager.get(project, name)
            if live is None and self.manager.resuming:  # just restarted: it may be one not read back yet
                status = 503
                await _send(send, 503, _err("unavailable", f"Deployment '{project}/{name}' is starting; retry", v2),
                            pid, extra=[(b"retry-after", b"1")])
                return
            if live is None or live.project_id != info.project_id:  # another project's looks like a missing one
                status = 404
                await _send(send, 404, _err("not_found", f"Deployment '{project}/{name}' not found", v2), pid)
                live = None
                return
            if info.deployment_id is not None and info.deployment_id != live.id:
                status = 403
                await _send(send, 403, _err("forbidden", f"This key is for another deployment, not '{name}'", v2),
                            pid)
                return
            wait = self._limit(info)
            if wait:
                status = 429
                # Refused from the headers alone (the body is never read); a burst's 429s are paced, so a client
                # hammering an exhausted limit costs the shared gateway little (serving/fairness.py).
                hold = self.fair.reject_delay(info.project_id, max(1.0, wait))
                if hold > 0:
                    await asyncio.sleep(hold)
                await _send(send, 429, _err("rate_limited", f"Too many requests: retry in {wait:.2f} s", v2), pid,
                            extra=[(b"retry-after", str(max(1, math.ceil(wait))).encode())])
                return
            status = await self._route(live, method, rest, headers, receive, send, pid, t0, info)
        finally:
            if live is not None:
                live.stats.record((time.perf_counter() - t0) * 1000, status)

    def _limit(self, info: KeyInfo) -> float:
        kb = self.key_buckets.get(info.id)
        if kb is None:
            kb = self.key_buckets[info.id] = Bucket(info.rate_per_s or self.key_rate)
        pb = self.project_buckets.get(info.project_id)
        if pb is None:
            pb = self.project_buckets[info.project_id] = Bucket(self.project_rate)
        self.fair.seen(info.project_id)
        rate = self.fair.project_rate(info.project_id, self.project_rate)  # sized from measured capacity
        if rate != pb.rate:
            pb.rate, pb.capacity = rate, max(1.0, rate)
            pb.tokens = min(pb.tokens, pb.capacity)
        wait = kb.take()
        if wait:
            return wait
        wait = pb.take()
        if wait:
            kb.tokens = min(kb.capacity, kb.tokens + 1)  # not served: give the key its token back
        return wait

    async def _route(self, live: Live, method: str, rest: list[str], headers: dict[bytes, bytes],
                     receive: Callable, send: Callable, pid: str, t0: float, info: KeyInfo) -> int:
        path = "/".join(rest).rstrip("/")
        if path == "invocations":
            if method != "POST":
                return await _send(send, 405, _err("method_not_allowed", "Use POST for /invocations"), pid)
            return await self._infer(live, wire.MLFLOW, headers, receive, send, pid, t0)
        if path == "feedback":
            if method != "POST":
                return await _send(send, 405, _err("method_not_allowed", "Use POST for /feedback"), pid)
            return await self._feedback(live, headers, receive, send, pid, info)
        if path in ("ping", "health"):
            ready = live.pool is not None and bool(live.pool.live())
            return await _send(send, 200 if ready else 503, json.dumps({"live": True, "ready": ready}).encode(), pid)
        if rest[0] == "v2":
            return await self._v2(live, method, rest[1:], headers, receive, send, pid, t0)
        return await _send(send, 404, _err("not_found", f"No such endpoint: /{path}"), pid)

    async def _v2(self, live: Live, method: str, rest: list[str], headers: dict[bytes, bytes], receive: Callable,
                  send: Callable, pid: str, t0: float) -> int:
        """Open Inference Protocol v2: every route of the protocol's REST API, errors as `{"error": "<message>"}`.
        Readiness answers 200 when true and 400 when false, as the protocol says."""
        rest = [p for p in rest if p]
        get = method in ("GET", "HEAD")

        async def refuse(status: int, message: str) -> int:
            return await _send(send, status, _err("", message, True), pid)

        def ready() -> bool:
            return live.pool is not None and bool(live.pool.live())

        if not rest or rest[0] == "health":
            if not get:
                return await refuse(405, "Use GET for server metadata and health")
            if not rest:
                return await _send(send, 200, json.dumps({"name": SERVER_NAME, "version": _version(),
                                                          "extensions": ["binary_tensor_data"]}).encode(), pid)
            if rest == ["health", "live"]:
                return await _send(send, 200, json.dumps({"live": True}).encode(), pid)
            if rest == ["health", "ready"]:
                ok = ready()
                return await _send(send, 200 if ok else 400, json.dumps({"ready": ok}).encode(), pid)
            return await refuse(404, f"No such endpoint: /v2/{'/'.join(rest)}")
        if rest[0] != "models" or len(rest) < 2:
            return await refuse(404, f"No such endpoint: /v2/{'/'.join(rest)}: use /v2, /v2/health/live, "
                                     "/v2/health/ready or /v2/models/{model}[/versions/{version}][/ready|/infer]")
        model, tail = rest[1], rest[2:]
        if model != live.model:
            return await refuse(404, f"Model '{model}' is not served here ('{live.model}' is)")
        if len(tail) >= 2 and tail[0] == "versions":
            if live.version is None or tail[1] != str(live.version):
                return await refuse(404, f"Model '{model}' version {tail[1]} is not served here "
                                         f"(version {live.version} is)")
            tail = tail[2:]
        if tail == ["infer"]:
            if method != "POST":
                return await refuse(405, "Use POST for infer")
            return await self._infer(live, wire.V2, headers, receive, send, pid, t0)
        if tail == ["ready"]:
            if not get:
                return await refuse(405, "Use GET for model readiness")
            ok = ready()
            return await _send(send, 200 if ok else 400, json.dumps({"name": model, "ready": ok}).encode(), pid)
        if not tail:
            if not get:
                return await refuse(405, "Use GET for model metadata")
            pool = live.pool
            w = pool.workers[0] if pool and pool.workers else None
            return await _send(send, 200, json.dumps({
                "name": live.model, "versions": [str(live.version)] if live.version else [],
                "platform": "mlflow", "inputs": w.signature if w else [],
                "outputs": w.outputs if w else []}).encode(), pid)
        return await refuse(404, f"No such endpoint: /v2/{'/'.join(rest)}")

    async def _body(self, headers: dict[bytes, bytes], receive: Callable, send: Callable,
                    pid: str, v2: bool = False) -> bytes | int:
        """The request body, or the status already sent (415, 413, 499). A v2 request with binary tensors
        (`Inference-Header-Content-Length`) may be sent as application/octet-stream."""
        ctype = headers.get(b"content-type", b"application/json").split(b";")[0].strip().lower()
        if ctype != b"application/json" and not (
                v2 and ctype == b"application/octet-stream" and b"inference-header-content-length" in headers):
            return await _send(send, 415, _err("unsupported_media_type",
                                               f"Send JSON (Content-Type: application/json), not {ctype.decode()}",
                                               v2), pid)
        try:
            declared = int(headers.get(b"content-length", b"0"))
        except ValueError:
            declared = 0
        if declared > self.max_body:
            return await _send(send, 413, _err("too_large", f"The body is {declared} bytes; the most a request "
                                               f"may send is {self.max_body}", v2), pid)
        chunks, size = [], 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return 499
            body = msg.get("body", b"")
            size += len(body)
            if size > self.max_body:
                return await _send(send, 413, _err("too_large", f"The body is over the {self.max_body} bytes a "
                                                   "request may send", v2), pid)
            chunks.append(body)
            if not msg.get("more_body"):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _infer(self, live: Live, kind: int, headers: dict[bytes, bytes], receive: Callable, send: Callable,
                     pid: str, t0: float) -> int:
        v2 = kind == wire.V2
        body = await self._body(headers, receive, send, pid, v2)
        if isinstance(body, int):
            return body
        wants = None
        hlen = headers.get(b"inference-header-content-length")
        if v2 and (hlen is not None or b"binary_data" in body or b'"outputs"' in body):
            try:
                if hlen is not None and not hlen.strip().isdigit():
                    raise protocol.BadRequest("Inference-Header-Content-Length must be a number of bytes")
                body, wants = protocol.v2_decode(body, int(hlen) if hlen is not None else None)
            except protocol.BadRequest as e:
                return await _send(send, 400, _err("bad_request", str(e), True), pid)
        try:
            pool = live.pool  # a slot in this project's turn (serving/fairness.py): a burst waits behind itself
            bound = self.fair.bound(len(pool.workers) if pool else 1, pool.spec.max_batch if pool else 1)
            await self.fair.acquire(live.project_id, bound)  # not `slot()`: no generator per request
            try:
                status, answer = await self.manager.forward(live, kind, body, pid)
            finally:
                self.fair.release(live.project_id)
        except wire.WorkerGone as e:
            if live.pool is None:  # known but not serving yet: being restored after a backend restart
                why = "is starting" if live.status == "deploying" else f"has no worker ({live.message})"
                return await _send(send, 503, _err("unavailable", f"Deployment '{live.project}/{live.name}' {why}; "
                                                   "retry", v2), pid, extra=[(b"retry-after", b"1")])
            return await _send(send, 503, _err("unavailable", f"The worker answering this request stopped ({e}); "
                                               "retry", v2), pid, extra=[(b"retry-after", b"1")])
        if v2 and status != 200:
            answer = _flat_error(answer)
        out, extra, ctype = answer, None, JSON
        if status == 200 and wants is not None and (wants.names is not None or wants.binary or wants.binary_default):
            try:
                out, head = protocol.v2_encode(answer, wants)
            except protocol.BadRequest as e:
                return await _send(send, 400, _err("bad_request", str(e), True), pid)
            if head is not None:  # the JSON header, then the outputs' raw bytes
                extra, ctype = [(b"inference-header-content-length", str(head).encode())], OCTETS
        if status != 200 or not live.log_predictions or self.predlog is None:
            return await _send(send, status, out, pid, extra=extra, ctype=ctype)
        latency_ms = (time.perf_counter() - t0) * 1000
        try:  # the answer leaves first; its row is kept all the same if sending it fails
            return await _send(send, status, out, pid, extra=extra, ctype=ctype)
        finally:
            self.predlog.add(live.project, live.name, predlog.row(
                pid, live.model, live.version, "v2" if v2 else "mlflow", latency_ms, body, answer))

    async def _feedback(self, live: Live, headers: dict[bytes, bytes], receive: Callable, send: Callable, pid: str,
                        info: KeyInfo) -> int:
        body = await self._body(headers, receive, send, pid)
        if isinstance(body, int):
            return body
        try:
            rows = predlog.feedback_rows(body, f"key:{info.prefix}")
        except predlog.FeedbackError as e:
            return await _send(send, 400, _err("bad_request", str(e)), pid)
        catalog = self.predlog.catalog if self.predlog else None
        if catalog is None:
            return await _send(send, 503, _err("unavailable", "Feedback cannot be stored now"), pid)
        await asyncio.get_running_loop().run_in_executor(None, predlog.write_feedback, catalog, live.project,
                                                         live.name, rows)
        return await _send(send, 200, json.dumps({"accepted": len(rows)}).encode(), pid)


def _api_key(headers: dict[bytes, bytes]) -> str | None:
    auth = headers.get(b"authorization")
    if auth:
        scheme, _, value = auth.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and value:
            return value.strip()
    key = headers.get(b"x-api-key")
    return key.decode("latin-1").strip() if key else None


def _err(code: str, message: str, v2: bool = False) -> bytes:
    """An error body: the platform's shape, or under /v2/ the Open Inference Protocol's `{"error": "<message>"}`."""
    if v2:
        return json.dumps({"error": message}).encode()
    return json.dumps({"error": {"code": code, "message": message, "detail": None}}).encode()


def _flat_error(body: bytes) -> bytes:
    """A worker's error (the platform's shape) in the v2 protocol's shape."""
    try:
        err = json.loads(body).get("error")
        message = err.get("message") if isinstance(err, dict) else err
    except (ValueError, AttributeError):
        message = body.decode("utf-8", "replace")[:2000]
    return json.dumps({"error": str(message)}).encode()


_VERSION: str | None = None


def _version() -> str:
    global _VERSION
    if _VERSION is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            _VERSION = version("jupyter-mlp")
        except PackageNotFoundError:  # pragma: no cover - a source tree without the package installed
            _VERSION = "0"
    return _VERSION


async def _send(send: Callable, status: int, body: bytes, pid: str,
                extra: list[tuple[bytes, bytes]] | None = None, ctype: tuple[bytes, bytes] = JSON) -> int:
    headers = [ctype, (b"content-length", str(len(body)).encode()), (b"x-prediction-id", pid.encode())]
    if extra:
        headers += extra
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status
