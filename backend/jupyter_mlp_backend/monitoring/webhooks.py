"""Alert delivery to webhooks: Slack incoming webhooks, Jira issues, and a generic signed JSON POST.

Webhook URLs are typed in by users, so the backend must not become a way to reach what only it can reach (cloud
metadata, the database, services on the loopback or the private network). `check_url` refuses a URL whose host is,
or resolves to, any non-public address unless an admin listed the host, the address or a network containing it
(`MLP_WEBHOOK_ALLOW_HOSTS`). `deliver` checks again at delivery time and then connects to the very addresses it
checked (the request keeps the original Host header and TLS server name), so a DNS answer that changes between the
check and the connection cannot redirect it; it never follows HTTP redirects either.

`deliver` never raises for a failed delivery: it returns a `Delivery` saying what happened, in plain words.

Kept in one file over ~500 lines on purpose: the address check and the delivery that connects to exactly the
addresses it checked are the two halves of one guard (against reaching internal hosts); apart, one could change
without the other.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import os
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from jupyter_mlp_backend.errors import Invalid

KINDS = ("slack", "jira", "generic")

MAX_URL_LENGTH = 2000
ALLOW_HINT = "an admin can allow it with MLP_WEBHOOK_ALLOW_HOSTS"
USER_AGENT = "jupyter-mlp-webhooks/1"
# How much of a response is read at most (the rest is dropped unread), and how much of it a Delivery keeps.
_MAX_RESPONSE_BYTES = 64 * 1024
_EXCERPT_CHARS = 500
# A Retry-After on 429/503 is honoured up to this many seconds.
_MAX_RETRY_AFTER = 30.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


# --------------------------------------------------------------------------------------------------------------
# URL checks


def _why_blocked(ip: IPAddress) -> str | None:
    """Why `ip` may not be a webhook destination, in words ("a loopback address"), or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded, form = None, ""
        if ip.ipv4_mapped is not None:
            embedded, form = ip.ipv4_mapped, "an IPv4-mapped form of"
        elif ip in _NAT64:
            embedded, form = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "a NAT64 form of"
        elif ip.sixtofour is not None:
            embedded, form = ip.sixtofour, "a 6to4 form of"
        if embedded is not None:
            why = _why_blocked(embedded)
            return f"{form} {embedded}, {why}" if why else None
    if ip in _METADATA:
        return "the cloud metadata address (link-local)"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "a carrier-grade NAT (shared) address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


@dataclass(frozen=True)
class _Allow:
    names: frozenset[str]
    suffixes: tuple[str, ...]  # from "*.example.com" entries, stored as ".example.com"
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> _Allow:
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[Any] = []
        for raw in entries:
            entry = (raw or "").strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = entry.lower().rstrip(".")
            if name.startswith("*."):
                suffixes.append(name[1:])
            else:
                names.add(name)
        return cls(frozenset(names), tuple(suffixes), tuple(networks))

    def host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.names or any(host.endswith(s) for s in self.suffixes)

    def address(self, ip: IPAddress) -> bool:
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        return any(c in net for c in candidates for net in self.networks if c.version == net.version)


@dataclass(frozen=True)
class _Target:
    """A checked URL: its host, and the addresses it may be reached at (empty when the host is an IP literal)."""

    url: str
    host: str
    addresses: tuple[IPAddress, ...]


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _check(url: str, allow: Iterable[str]) -> _Target:
    if not isinstance(url, str) or not url.strip():
        raise Invalid("webhook URL is empty")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise Invalid(f"webhook URL is {len(url)} characters long; at most {MAX_URL_LENGTH} are allowed")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise Invalid("webhook URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise Invalid(f"webhook URL is malformed: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"'{parts.scheme}'" if parts.scheme else "none"
        raise Invalid(f"webhook URL scheme is {shown}; only http and https are allowed")
    if "@" in parts.netloc:
        raise Invalid("webhook URL must not contain a user name or password (user:pass@host); "
                      "put credentials in the hook's secret instead")
    host = parts.hostname or ""
    if not host:
        raise Invalid("webhook URL has no host")
    hint = ALLOW_HINT
    rules = _Allow.parse(allow)
    literal = _literal(host)
    if literal is not None:
        why = _why_blocked(literal)
        if why and not (rules.address(literal) or rules.host(host)):
            raise Invalid(f"webhook URL host '{host}' is {why}; {hint}")
        return _Target(url, host, ())
    try:
        infos = socket.getaddrinfo(host, port or (443 if scheme == "https" else 80), type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:
        reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise Invalid(f"webhook URL host '{host}' could not be resolved ({reason})") from None
    addresses: list[IPAddress] = []
    for info in infos:
        ip = _literal(str(info[4][0]))
        if ip is not None and ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise Invalid(f"webhook URL host '{host}' could not be resolved (no addresses)")
    if not rules.host(host):
        for ip in addresses:
            why = _why_blocked(ip)
            if why and not rules.address(ip):
                raise Invalid(f"webhook URL host '{host}' resolves to {ip}, {why}; {hint}")
    return _Target(url, host, tuple(addresses))


def check_url(url: str, allow: list[str]) -> None:
    """Raise `Invalid`, naming the problem, unless `url` may be used as a webhook.

    http/https only, a host, no user info, at most 2,000 characters; the host, or every address it resolves to, must
    be public (not loopback, link-local, private, CGNAT, reserved, multicast or unspecified, also in IPv4-mapped,
    NAT64 or 6to4 form) unless `allow` lists the host name ("hooks.internal", "*.corp.example"), the address
    ("127.0.0.1") or a network containing it ("10.0.0.0/8"). Resolves the host name (blocking).
    """
    _check(url, allow)


# --------------------------------------------------------------------------------------------------------------
# Payloads


@dataclass
class Alert:
    id: int
    project: str
    deployment: str
    monitor: str
    kind: str  # "drift" | "performance" | "data"
    key: str  # e.g. "drift:f3", "performance:auc"
    state: str  # "firing" | "resolved"
    severity: str  # "warning" | "critical"
    title: str  # one line, plain words
    detail: dict = field(default_factory=dict)  # JSON-able: statistics, thresholds, window
    started_at: str = ""
    resolved_at: str | None = None
    url: str | None = None  # link to the panel / dashboard


def _resolved(alert: Alert) -> bool:
    return alert.state == "resolved"


def _one_line(text: Any, limit: int) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _detail_json(detail: Any, limit: int | None = None) -> str:
    s = json.dumps(detail, indent=2, sort_keys=True, default=str, ensure_ascii=False)
    if limit is not None and len(s) > limit:
        s = s[: limit - 1] + "…"
    return s


def _slack_escape(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(alert: Alert) -> dict:
    """A Slack incoming-webhook message: `text` (notifications, fallback) and Block Kit `blocks`."""
    resolved = _resolved(alert)
    status = "RESOLVED" if resolved else "FIRING"
    icon = ":white_check_mark:" if resolved else (":rotating_light:" if alert.severity == "critical" else ":warning:")
    where = f"{alert.project}/{alert.deployment}"
    text = f"{icon} [{status}] {_one_line(alert.title, 300)} ({where}, monitor {alert.monitor})"
    if resolved:
        text += f", resolved at {alert.resolved_at}" if alert.resolved_at else ", resolved"
    facts = [
        ("Project", alert.project),
        ("Deployment", alert.deployment),
        ("Monitor", alert.monitor),
        ("Kind", alert.kind),
        ("Severity", alert.severity),
        ("Key", alert.key),
        ("Started", alert.started_at),
    ]
    if resolved:
        facts.append(("Resolved", alert.resolved_at or "yes"))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _one_line(f"[{status}] {alert.title}", 150),
                                    "emoji": True}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{name}*\n{_slack_escape(_one_line(value, 1900))}"} for name, value in facts
        ]},
    ]
    if alert.detail:
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": "*Detail*\n```" + _slack_escape(_detail_json(alert.detail, 2800)) + "```"}})
    context = f"jupyter-mlp alert #{alert.id}"
    if alert.url:
        link = alert.url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace("&", "&amp;")
        context += f" · <{link}|Open dashboard>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": _slack_escape(text), "blocks": blocks}


def _jira_text(alert: Alert) -> str:
    lines = [
        alert.title,
        "",
        f"State: {alert.state}",
        f"Severity: {alert.severity}",
        f"Project: {alert.project}",
        f"Deployment: {alert.deployment}",
        f"Monitor: {alert.monitor}",
        f"Kind: {alert.kind}",
        f"Key: {alert.key}",
        f"Started: {alert.started_at}",
    ]
    if alert.resolved_at:
        lines.append(f"Resolved: {alert.resolved_at}")
    if alert.url:
        lines.append(f"Dashboard: {alert.url}")
    # {noformat} keeps Jira's wiki renderer from reading braces and asterisks in the JSON as markup.
    lines += ["", "Detail:", "{noformat}", _detail_json(alert.detail, 30000), "{noformat}", "",
              f"Raised by jupyter-mlp (alert #{alert.id})."]
    return "\n".join(lines)


def jira_payload(alert: Alert, project_key: str, issue_type: str = "Bug") -> dict:
    """The body of `POST {base}/rest/api/2/issue` creating an issue for the alert."""
    summary = _one_line(f"[{alert.severity}] {alert.title} ({alert.project}/{alert.deployment})", 255)
    return {
        "fields": {
            "project": {"key": project_key},
            "summary": summary,
            "description": _jira_text(alert),
            "issuetype": {"name": issue_type},
            "labels": ["jupyter-mlp", "".join(alert.kind.split()) or "alert"],
        }
    }


def jira_comment(alert: Alert) -> dict:
    """The body of `POST {base}/rest/api/2/issue/{key}/comment` telling the issue its alert resolved."""
    when = f" at {alert.resolved_at}" if alert.resolved_at else ""
    return {"body": f"Resolved{when}: " + _jira_text(alert)}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def generic_payload(alert: Alert) -> dict:
    return {
        "event": "alert.resolved" if _resolved(alert) else "alert.firing",
        "alert": asdict(alert),
        "sent_at": _now_iso(),
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 of `{timestamp}.` + body, keyed with the hook's secret (the X-MLP-Signature)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


# --------------------------------------------------------------------------------------------------------------
# Delivery


@dataclass
class Hook:
    id: int
    kind: str  # one of KINDS
    url: str
    secret: str | None = None  # generic: the HMAC secret; jira: "user:api_token" for basic auth
    jira_project: str | None = None
    jira_issue_type: str = "Bug"


@dataclass
class Delivery:
    hook_id: int
    ok: bool
    status_code: int | None
    attempts: int
    error: str | None
    response_excerpt: str | None
    external_id: str | None  # jira: the issue key


@dataclass
class _Request:
    url: str
    body: bytes
    headers: dict[str, str]
    auth: tuple[str, str] | None = None
    stamped: bool = False  # generic hooks: X-MLP-Timestamp per attempt
    signed: str | None = None  # generic hooks: the secret to sign with per attempt
    wants_issue_key: bool = False


def _build(hook: Hook, alert: Alert, external_id: str | None) -> _Request:
    json_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}

    def dump(payload: dict) -> bytes:
        return json.dumps(payload, separators=(",", ":"), default=str, ensure_ascii=False).encode()

    if hook.kind == "slack":
        return _Request(hook.url, dump(slack_payload(alert)), json_headers)
    if hook.kind == "jira":
        auth = None
        if hook.secret:
            user, sep, token = hook.secret.partition(":")
            if not sep:
                raise Invalid("the Jira hook's secret must be 'user:api_token'")
            auth = (user, token)
        base = hook.url.rstrip("/")
        headers = {**json_headers, "Accept": "application/json"}
        if _resolved(alert):
            if not external_id:
                raise Invalid(
                    "the alert resolved but no Jira issue was recorded for it, so there is nothing to comment on"
                )
            url = f"{base}/rest/api/2/issue/{quote(external_id, safe='')}/comment"
            return _Request(url, dump(jira_comment(alert)), headers, auth)
        if not hook.jira_project:
            raise Invalid("the Jira hook has no project key")
        body = dump(jira_payload(alert, hook.jira_project, hook.jira_issue_type or "Bug"))
        return _Request(f"{base}/rest/api/2/issue", body, headers, auth, wants_issue_key=True)
    if hook.kind == "generic":
        payload = generic_payload(alert)
        headers = {**json_headers, "X-MLP-Event": payload["event"], "X-MLP-Delivery": str(uuid.uuid4())}
        return _Request(hook.url, dump(payload), headers, stamped=True, signed=hook.secret or None)
    raise Invalid(f"unknown webhook kind '{hook.kind}'; expected one of {', '.join(KINDS)}")


def _proxy_configured() -> bool:
    return any(os.environ.get(v) for v in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                           "all_proxy", "ALL_PROXY"))


def _routes(target: _Target, pin: bool) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    """(request URL, extra headers, extensions) to try in order: one per checked address when pinning."""
    if not pin or not target.addresses:
        return [(target.url, {}, {})]
    original = httpx.URL(target.url)
    routes = []
    for ip in target.addresses:
        if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
            return [(target.url, {}, {})]  # a scoped (allowed) link-local address: let the client resolve
        extensions = {"sni_hostname": original.raw_host.decode("ascii")} if original.scheme == "https" else {}
        url = str(original.copy_with(host=str(ip)))
        routes.append((url, {"Host": original.netloc.decode("ascii")}, extensions))
    return routes


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return min(float(value), _MAX_RETRY_AFTER)
    return None


async def _read_limited(response: httpx.Response) -> bytes:
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= _MAX_RESPONSE_BYTES:
            break
    return bytes(data[:_MAX_RESPONSE_BYTES])


def _decode(data: bytes, response: httpx.Response) -> str:
    return data.decode(response.encoding or "utf-8", errors="replace")


async def deliver(
    hook: Hook,
    alert: Alert,
    allow: list[str],
    *,
    timeout: float = 10,
    retries: int = 3,
    backoff: float = 0.5,
    client: httpx.AsyncClient | None = None,
    external_id: str | None = None,
) -> Delivery:
    """Send `alert` to `hook`; never raises for a delivery failure.

    `retries` is how many times a failed attempt is repeated (at most `retries + 1` attempts), after
    `backoff * 2**n` seconds, for connection errors, timeouts, 429 and 5xx; other answers are final. `timeout`
    bounds each attempt as a whole. For a resolved alert on a Jira hook, `external_id` is the issue key the firing
    alert created; the resolution is posted as a comment on it.
    """

    def failed(error: str, attempts: int = 0, status: int | None = None, excerpt: str | None = None) -> Delivery:
        return Delivery(hook.id, False, status, attempts, error, excerpt, external_id)

    try:
        req = _build(hook, alert, external_id)
    except Invalid as e:
        return failed(e.message)
    except Exception as e:  # an alert whose detail cannot be serialised, say
        return failed(f"could not build the {hook.kind} payload: {e}")
    try:
        target = await asyncio.wait_for(asyncio.to_thread(_check, req.url, allow), timeout)
    except Invalid as e:
        return failed(e.message)
    except TimeoutError:
        return failed(f"resolving the webhook host took longer than {timeout:g} s")

    own_client = client is None
    if client is None:
        client = httpx.AsyncClient(follow_redirects=False)
    # Connect to the addresses just checked, not to whatever DNS answers next. Not through a proxy (the proxy
    # resolves, and an HTTPS tunnel would check the certificate against the address) nor on a caller's client.
    routes = _routes(target, pin=own_client and not _proxy_configured())
    attempts = 0
    status: int | None
    excerpt: str | None
    try:
        while True:
            attempts += 1
            retryable, wait = False, None
            status, excerpt = None, None  # what the last attempt got
            try:
                outcome = await asyncio.wait_for(_attempt(client, req, routes, timeout), timeout)
            except TimeoutError:
                error, retryable = f"the webhook did not answer within {timeout:g} s", True
            except httpx.TimeoutException:
                error, retryable = f"the webhook did not answer within {timeout:g} s", True
            except httpx.TransportError as e:
                error, retryable = f"could not reach the webhook: {type(e).__name__}: {e}".rstrip(": "), True
            except Exception as e:  # never raise for a delivery failure
                error = f"delivery failed: {type(e).__name__}: {e}"
            else:
                response, text = outcome
                status, excerpt = response.status_code, (text[:_EXCERPT_CHARS] or None)
                if response.is_success:
                    key = external_id
                    if req.wants_issue_key:
                        try:
                            key = json.loads(text).get("key") or None
                        except (ValueError, AttributeError):
                            key = None
                    return Delivery(hook.id, True, status, attempts, None, excerpt, key)
                reason = f"{status} {response.reason_phrase}".strip()
                if response.is_redirect or 300 <= status < 400:
                    where = response.headers.get("Location")
                    to = f" to {where}" if where else ""
                    error = f"the webhook answered {reason}, redirecting{to}; redirects are not followed"
                else:
                    error = f"the webhook answered {reason}"
                    retryable = status == 429 or status >= 500
                    wait = _retry_after(response) if status in (429, 503) else None
            if not retryable or attempts > retries:
                return failed(error, attempts, status, excerpt)
            delay = backoff * 2 ** (attempts - 1)
            await asyncio.sleep(max(delay, wait or 0.0))
    finally:
        if own_client:
            await client.aclose()


async def _attempt(
    client: httpx.AsyncClient, req: _Request, routes: list[tuple[str, dict[str, str], dict[str, Any]]],
    timeout: float,
) -> tuple[httpx.Response, str]:
    headers = dict(req.headers)
    if req.stamped:
        ts = str(int(time.time()))
        headers["X-MLP-Timestamp"] = ts
        if req.signed:
            headers["X-MLP-Signature"] = sign(req.signed, ts, req.body)
    last: httpx.ConnectError | None = None
    for url, extra, extensions in routes:
        try:
            async with client.stream(
                "POST", url, content=req.body, headers={**headers, **extra}, auth=req.auth,
                follow_redirects=False, timeout=timeout, extensions=extensions,
            ) as response:
                data = await _read_limited(response)
                return response, _decode(data, response)
        except httpx.ConnectError as e:  # try the host's next checked address
            last = e
    assert last is not None
    raise last
