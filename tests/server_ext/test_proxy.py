"""The proxy: `/mlp/api/*` reaches the backend as the server's user, errors pass through as JSON."""

from __future__ import annotations

import getpass
import json

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mlp.local_backend import find_running
from jupyter_mlp.settings import load_settings


async def _json(jp_fetch, *parts, method="GET", body=None, headers=None, params=None):
    kwargs = {"method": method, "params": params or {}, "headers": dict(headers or {})}
    if body is not None:
        kwargs["body"] = json.dumps(body)
        kwargs["headers"]["Content-Type"] = "application/json"
    try:
        r = await jp_fetch(*parts, **kwargs)
    except HTTPClientError as e:
        if e.response is None:  # a timeout or a dropped connection: no HTTP answer to read
            raise
        return e.code, json.loads(e.response.body) if e.response.body else None
    return r.code, json.loads(r.body) if r.body else None


async def test_whoami_is_the_servers_user_and_admin(jp_fetch):
    code, me = await _json(jp_fetch, "mlp", "api", "whoami")
    assert code == 200
    assert me["user"] == getpass.getuser() and me["is_admin"] is True and me["auth_mode"] == "standalone"


async def test_create_list_and_members_through_the_proxy(jp_fetch):
    code, p = await _json(jp_fetch, "mlp", "api", "projects", method="POST", body={"slug": "acme", "name": "Acme"})
    assert code == 201 and p["slug"] == "acme"
    code, _ = await _json(jp_fetch, "mlp", "api", "projects", "acme", "members", "bob", method="PUT",
                          body={"role": "scientist"})
    assert code == 200
    code, page = await _json(jp_fetch, "mlp", "api", "projects", "acme", "members", params={"limit": 1})
    assert code == 200 and page["total"] == 2 and len(page["items"]) == 1  # the query string travelled
    code, _ = await _json(jp_fetch, "mlp", "api", "projects", "acme", "members", "bob", method="DELETE")
    assert code == 204


async def test_backend_errors_pass_through_as_json(jp_fetch):
    code, err = await _json(jp_fetch, "mlp", "api", "projects", "nope")
    assert code == 404 and err["error"]["code"] == "not_found"
    code, err = await _json(jp_fetch, "mlp", "api", "projects", method="POST", body={"slug": "BAD", "name": "x"})
    assert code == 422 and err["error"]["detail"][0]["field"] == "slug"


async def test_identity_headers_from_the_client_are_not_forwarded(jp_fetch):
    code, me = await _json(jp_fetch, "mlp", "api", "whoami",
                           headers={"X-Forwarded-User": "mallory", "X-MLP-User": "mallory"})
    assert code == 200 and me["user"] == getpass.getuser()


@pytest.mark.parametrize("path", ["%2e%2e/openapi.json", "projects/%2e%2e/%2e%2e/openapi.json"])
async def test_dot_segments_are_refused(jp_fetch, path):
    code, err = await _json(jp_fetch, "mlp", "api", path)
    assert code in (400, 404)
    assert "error" in err and "openapi" not in json.dumps(err)


async def test_extension_started_a_backend_under_mlp_home(jp_fetch, mlp_home):
    await _json(jp_fetch, "mlp", "api", "whoami")
    assert find_running(load_settings()) is not None
    assert (mlp_home / "secret.key").exists() and (mlp_home / "mlp.db").exists()
