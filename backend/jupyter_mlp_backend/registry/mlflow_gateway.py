"""MLflow's model-registry endpoints through the gateway, so unchanged clients (`mlflow.register_model`,
`MlflowClient().get_model_version_by_alias`, `mlflow.pyfunc.load_model("models:/churn@champion")`) work.

Names are the project's own (`churn`); inside MLflow they carry the project's prefix, which clients never see.
Reads are scoped to the project by that prefix. A version created by a client goes through the platform's
registration (files hashed, lineage digests, signed manifest), never straight into MLflow. The download URI of a
version is given only after its files are verified against the signed manifest. `staging` and `champion` move only
through the gates: alias calls are refused with the command that asks the gates.
"""

from __future__ import annotations

import json
import re
import shutil
from contextlib import contextmanager
from typing import Any

from fastapi import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ..access import Action
from ..errors import MLPError
from ..experiments import gateway
from ..experiments.gateway import API, Call
from ..experiments.service import forward as _forward
from ..experiments.service import load as _load
from ..experiments.service import replace as _replace
from ..experiments.mlflow_errors import GatewayError, not_found
from ..orm import ModelVersion, RegisteredModel
from . import service
from .service import ALIASES, MODEL_NAME

_NAME_TERM = re.compile(r"""(?<![\w.`"'])name\s*(=|!=|LIKE|ILIKE)\s*(['"])(.*?)\2""", re.IGNORECASE)
_NAME_WORD = re.compile(r"""(?<![\w.`"'])name\b""", re.IGNORECASE)
_ARTIFACTS = re.compile(r"^mlflow-artifacts:/+[^/]+/([0-9a-f]{32})/artifacts/(.+)$")


def _prefix(call: Call) -> str:
    return service.mlflow_model_name(call.exp.settings, call.slug, "")


def _stored(call: Call, name: Any, *, reading: bool = True) -> str:
    """The MLflow name of one of the project's models; a name that cannot be one reads as missing."""
    if not isinstance(name, str) or not MODEL_NAME.match(name):
        if reading:
            raise not_found(f"Registered model '{name}'")
        raise GatewayError("INVALID_PARAMETER_VALUE", f"Model name '{name}' is not valid: lowercase letters, "
                           "digits, '-' and '_', 1-63 characters, starting with a letter or digit")
    return _prefix(call) + name


def _unprefix(call: Call, value: Any) -> Any:
    """The project's names in MLflow's answer, recursively (registered models, versions, latest versions)."""
    prefix = _prefix(call)
    if isinstance(value, list):
        return [_unprefix(call, v) for v in value]
    if isinstance(value, dict):
        out = {k: _unprefix(call, v) for k, v in value.items()}
        if isinstance(out.get("name"), str) and out["name"].startswith(prefix):
            out["name"] = out["name"][len(prefix):]
        return out
    return value


def _answer(call: Call, resp: Response) -> Response:
    if resp.status_code != 200:
        return resp
    return _replace(resp, _unprefix(call, _load(resp)))


def _scoped_filter(call: Call, text: str | None) -> str:
    """The client's filter with its names in the project's namespace, and only the project's models."""
    text = (text or "").strip()
    terms = _NAME_TERM.findall(text)
    if len(terms) != len(_NAME_WORD.findall(text)):
        raise GatewayError("INVALID_PARAMETER_VALUE", "Filter model names with =, !=, LIKE or ILIKE and a quoted value")
    prefix = _prefix(call)
    scoped = _NAME_TERM.sub(lambda m: f"name {m.group(1)} '{prefix}{m.group(3)}'", text)
    if not any(op == "=" for op, _, _ in terms):
        scoped = f"name LIKE '{prefix}%'" + (f" AND {scoped}" if scoped else "")
    return scoped


@contextmanager
def _as_mlflow_errors():
    """The registry's errors in MLflow's error format, so the client raises them as it would MLflow's."""
    codes = {404: "RESOURCE_DOES_NOT_EXIST", 403: "PERMISSION_DENIED", 401: "UNAUTHENTICATED",
             503: "TEMPORARILY_UNAVAILABLE", 409: "INVALID_STATE"}
    try:
        yield
    except MLPError as e:
        raise GatewayError(codes.get(e.status, "INVALID_PARAMETER_VALUE"), e.message, e.status) from e


# ---- reads ------------------------------------------------------------------------------------------------------

def _query(call: Call, **replace: str) -> list[tuple[str, str]]:
    items = [(k, v) for k, v in call.request.query_params.multi_items() if k not in replace]
    items += list(replace.items())
    return items


async def registered_model_get(call: Call) -> Response:
    name = _stored(call, call.request.query_params.get("name"))
    return _answer(call, await _forward(call, "GET", f"{API}/registered-models/get", params={"name": name}))


async def model_version_get(call: Call) -> Response:
    q = call.request.query_params
    name = _stored(call, q.get("name"))
    return _answer(call, await _forward(call, "GET", f"{API}/model-versions/get",
                                        params={"name": name, "version": q.get("version", "")}))


async def alias_get(call: Call) -> Response:
    q = call.request.query_params
    name = _stored(call, q.get("name"))
    return _answer(call, await _forward(call, "GET", f"{API}/registered-models/alias",
                                        params={"name": name, "alias": q.get("alias", "")}))


async def latest_versions(call: Call) -> Response:
    name = _stored(call, call.body.get("name") or call.request.query_params.get("name"))
    body = {"name": name, "stages": call.body.get("stages") or call.request.query_params.getlist("stages")}
    return _answer(call, await _forward(call, "POST", f"{API}/registered-models/get-latest-versions", body=body))


def _search(path: str, key: str):
    async def handler(call: Call) -> Response:
        src = call.body if call.request.method == "POST" else dict(call.request.query_params)
        params = _query(call, filter=_scoped_filter(call, src.get("filter")))
        if call.request.method == "POST":  # the same search asked with a JSON body
            params += [(k, str(v)) for k, v in call.body.items() if k in ("max_results", "page_token")]
            params += [("order_by", str(o)) for o in call.body.get("order_by") or []]
        resp = await _forward(call, "GET", f"{API}/{path}", params=params)
        if resp.status_code != 200:
            return resp
        data = _load(resp)
        prefix = _prefix(call)  # LIKE's '_' matches any character: keep exactly the project's names
        data[key] = [m for m in data.get(key, []) if str(m.get("name", "")).startswith(prefix)]
        return _replace(resp, _unprefix(call, data))

    return handler


async def download_uri(call: Call) -> Response:
    """Where a version's files are, once they match the manifest the platform signed."""
    from .service import app_signer

    q = call.request.query_params
    name = q.get("name")
    _stored(call, name)
    try:
        number = int(q.get("version", ""))
    except ValueError:
        raise not_found(f"Version '{q.get('version')}' of registered model '{name}'") from None

    def record() -> ModelVersion | None:
        with call.request.app.state.db.session() as db:
            v = db.execute(select(ModelVersion).join(RegisteredModel, ModelVersion.model_id == RegisteredModel.id)
                           .where(RegisteredModel.project_id == call.project_id, RegisteredModel.name == name,
                                  ModelVersion.version == number)).scalar_one_or_none()
            if v is not None:
                db.expunge(v)
            return v

    v = await run_in_threadpool(record)
    if v is None:
        raise not_found(f"Version {number} of registered model '{name}'")
    with _as_mlflow_errors():
        folder = await service.fetch_verified(call.exp, app_signer(call.request.app), slug=call.slug, name=name,
                                              version=number, source=v.source, statement_json=v.statement,
                                              signature=v.signature, experiment_ids=sorted(call.experiments))
    shutil.rmtree(folder, ignore_errors=True)
    return Response(json.dumps({"artifact_uri": v.source}), media_type="application/json")


# ---- writes -------------------------------------------------------------------------------------------------------

async def registered_model_create(call: Call) -> Response:
    name = _stored(call, call.body.get("name"), reading=False)
    gateway._no_platform_tags(call.body.get("tags"))
    body = {"name": name, "tags": call.body.get("tags") or []}
    if call.body.get("description"):
        body["description"] = str(call.body["description"])
    return _answer(call, await _forward(call, "POST", f"{API}/registered-models/create", body=body))


async def _source_of(call: Call, body: dict[str, Any]) -> tuple[str, str]:
    """(run id, logged model name or artifact folder) of what the client asks to register."""
    model_id = body.get("model_id")
    source = str(body.get("source") or "")
    if not model_id and source.startswith("models:/m-"):
        model_id = source[len("models:/"):].strip("/")
    if model_id:
        await gateway._own_model(call, str(model_id))
        r = await call.exp.mlflow.client.get(f"{API}/logged-models/{model_id}")
        info = r.json().get("model", {}).get("info", {}) if r.status_code == 200 else {}
        if not info.get("source_run_id"):
            raise GatewayError("INVALID_PARAMETER_VALUE", "Only models logged in a run of the project can be "
                               "registered; log it inside `mlflow.start_run()`")
        return info["source_run_id"], info.get("name", "model")
    if source.startswith("runs:/"):
        run_id, _, path = source[len("runs:/"):].partition("/")
        return run_id, path or "model"
    found = _ARTIFACTS.match(source)
    if found:
        return found.group(1), found.group(2)
    raise GatewayError("INVALID_PARAMETER_VALUE", "Register a model logged in a run of the project: "
                       "mlflow.register_model('runs:/<run_id>/<name>', ...) or 'models:/<model_id>'")


async def model_version_create(call: Call) -> Response:
    name = call.body.get("name")
    _stored(call, name, reading=False)
    run_id, path = await _source_of(call, call.body)
    if call.body.get("run_id") and str(call.body["run_id"]) != run_id:
        raise GatewayError("INVALID_PARAMETER_VALUE", "run_id is not the run that logged the model")
    with _as_mlflow_errors():
        with call.request.app.state.db.session() as db:
            _, v = await service.register_version(call.request.app, db, call.who, call.slug, name, run_id, path)
            number = v.version
    return _answer(call, await _forward(call, "GET", f"{API}/model-versions/get",
                                        params={"name": _stored(call, name), "version": str(number)}))


async def alias_refused(call: Call) -> Response:
    q = call.request.query_params
    body = call.body
    if call.request.method == "DELETE":  # MLflow's client sends the alias to delete as a JSON body
        try:
            body = json.loads(await call.request.body() or b"{}")
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
    name = body.get("name") or q.get("name") or "<model>"
    alias = body.get("alias") or q.get("alias") or "champion"
    version = body.get("version") or "<version>"
    if alias in ALIASES:
        why = (f"'{alias}' moves only through the {alias} gate (thresholds, challenger beats champion"
               + (", a lead's approval" if alias == "champion" else "") + ")")
    else:
        why = f"the platform's registry has only the gated aliases {' and '.join(ALIASES)}; '{alias}' cannot be set"
    raise GatewayError("PERMISSION_DENIED", f"Aliases are not moved with MLflow calls: {why}. Ask the gates with "
                       f"`mlp models promote {name} {version} --alias {alias if alias in ALIASES else 'staging'} "
                       f"-P {call.slug}` or Promote in the Models panel.", 403)


def _with_action(handler, action: Action):  # noqa: ANN001, ANN202
    handler.action = action
    return handler


ENDPOINTS = {
    ("GET", "registered-models/get"): (registered_model_get, False),
    ("GET", "registered-models/search"): (_search("registered-models/search", "registered_models"), False),
    ("POST", "registered-models/search"): (_search("registered-models/search", "registered_models"), False),
    ("GET", "registered-models/alias"): (alias_get, False),
    ("POST", "registered-models/get-latest-versions"): (latest_versions, False),
    ("GET", "registered-models/get-latest-versions"): (latest_versions, False),
    ("GET", "model-versions/get"): (model_version_get, False),
    ("GET", "model-versions/search"): (_search("model-versions/search", "model_versions"), False),
    ("POST", "model-versions/search"): (_search("model-versions/search", "model_versions"), False),
    ("GET", "model-versions/get-download-uri"): (download_uri, False),
    ("POST", "registered-models/create"): (registered_model_create, True),
    ("POST", "model-versions/create"): (model_version_create, True),
    ("POST", "registered-models/alias"): (alias_refused, True),
    ("DELETE", "registered-models/alias"): (alias_refused, True),
}


def install() -> None:
    """Add the registry's endpoints to the gateway's allow-list, checked with the models' permissions."""
    for key, (handler, writes) in ENDPOINTS.items():
        gateway.ENDPOINTS[key] = (_with_action(handler, Action.write_models if writes else Action.read_models),
                                  writes)
