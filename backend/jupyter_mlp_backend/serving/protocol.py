"""Request bodies of the two serving protocols, parsed into columns and checked against the model's signature.

- MLflow's scoring protocol (`/invocations`): exactly one of `dataframe_split`, `dataframe_records`, `instances`,
  `inputs`, plus optional `params`; the answer is `{"predictions": [...]}`.
- Open Inference Protocol v2 (`/v2/models/{name}/infer`): `inputs` is a list of named tensors, one per column
  (`{"name", "shape", "datatype", "data"}`), or a single two-dimensional tensor whose columns follow the signature;
  the answer is `{"model_name", "model_version", "id", "outputs": [...]}`.

Everything here is pure and runs in the serving worker, so that parsing and checking use the worker's core and a
bad request is answered on its own without touching the batch it would have joined. Errors name the problem.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")

# MLflow column types -> (python check, numpy dtype, v2 datatype)
_NUMBER = (int, float)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, _NUMBER) and not isinstance(v, bool)


CHECKS = {
    "double": (_is_number, "float64", "FP64", "a number"),
    "float": (_is_number, "float32", "FP32", "a number"),
    "long": (_is_int, "int64", "INT64", "an integer"),
    "integer": (_is_int, "int32", "INT32", "an integer"),
    "boolean": (lambda v: isinstance(v, bool), "bool", "BOOL", "true or false"),
    "string": (lambda v: isinstance(v, str), "object", "BYTES", "a string"),
    "datetime": (lambda v: isinstance(v, str), "datetime64[ns]", "BYTES", "a date-time string"),
    "binary": (lambda v: isinstance(v, str), "object", "BYTES", "a base64 string"),
}
V2_TO_TYPE = {"FP64": "double", "FP32": "double", "FP16": "double", "INT64": "long", "INT32": "long",
              "INT16": "long", "INT8": "long", "UINT8": "long", "UINT16": "long", "UINT32": "long", "UINT64": "long",
              "BOOL": "boolean", "BYTES": "string"}


class BadRequest(Exception):
    """The request cannot be scored; the message says why (sent back with 400)."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = True


@dataclass
class Schema:
    """The model's input columns (from its MLflow signature); `None` columns: no signature, nothing is checked."""

    columns: list[Column] | None = None

    @classmethod
    def from_mlmodel(cls, mlmodel: dict[str, Any]) -> Schema:
        sig = (mlmodel or {}).get("signature") or {}
        raw = sig.get("inputs")
        if not raw:
            return cls(None)
        spec = json.loads(raw) if isinstance(raw, str) else raw
        cols = []
        for i, c in enumerate(spec):
            if c.get("type") not in CHECKS or "name" not in c:  # tensors and nested types: not checked here
                return cls(None)
            cols.append(Column(c.get("name", str(i)), c["type"], bool(c.get("required", True))))
        return cls(cols)

    @property
    def names(self) -> list[str] | None:
        return [c.name for c in self.columns] if self.columns is not None else None

    def describe(self) -> list[dict[str, Any]]:
        """v2 metadata `inputs`."""
        return [{"name": c.name, "datatype": CHECKS[c.type][2], "shape": [-1]} for c in self.columns or []]


@dataclass
class Parsed:
    columns: dict[str, list[Any]]
    rows: int
    params: dict[str, Any] | None = None
    request_id: str | None = None
    key: tuple[str, ...] = field(default=())


def _reject_constant(name: str) -> Any:
    raise BadRequest(f"{name} is not a valid JSON number: send finite numbers (or null where a value may be missing)")


def loads(body: bytes) -> Any:
    if not body:
        raise BadRequest("the request body is empty: send a JSON object")
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except BadRequest:
        raise
    except RecursionError:
        raise BadRequest("the JSON is nested too deeply") from None
    except UnicodeDecodeError:
        raise BadRequest("the request body is not UTF-8 text") from None
    except ValueError as e:
        raise BadRequest(f"the request body is not valid JSON: {e}") from None


def _from_rows(rows: Any, names: list[str] | None, what: str) -> dict[str, list[Any]]:
    if not isinstance(rows, list):
        raise BadRequest(f"'{what}' must be a list of rows")
    if not rows:
        raise BadRequest(f"'{what}' is an empty batch: send at least one row")
    if isinstance(rows[0], dict):
        keys = list(rows[0])
        cols: dict[str, list[Any]] = {k: [] for k in keys}
        for i, r in enumerate(rows):
            if not isinstance(r, dict):
                raise BadRequest(f"'{what}' row {i} is not an object like row 0")
            if len(r) != len(keys) or any(k not in cols for k in r):
                missing = [k for k in keys if k not in r]
                extra = [k for k in r if k not in cols]
                raise BadRequest(f"'{what}' row {i} has different columns from row 0"
                                 + (f" (missing {missing})" if missing else "") + (f" (extra {extra})" if extra else ""))
            for k, v in r.items():
                cols[k].append(v)
        return cols
    if isinstance(rows[0], list):
        if names is None:
            raise BadRequest(f"'{what}' rows are lists but the model has no signature naming its columns: "
                             "send objects with column names, or dataframe_split")
        return _split(names, rows, what)
    if names is not None and len(names) == 1:
        return {names[0]: list(rows)}
    raise BadRequest(f"'{what}' must be a list of objects or of lists")


def _split(names: list[str], data: Any, what: str) -> dict[str, list[Any]]:
    if not isinstance(data, list):
        raise BadRequest(f"'{what}' data must be a list of rows")
    if not data:
        raise BadRequest(f"'{what}' is an empty batch: send at least one row")
    n = len(names)
    cols: list[list[Any]] = [[] for _ in names]
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != n:
            raise BadRequest(f"'{what}' row {i} must be a list of {n} values, one per column {names}")
        for c, v in zip(cols, row):
            c.append(v)
    return dict(zip(names, cols))


def parse_mlflow(body: bytes, schema: Schema) -> Parsed:
    doc = loads(body)
    if not isinstance(doc, dict):
        raise BadRequest("the body must be a JSON object with one of " + ", ".join(MLFLOW_KEYS))
    present = [k for k in MLFLOW_KEYS if k in doc]
    if len(present) != 1:
        raise BadRequest(f"the body must have exactly one of {', '.join(MLFLOW_KEYS)}; it has "
                         f"{present or sorted(doc)[:5]}")
    unknown = [k for k in doc if k not in MLFLOW_KEYS and k != "params"]
    if unknown:
        raise BadRequest(f"unknown field(s) {unknown}: expected one of {', '.join(MLFLOW_KEYS)} and optional params")
    fmt = present[0]
    value = doc[fmt]
    if fmt == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value:
            raise BadRequest("'dataframe_split' must be an object with 'columns' and 'data'")
        names = value.get("columns") or schema.names
        if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
            raise BadRequest("'dataframe_split.columns' must be a list of column names")
        cols = _split(names, value["data"], fmt)
    elif fmt == "dataframe_records":
        cols = _from_rows(value, schema.names, fmt)
    elif isinstance(value, dict):  # inputs/instances as {column: [values]}
        lengths = {k: len(v) if isinstance(v, list) else -1 for k, v in value.items()}
        if not value or any(n < 0 for n in lengths.values()):
            raise BadRequest(f"'{fmt}' as an object must map each column to a list of values")
        if len(set(lengths.values())) != 1:
            raise BadRequest(f"'{fmt}' columns have different lengths: {lengths}")
        cols = {k: list(v) for k, v in value.items()}
    else:
        cols = _from_rows(value, schema.names, fmt)
    params = doc.get("params")
    if params is not None and not isinstance(params, dict):
        raise BadRequest("'params' must be an object")
    return check(cols, schema, params=params)


def parse_v2(body: bytes, schema: Schema) -> Parsed:
    doc = loads(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list) or not doc["inputs"]:
        raise BadRequest("the body must be an object with a non-empty 'inputs' list of tensors")
    tensors = doc["inputs"]
    cols: dict[str, list[Any]] = {}
    for i, t in enumerate(tensors):
        if not isinstance(t, dict) or not {"name", "shape", "datatype", "data"} <= set(t):
            raise BadRequest(f"inputs[{i}] must have name, shape, datatype and data")
        shape, data, dt = t["shape"], t["data"], t["datatype"]
        if dt not in V2_TO_TYPE:
            raise BadRequest(f"inputs[{i}] datatype '{dt}' is not one of {sorted(V2_TO_TYPE)}")
        if not isinstance(shape, list) or not all(_is_int(s) and s >= 0 for s in shape) or not 1 <= len(shape) <= 2:
            raise BadRequest(f"inputs[{i}] shape must be [rows] or [rows, columns]")
        if not isinstance(data, list):
            raise BadRequest(f"inputs[{i}] data must be a list")
        flat = data if not data or not isinstance(data[0], list) else [v for row in data for v in row]
        if math.prod(shape) != len(flat):
            raise BadRequest(f"inputs[{i}] has {len(flat)} values but shape {shape} needs {math.prod(shape)}")
        if len(shape) == 2:
            if len(tensors) != 1 or schema.names is None or shape[1] != len(schema.names):
                raise BadRequest(f"inputs[{i}] is two-dimensional: send one such tensor whose {shape[1]} columns "
                                 f"follow the model's signature {schema.names}")
            w = shape[1]
            cols = {n: flat[j::w] for j, n in enumerate(schema.names)}
        else:
            cols[str(t["name"])] = flat
    lengths = {k: len(v) for k, v in cols.items()}
    if len(set(lengths.values())) != 1:
        raise BadRequest(f"inputs have different lengths: {lengths}")
    params = doc.get("parameters")
    rid = doc.get("id")
    return check(cols, schema, params=params if isinstance(params, dict) else None,
                 request_id=str(rid)[:200] if rid is not None else None)


def check(cols: dict[str, list[Any]], schema: Schema, *, params: dict[str, Any] | None = None,
          request_id: str | None = None) -> Parsed:
    rows = len(next(iter(cols.values()))) if cols else 0
    if rows == 0:
        raise BadRequest("the batch is empty: send at least one row")
    if schema.columns is None:
        for name, values in cols.items():
            for i, v in enumerate(values):
                if not (v is None or isinstance(v, (str, int, float, bool))):
                    raise BadRequest(f"column '{name}' row {i} is not a single value")
        return Parsed(cols, rows, params, request_id, tuple(cols))
    expected = {c.name: c for c in schema.columns}
    missing = [c.name for c in schema.columns if c.name not in cols and c.required]
    extra = [k for k in cols if k not in expected]
    if missing or extra:
        raise BadRequest("; ".join(([f"missing column(s) {missing}"] if missing else [])
                                   + ([f"unexpected column(s) {extra}"] if extra else []))
                         + f" — the model expects {[c.name for c in schema.columns]}")
    for name, values in cols.items():
        col = expected[name]
        ok, _, _, words = CHECKS[col.type]
        for i, v in enumerate(values):
            if v is None:
                if col.required:
                    raise BadRequest(f"column '{name}' row {i} is null but the model requires a value")
            elif not ok(v):
                raise BadRequest(f"column '{name}' expects {words} ({col.type}); row {i} has {type(v).__name__} "
                                 f"{json.dumps(v)[:40]}")
            elif isinstance(v, float) and not math.isfinite(v):  # pragma: no cover - json refuses these first
                raise BadRequest(f"column '{name}' row {i} is not finite")
    for c in schema.columns:  # optional columns left out are sent as missing values
        if c.name not in cols:
            cols[c.name] = [None] * rows
    ordered = {c.name: cols[c.name] for c in schema.columns}
    return Parsed(ordered, rows, params, request_id, tuple(ordered))


def jsonable(predictions: Any) -> list[Any]:
    """Model output (ndarray, Series, DataFrame, list) as JSON-ready rows, like MLflow's scoring server."""
    import numpy as np
    import pandas as pd

    if isinstance(predictions, pd.DataFrame):
        return predictions.to_dict(orient="records")
    if isinstance(predictions, pd.Series):
        return predictions.tolist()
    if isinstance(predictions, np.ndarray):
        return predictions.tolist()
    return list(predictions)


def v2_outputs(rows: list[Any]) -> list[dict[str, Any]]:
    if rows and isinstance(rows[0], dict):
        return [{"name": k, "shape": [len(rows)], "datatype": _v2_type([r[k] for r in rows]),
                 "data": [r[k] for r in rows]} for k in rows[0]]
    if rows and isinstance(rows[0], list):
        return [{"name": "predict", "shape": [len(rows), len(rows[0])], "datatype": _v2_type(rows[0]),
                 "data": [v for r in rows for v in r]}]
    return [{"name": "predict", "shape": [len(rows)], "datatype": _v2_type(rows), "data": rows}]


def _v2_type(values: list[Any]) -> str:
    v = next((x for x in values if x is not None), None)
    if isinstance(v, bool):
        return "BOOL"
    if isinstance(v, int):
        return "INT64"
    if isinstance(v, float):
        return "FP64"
    return "BYTES"
