"""Alert delivery to webhooks: URL checks against SSRF, Slack/Jira/generic payloads, and delivery to a real local
HTTP server that records what it receives (retries, no redirects, HMAC signatures, Jira issue + resolve comment)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from jupyter_mlp_backend.errors import Invalid
from jupyter_mlp_backend.monitoring.webhooks import (
    KINDS,
    Alert,
    Hook,
    check_url,
    deliver,
    generic_payload,
    jira_payload,
    sign,
    slack_payload,
)

LOCAL = ["127.0.0.1"]
FAST = {"backoff": 0.01, "timeout": 5}


def _alert(**over) -> Alert:
    alert = Alert(
        id=42, project="acme", deployment="churn-prod", monitor="feature-drift", kind="drift", key="drift:f3",
        state="firing", severity="critical", title="Feature f3 drifted (PSI 0.41 > 0.25)",
        detail={"psi": 0.41, "threshold": 0.25, "window": {"from": "2025-01-01T00:00:00Z", "rows": 5000}},
        started_at="2025-01-02T03:04:05+00:00", resolved_at=None,
        url="https://mlp.example.com/lab?panel=monitoring&d=7",
    )
    return replace(alert, **over)


def _resolved(**over) -> Alert:
    return _alert(state="resolved", resolved_at="2025-01-02T05:00:00+00:00", **over)


# --------------------------------------------------------------------------------------------------------------
# A real HTTP receiver


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


Answer = tuple[int, object, dict[str, str]]


@dataclass
class Receiver:
    base: str
    port: int
    requests: list[Received] = field(default_factory=list)
    # Decides each answer from the request and the requests so far; by default 200 "ok".
    respond: Callable[[Received, list[Received]], Answer] = lambda req, seen: (200, "ok", {})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that gave up (timeout tests) is expected
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self):  # noqa: ANN202
            length = int(self.headers.get("Content-Length") or 0)
            req = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                           self.rfile.read(length))
            with lock:
                state.requests.append(req)
                seen = list(state.requests)
            status, body, headers = state.respond(req, seen)
            if isinstance(body, bytes):
                data = body
            else:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET = do_PUT = _handle  # noqa: N815

        def log_message(self, *args):  # noqa: ANN002
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    state = Receiver(base=f"http://127.0.0.1:{port}", port=port)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _run(coro):
    return asyncio.run(coro)


# --------------------------------------------------------------------------------------------------------------
# URL checks


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1/hook", "host '127.0.0.1' is a loopback address"),
        ("http://127.8.9.10:9000/", "a loopback address"),
        ("http://10.1.2.3/", "host '10.1.2.3' is a private address"),
        ("http://172.16.0.5/", "a private address"),
        ("http://192.168.1.1:8080/x", "a private address"),
        ("http://169.254.169.254/latest/meta-data/", "the cloud metadata address"),
        ("http://[::1]:8080/", "host '::1' is a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "an IPv4-mapped form of 127.0.0.1, a loopback address"),
        ("http://[::ffff:192.168.0.1]/", "an IPv4-mapped form of 192.168.0.1, a private address"),
        ("http://[fe80::1]/", "a link-local address"),
        ("http://[fd00::5]/", "a private address"),
        ("http://0.0.0.0:8888/", "the unspecified address"),
        ("http://[::]/", "the unspecified address"),
        ("http://100.64.3.4/", "a carrier-grade NAT (shared) address"),
        ("http://224.0.0.1/", "a multicast address"),
        ("http://240.0.0.1/", "a reserved address"),
        ("http://localhost:8000/hook", "host 'localhost' resolves to 127.0.0.1, a loopback address"),
        ("http://2130706433/", "resolves to 127.0.0.1, a loopback address"),  # 127.0.0.1 as one decimal number
    ],
)
def test_non_public_destinations_are_refused_naming_the_address(url, says):
    with pytest.raises(Invalid) as err:
        check_url(url, [])
    assert says in err.value.message
    assert "MLP_WEBHOOK_ALLOW_HOSTS" in err.value.message
    assert err.value.status == 422


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://localhost:8000/hook", ["localhost"]),
        ("http://LOCALHOST/hook", ["localhost."]),
        ("http://localhost:8000/hook", ["127.0.0.1"]),  # every address it resolves to is allowed
        ("http://localhost:8000/hook", ["127.0.0.0/8"]),
        ("http://127.0.0.1:9/", ["127.0.0.1"]),
        ("http://10.1.2.3/", ["10.0.0.0/8"]),
        ("http://172.16.9.9/", [" 172.16.0.0/12 ", ""]),
        ("http://[::1]/", ["::1"]),
        ("http://[::ffff:127.0.0.1]/", ["127.0.0.0/8"]),
        ("http://169.254.169.254/", ["169.254.169.254"]),
    ],
)
def test_allow_entries_let_listed_hosts_addresses_and_networks_through(url, allow):
    check_url(url, allow)


def test_allow_entries_only_cover_what_they_list():
    for url, allow in [("http://10.1.2.3/", ["10.2.0.0/16"]), ("http://localhost/", ["hooks.internal"]),
                       ("http://192.168.1.1/", ["192.168.1.2"])]:
        with pytest.raises(Invalid):
            check_url(url, allow)


def test_public_addresses_pass_without_allow_entries():
    check_url("https://93.184.215.14/services/T000/B000/XXXX", [])
    check_url("https://[2606:4700:4700::1111]:8443/hook", [])
    check_url("http://8.8.8.8/", [])


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://8.8.8.8/hook", "scheme is 'ftp'; only http and https are allowed"),
        ("file:///etc/passwd", "scheme is 'file'"),
        ("javascript:alert(1)", "scheme is 'javascript'"),
        ("8.8.8.8/hook", "scheme is none"),
        ("http://user:secret@8.8.8.8/hook", "must not contain a user name or password"),
        ("https://token@8.8.8.8/", "must not contain a user name or password"),
        ("http:///hook", "has no host"),
        ("http://", "has no host"),
        ("", "is empty"),
        ("http://8.8.8.8/" + "a" * 2000, "at most 2000 are allowed"),
        ("http://8.8.8.8:99999/", "is malformed"),
        ("http://8.8.8.8/a b", "spaces or control characters"),
        ("http://no-such-host.invalid/hook", "host 'no-such-host.invalid' could not be resolved"),
    ],
)
def test_malformed_or_unresolvable_urls_are_refused(url, says):
    with pytest.raises(Invalid) as err:
        check_url(url, ["0.0.0.0/0", "::/0"])  # allowing every address shows these fail for their own reason
    assert says in err.value.message


# --------------------------------------------------------------------------------------------------------------
# Payloads


def test_slack_payload_has_fallback_text_and_blocks_and_says_when_resolved():
    firing = slack_payload(_alert())
    assert "[FIRING]" in firing["text"] and "Feature f3 drifted" in firing["text"]
    assert [b["type"] for b in firing["blocks"]] == ["header", "section", "section", "context"]
    header, facts, detail, context = firing["blocks"]
    assert header["text"]["type"] == "plain_text" and len(header["text"]["text"]) <= 150
    texts = [f["text"] for f in facts["fields"]]
    assert "*Project*\nacme" in texts and "*Severity*\ncritical" in texts and len(texts) <= 10
    assert "0.41" in detail["text"]["text"]
    # Slack's control characters are escaped, also in the link to the dashboard.
    assert "<https://mlp.example.com/lab?panel=monitoring&amp;d=7|Open dashboard>" in context["elements"][0]["text"]

    resolved = slack_payload(_resolved(title="x < y & z"))
    assert "[RESOLVED]" in resolved["text"] and "resolved at 2025-01-02T05:00:00+00:00" in resolved["text"]
    assert "x &lt; y &amp; z" in resolved["text"]
    assert "[RESOLVED]" in resolved["blocks"][0]["text"]["text"]
    assert any(f["text"].startswith("*Resolved*") for f in resolved["blocks"][1]["fields"])
    no_link = slack_payload(_alert(url=None, detail={}))
    assert [b["type"] for b in no_link["blocks"]] == ["header", "section", "context"]
    assert "Open dashboard" not in json.dumps(no_link)


def test_jira_payload_fields():
    body = jira_payload(_alert(), "OPS", "Task")
    fields = body["fields"]
    assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Task"}
    assert fields["labels"] == ["jupyter-mlp", "drift"]
    assert "Feature f3 drifted" in fields["summary"] and "\n" not in fields["summary"]
    assert len(fields["summary"]) <= 255
    assert '"psi": 0.41' in fields["description"] and "Deployment: churn-prod" in fields["description"]
    assert jira_payload(_alert(title="t" * 400), "OPS")["fields"]["issuetype"] == {"name": "Bug"}
    assert len(jira_payload(_alert(title="t" * 400), "OPS")["fields"]["summary"]) == 255


def test_generic_payload_and_signature():
    body = generic_payload(_alert())
    assert body["event"] == "alert.firing" and body["alert"]["key"] == "drift:f3"
    assert body["alert"]["detail"]["window"]["rows"] == 5000 and body["sent_at"].endswith("+00:00")
    assert generic_payload(_resolved())["event"] == "alert.resolved"
    expected = hmac.new(b"s3cret", b"1700000000." + b'{"a":1}', hashlib.sha256).hexdigest()
    assert sign("s3cret", "1700000000", b'{"a":1}') == "sha256=" + expected
    assert set(KINDS) == {"slack", "jira", "generic"}


# --------------------------------------------------------------------------------------------------------------
# Delivery


def test_slack_delivery_is_received_with_text_and_blocks(receiver):
    hook = Hook(id=1, kind="slack", url=f"{receiver.base}/services/T1/B2/abc")
    d = _run(deliver(hook, _alert(), LOCAL, **FAST))
    assert d.ok and d.status_code == 200 and d.attempts == 1 and d.error is None and d.response_excerpt == "ok"
    (req,) = receiver.requests
    assert req.method == "POST" and req.path == "/services/T1/B2/abc"
    assert req.headers["content-type"] == "application/json"
    body = req.json()
    assert "[FIRING]" in body["text"] and body["blocks"][0]["type"] == "header"

    d = _run(deliver(hook, _resolved(), LOCAL, **FAST))
    assert d.ok and "[RESOLVED]" in receiver.requests[-1].json()["text"]


def test_a_host_allowed_by_name_is_reached_at_its_checked_address_with_its_own_host_header(receiver):
    hook = Hook(id=1, kind="slack", url=f"http://localhost:{receiver.port}/hook")
    d = _run(deliver(hook, _alert(), ["localhost"], **FAST))
    assert d.ok, d.error
    assert receiver.requests[0].headers["host"] == f"localhost:{receiver.port}"


def test_refused_url_makes_no_request(receiver):
    hook = Hook(id=3, kind="generic", url=f"{receiver.base}/hook", secret="s")
    d = _run(deliver(hook, _alert(), [], **FAST))
    assert not d.ok and d.attempts == 0 and d.status_code is None
    assert "127.0.0.1' is a loopback address" in d.error
    assert receiver.requests == []


def test_jira_issue_is_created_with_basic_auth_and_resolved_by_a_comment(receiver):
    auth = "Basic " + base64.b64encode(b"bot@acme.example:api-token").decode()

    def jira(req: Received, seen):
        if req.headers.get("authorization") != auth:
            return 401, {"errorMessages": ["You are not authenticated."]}, {"Content-Type": "application/json"}
        if req.path == "/jira/rest/api/2/issue":
            return 201, {"id": "10007", "key": "OPS-7", "self": "..."}, {"Content-Type": "application/json"}
        if req.path == "/jira/rest/api/2/issue/OPS-7/comment":
            return 201, {"id": "10100"}, {"Content-Type": "application/json"}
        return 404, "no such route", {}

    receiver.respond = jira
    hook = Hook(id=7, kind="jira", url=f"{receiver.base}/jira/", secret="bot@acme.example:api-token",
                jira_project="OPS", jira_issue_type="Incident")
    created = _run(deliver(hook, _alert(), LOCAL, **FAST))
    assert created.ok and created.status_code == 201 and created.external_id == "OPS-7", created
    fields = receiver.requests[0].json()["fields"]
    assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Incident"}
    assert fields["labels"] == ["jupyter-mlp", "drift"] and '"threshold": 0.25' in fields["description"]

    done = _run(deliver(hook, _resolved(), LOCAL, external_id=created.external_id, **FAST))
    assert done.ok and done.status_code == 201 and done.external_id == "OPS-7"
    comment = receiver.requests[1]
    assert comment.path == "/jira/rest/api/2/issue/OPS-7/comment"
    assert comment.json()["body"].startswith("Resolved at 2025-01-02T05:00:00+00:00")

    # Without the firing alert's issue there is nothing to comment on; nothing is sent.
    orphan = _run(deliver(hook, _resolved(), LOCAL, **FAST))
    assert not orphan.ok and orphan.attempts == 0 and "no Jira issue" in orphan.error
    # Wrong credentials: a 401 is final.
    wrong = _run(deliver(replace(hook, secret="bot@acme.example:nope"), _alert(), LOCAL, **FAST))
    assert not wrong.ok and wrong.status_code == 401 and wrong.attempts == 1 and wrong.external_id is None
    assert "not authenticated" in wrong.response_excerpt
    assert len(receiver.requests) == 3
    # A Jira hook needs a project key.
    assert "no project key" in _run(deliver(replace(hook, jira_project=None), _alert(), LOCAL, **FAST)).error


def test_generic_delivery_is_signed_and_the_receiver_verifies_it(receiver):
    secret = "whsec-0123456789"

    def verified(req: Received) -> bool:
        expected = hmac.new(secret.encode(), req.headers["x-mlp-timestamp"].encode() + b"." + req.body,
                            hashlib.sha256).hexdigest()
        return hmac.compare_digest("sha256=" + expected, req.headers.get("x-mlp-signature", ""))

    receiver.respond = lambda req, seen: (204, b"", {}) if verified(req) else (401, "bad signature", {})
    hook = Hook(id=9, kind="generic", url=f"{receiver.base}/mlp-events", secret=secret)
    d = _run(deliver(hook, _alert(), LOCAL, **FAST))
    assert d.ok and d.status_code == 204 and d.response_excerpt is None, d
    (req,) = receiver.requests
    assert req.headers["x-mlp-event"] == "alert.firing"
    assert len(req.headers["x-mlp-delivery"]) == 36
    assert abs(int(req.headers["x-mlp-timestamp"]) - time.time()) < 60
    body = req.json()
    assert body["event"] == "alert.firing" and body["alert"]["id"] == 42 and body["alert"]["detail"]["psi"] == 0.41
    # A body changed in transit (or a different secret) no longer verifies.
    assert not verified(replace(req, body=req.body.replace(b"0.41", b"0.01")))
    assert not verified(replace(req, headers={**req.headers, "x-mlp-timestamp": "1"}))
    wrong = _run(deliver(replace(hook, secret="other"), _alert(), LOCAL, **FAST))
    assert not wrong.ok and wrong.status_code == 401 and wrong.attempts == 1

    # Without a secret: the same headers, no signature.
    _run(deliver(replace(hook, secret=None), _resolved(), LOCAL, **FAST))
    last = receiver.requests[-1]
    assert "x-mlp-signature" not in last.headers and last.headers["x-mlp-event"] == "alert.resolved"


def test_5xx_is_retried_with_backoff_until_it_succeeds(receiver):
    receiver.respond = lambda req, seen: (500, "upstream down", {}) if len(seen) < 3 else (200, "ok", {})
    hook = Hook(id=2, kind="generic", url=f"{receiver.base}/hook", secret="s")
    d = _run(deliver(hook, _alert(), LOCAL, retries=3, backoff=0.01))
    assert d.ok and d.attempts == 3 and d.status_code == 200
    assert len(receiver.requests) == 3
    assert len({r.headers["x-mlp-delivery"] for r in receiver.requests}) == 1  # one delivery, three attempts


def test_retries_give_up_and_429_is_retried(receiver):
    receiver.respond = lambda req, seen: (503, "busy", {"Retry-After": "0"})
    hook = Hook(id=2, kind="slack", url=f"{receiver.base}/hook")
    d = _run(deliver(hook, _alert(), LOCAL, retries=2, backoff=0.01))
    assert not d.ok and d.attempts == 3 and d.status_code == 503 and d.response_excerpt == "busy"
    assert d.error == "the webhook answered 503 Service Unavailable"

    receiver.requests.clear()
    receiver.respond = lambda req, seen: (429, "slow down", {}) if len(seen) == 1 else (200, "ok", {})
    d = _run(deliver(hook, _alert(), LOCAL, retries=2, backoff=0.01))
    assert d.ok and d.attempts == 2


def test_4xx_is_not_retried(receiver):
    receiver.respond = lambda req, seen: (400, "invalid_payload", {})
    hook = Hook(id=2, kind="slack", url=f"{receiver.base}/hook")
    d = _run(deliver(hook, _alert(), LOCAL, retries=3, backoff=0.01))
    assert not d.ok and d.attempts == 1 and d.status_code == 400
    assert d.error == "the webhook answered 400 Bad Request" and d.response_excerpt == "invalid_payload"
    assert len(receiver.requests) == 1


def test_redirects_are_not_followed(receiver):
    receiver.respond = lambda req, seen: (302, "", {"Location": f"{receiver.base}/elsewhere"})
    hook = Hook(id=2, kind="slack", url=f"{receiver.base}/hook")
    d = _run(deliver(hook, _alert(), LOCAL, **FAST))
    assert not d.ok and d.status_code == 302 and d.attempts == 1
    assert "redirects are not followed" in d.error and "/elsewhere" in d.error
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_connection_errors_and_timeouts_are_retried_and_reported():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hook = Hook(id=5, kind="slack", url=f"http://127.0.0.1:{port}/hook")
    d = _run(deliver(hook, _alert(), LOCAL, retries=2, backoff=0.01))
    assert not d.ok and d.attempts == 3 and d.status_code is None
    assert d.error.startswith("could not reach the webhook: ConnectError")


def test_a_slow_webhook_times_out(receiver):
    def slow(req, seen):
        time.sleep(1.0)
        return 200, "late", {}

    receiver.respond = slow
    hook = Hook(id=5, kind="slack", url=f"{receiver.base}/hook")
    started = time.monotonic()
    d = _run(deliver(hook, _alert(), LOCAL, timeout=0.2, retries=1, backoff=0.01))
    assert not d.ok and d.attempts == 2 and d.error == "the webhook did not answer within 0.2 s"
    assert time.monotonic() - started < 0.9


def test_a_callers_client_is_used_and_unknown_kinds_fail_plainly(receiver):
    async def go():
        async with httpx.AsyncClient() as client:
            ok = await deliver(Hook(1, "slack", f"{receiver.base}/a"), _alert(), LOCAL, client=client, **FAST)
            bad = await deliver(Hook(1, "teams", f"{receiver.base}/b"), _alert(), LOCAL, client=client, **FAST)
            return ok, bad

    ok, bad = _run(go())
    assert ok.ok and not bad.ok and bad.attempts == 0
    assert bad.error == "unknown webhook kind 'teams'; expected one of slack, jira, generic"
    assert [r.path for r in receiver.requests] == ["/a"]


def test_delivery_connects_to_the_address_it_checked_even_if_dns_changes(receiver, monkeypatch):
    # "rebind.test" answers 127.0.0.1 (allowed) once, then nothing: a client resolving again would fail (or, with a
    # hostile DNS server, land elsewhere). The delivery must use the address it checked.
    real = socket.getaddrinfo
    answers = iter([[(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", receiver.port))]])

    def getaddrinfo(host, *args, **kwargs):
        if host in ("rebind.test", b"rebind.test"):
            try:
                return next(answers)
            except StopIteration:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    hook = Hook(id=1, kind="slack", url=f"http://rebind.test:{receiver.port}/hook")
    d = _run(deliver(hook, _alert(), LOCAL, retries=0, **FAST))
    assert d.ok, d.error
    assert receiver.requests[0].headers["host"] == f"rebind.test:{receiver.port}"
