"""Identity and isolation: every route needs a valid token; another project's ids look like missing ones."""

from __future__ import annotations

import time

import pytest
from jupyter_mlp.identity import mint_token, read_secret


def _routes(app):
    """Every operation the app registers, read from its OpenAPI document rather than listed by hand."""
    for path, ops in app.openapi()["paths"].items():
        if path == "/api/health":
            continue
        for method in ops:
            yield method.upper(), path.replace("{slug}", "acme").replace("{user}", "sam")


def test_every_route_refuses_missing_forged_and_expired_tokens(api, acme):
    routes = list(_routes(api.client.app))
    assert len(routes) >= 8  # the enumeration found the API, not an empty list
    secret = read_secret(api.settings.secret_path)
    bad = {
        "missing": None,
        "garbage": "Bearer not-a-token",
        "wrong scheme": f"Basic {mint_token(secret, 'admin')}",
        "forged": f"Bearer {mint_token(b'x' * 64, 'admin')}",
        "expired": f"Bearer {mint_token(secret, 'admin', ttl_seconds=5, now=time.time() - 60)}",
    }
    for method, path in routes:
        for what, header in bad.items():
            headers = {"Authorization": header} if header else {}
            r = api.client.request(method, path, headers=headers, json={"role": "viewer"})
            assert r.status_code == 401, f"{method} {path} with {what} token gave {r.status_code}"
            assert r.json()["error"]["code"] == "unauthenticated"


def test_other_projects_look_missing(api, acme, globex):
    gus = api.as_user("gus")  # lead of globex, nothing in acme
    for method, path, body in [
        ("GET", "/projects/acme", None),
        ("GET", "/projects/acme/members", None),
        ("PUT", "/projects/acme/members/gus", {"role": "lead"}),
        ("DELETE", "/projects/acme/members/sam", None),
        ("GET", "/projects/acme/audit", None),
        # mutual TLS per project (issue 20 item 2): a lead of another project sees nothing and changes nothing
        ("GET", "/projects/acme/serving/tls", None),
        ("PUT", "/projects/acme/serving/tls", {"require_client_cert": False}),
        ("POST", "/projects/acme/serving/tls/certificates", {"certificate_pem": "x", "key_prefix": "mlpk_abc"}),
        ("DELETE", "/projects/acme/serving/tls/certificates/" + "0" * 64, None),
    ]:
        theirs = gus.request(method, path, json=body)
        missing = gus.request(method, path.replace("acme", "no-such-project"), json=body)
        assert theirs.status_code == missing.status_code == 404, path
        assert theirs.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
        # Same words too, but for the slug itself.
        assert theirs.json()["error"]["message"].replace("acme", "X") == missing.json()["error"]["message"].replace(
            "no-such-project", "X")
    assert [m["user"] for m in api.as_user("admin").get("/projects/acme/members").json()["items"]].count("gus") == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-User": "admin"},
        {"X-MLP-User": "admin"},
        {"X-Remote-User": "admin"},
        {"Remote-User": "admin"},
    ],
)
def test_identity_headers_are_ignored(api, acme, headers):
    vic = api.as_user("vic")
    vic.headers.update(headers)
    assert vic.get("/whoami").json()["user"] == "vic"
    assert vic.post("/projects", json={"slug": "evil", "name": "x"}).status_code == 403
    assert vic.put("/projects/acme/members/vic", json={"role": "lead"}).status_code == 403


def test_user_in_body_or_query_is_ignored(api, acme):
    vic = api.as_user("vic")
    assert vic.get("/whoami", params={"user": "admin"}).json()["user"] == "vic"
    r = vic.post("/projects", json={"slug": "evil", "name": "x", "created_by": "admin"})
    assert r.status_code in (403, 422)
    assert api.as_user("admin").get("/projects/evil").status_code == 404


def test_health_says_nothing_about_data(api, acme):
    r = api.client.get("/api/health")
    assert r.status_code == 200
    assert set(r.json()) == {"status", "version"}
