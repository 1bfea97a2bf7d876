"""Every integer the API accepts is bounded in its OpenAPI document, and one beyond 64 bits is a 422, never a 500
(SQLite and PostgreSQL cannot bind it: the request used to crash with OverflowError)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

BIG = 2**64  # one past what any database integer holds
SCHEDULER_ONLY = {"/api/pipeline-schedules/{schedule_id}/ticks"}  # only Dagster's scheduler token opens it


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def unbounded_integers(doc: dict[str, Any]) -> list[str]:
    """Where the API takes an integer (parameter or request body field) without both a minimum and a maximum."""
    found: list[str] = []

    def walk(schema: dict[str, Any], where: str, seen: frozenset[str]) -> None:
        if "$ref" in schema:
            name = schema["$ref"].split("/")[-1]
            if name not in seen:
                walk(_resolve(doc, schema), f"{where} ({name})", seen | {name})
            return
        if schema.get("type") == "integer" and not ("minimum" in schema and "maximum" in schema):
            found.append(where)
        for key, value in schema.get("properties", {}).items():
            walk(value, f"{where}.{key}", seen)
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                walk(schema[key], f"{where}[]", seen)
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in schema.get(key, []):
                walk(sub, where, seen)

    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                walk(p.get("schema", {}), f"{method.upper()} {path} {p['in']} {p['name']}", frozenset())
            for content in op.get("requestBody", {}).get("content", {}).values():
                walk(content.get("schema", {}), f"{method.upper()} {path} body", frozenset())
    return found


def test_every_integer_the_api_takes_is_bounded(api):
    assert unbounded_integers(api.client.app.openapi()) == []


def test_integers_beyond_64_bits_are_refused_not_crashed(api, acme):
    client = TestClient(api.client.app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {api.token('admin')}"
    doc = api.client.app.openapi()
    tried = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            params = op.get("parameters", [])
            for p in params:
                if "integer" not in str(p.get("schema")):
                    continue
                url = path
                for other in params:
                    if other["in"] == "path":
                        value = BIG if other is p else ("acme" if other["name"] == "slug" else "1")
                        url = url.replace("{" + other["name"] + "}", str(value))
                query = {p["name"]: str(BIG)} if p["in"] == "query" else {}
                r = client.request(method.upper(), url, params=query, json={})
                tried.append(f"{method.upper()} {path} {p['name']}")
                if path in SCHEDULER_ONLY:  # refused for the user's token first, as it should be
                    assert r.status_code == 401, f"{method.upper()} {url} gave {r.status_code}: {r.text[:300]}"
                    continue
                assert r.status_code == 422, f"{method.upper()} {url} {query} gave {r.status_code}: {r.text[:300]}"
                assert r.json()["error"]["code"] == "validation_error"
                assert p["name"] in r.json()["error"]["message"]
    assert len(tried) >= 40  # the walk found the API's integers, not an empty list


def test_the_largest_accepted_integers_are_answered(api, acme):
    """The largest value the schema accepts reaches the database and comes back as an ordinary answer: paging takes
    64 bits, ids and versions what their 32-bit INTEGER columns hold (PostgreSQL refused 2**63 - 1 with "integer
    out of range"); one more is a 422."""
    admin = api.as_user("admin")
    assert admin.get("/projects", params={"offset": 2**63 - 1, "limit": 2**63 - 1}).json()["items"] == []
    assert admin.get("/projects/acme/audit", params={"offset": 2**63 - 1}).status_code == 200
    top = 2**31 - 1
    assert admin.get(f"/projects/acme/models/churn/versions/{top + 1}").status_code == 422
    assert admin.post(f"/projects/acme/gate-decisions/{top}/approve", json={"reason": "x"}).status_code == 404
    assert admin.get(f"/projects/acme/models/churn/versions/{top}").status_code == 404
    assert admin.delete(f"/projects/acme/webhooks/{top}").status_code == 404
    assert admin.delete(f"/projects/acme/pipeline-schedules/{top}").status_code == 404
