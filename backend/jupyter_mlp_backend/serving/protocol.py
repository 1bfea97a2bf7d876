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

from ..signature import CHECKS, NUMPY_V2, Column, Schema, describe_outputs  # noqa: F401 - also served from here
from ..signature import is_int as _is_int

MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")

# Open Inference Protocol v2 datatypes as little-endian numpy dtypes (binary tensor data extension; BYTES are
# length-prefixed instead); numpy dtype names as v2 datatypes are in ..signature (NUMPY_V2).
V2_NUMPY = {"BOOL": "?", "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8", "INT8": "<i1",
            "INT16": "<i2", "INT32": "<i4", "INT64": "<i8", "FP16": "<f2", "FP32": "<f4", "FP64": "<f8"}
V2_TO_TYPE = {"FP64": "double", "FP32": "double", "FP16": "double", "INT64": "long", "INT32": "long",
              "INT16": "long", "INT8": "long", "UINT8": "long", "UINT16": "long", "UINT32": "long", "UINT64": "long",
              "BOOL": "boolean", "BYTES": "string"}


class BadRequest(Exception):
    """The request cannot be scored; the message says why (sent back with 400)."""


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


def v2_outputs(rows: list[Any], spec: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Model output rows as v2 output tensors; datatypes from the signature's outputs (`spec`) where it names them,
    else from the values."""
    types = {o["name"]: o["datatype"] for o in spec or []}
    if rows and isinstance(rows[0], dict):
        return [{"name": k, "shape": [len(rows)], "datatype": types.get(k) or _v2_type([r[k] for r in rows]),
                 "data": [r[k] for r in rows]} for k in rows[0]]
    name = spec[0]["name"] if spec and len(spec) == 1 else "predict"
    if rows and isinstance(rows[0], list):
        return [{"name": name, "shape": [len(rows), len(rows[0])], "datatype": types.get(name) or _v2_type(rows[0]),
                 "data": [v for r in rows for v in r]}]
    return [{"name": name, "shape": [len(rows)], "datatype": types.get(name) or _v2_type(rows), "data": rows}]


# -- the binary tensor data extension -----------------------------------------------------------------------------
# A request with `Inference-Header-Content-Length: N` is N bytes of JSON followed by the raw tensors of the inputs
# that carry `parameters.binary_data_size`, in order; outputs asked for with `parameters.binary_data` (or every
# output, with the request's `parameters.binary_data_output`) come back the same way. The gateway turns a binary
# request into the JSON one before a worker sees it, and the JSON answer into binary after, so the workers and the
# prediction log only ever hold JSON.


@dataclass
class V2Wants:
    """What a v2 request asked of its outputs: which (None: all) and which as binary."""

    names: list[str] | None = None
    binary: dict[str, bool] = field(default_factory=dict)
    binary_default: bool = False

    def is_binary(self, name: str) -> bool:
        return self.binary.get(name, self.binary_default)


def _decode_tensor(chunk: bytes, datatype: Any, shape: Any, i: int) -> list[Any]:
    if not isinstance(shape, list) or not all(_is_int(s) and s >= 0 for s in shape):
        raise BadRequest(f"inputs[{i}] shape must be a list of non-negative integers")
    n = math.prod(shape)
    if datatype == "BYTES":
        import struct

        values, at = [], 0
        while at < len(chunk):
            if at + 4 > len(chunk):
                raise BadRequest(f"inputs[{i}] BYTES data is cut short: each element is a 4-byte length, then bytes")
            (size,) = struct.unpack_from("<I", chunk, at)
            at += 4
            if at + size > len(chunk):
                raise BadRequest(f"inputs[{i}] BYTES element {len(values)} says {size} bytes but fewer follow")
            try:
                values.append(chunk[at:at + size].decode("utf-8"))
            except UnicodeDecodeError:
                raise BadRequest(f"inputs[{i}] BYTES element {len(values)} is not UTF-8 text") from None
            at += size
        if len(values) != n:
            raise BadRequest(f"inputs[{i}] has {len(values)} BYTES elements but shape {shape} needs {n}")
        return values
    dtype = V2_NUMPY.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise BadRequest(f"inputs[{i}] datatype '{datatype}' is not one of {sorted(V2_NUMPY) + ['BYTES']}")
    import numpy as np

    width = np.dtype(dtype).itemsize
    if len(chunk) != n * width:
        raise BadRequest(f"inputs[{i}] has {len(chunk)} bytes of {datatype} data but shape {shape} needs {n * width}")
    return np.frombuffer(chunk, dtype=dtype).tolist()


def v2_decode(body: bytes, header_len: int | None) -> tuple[bytes, V2Wants]:
    """A v2 infer request (JSON, or JSON header + binary tensors) as plain JSON for the worker, and what it asked of
    its outputs. Protocol-only parameters (`binary_data_output`, `binary_data_size`) are taken out."""
    if header_len is not None and not 0 < header_len <= len(body):
        raise BadRequest(f"Inference-Header-Content-Length is {header_len} but the body has {len(body)} bytes")
    doc = loads(body[:header_len] if header_len is not None else body)
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list) or not doc["inputs"]:
        raise BadRequest("the body must be an object with a non-empty 'inputs' list of tensors")
    at = header_len or 0
    for i, t in enumerate(doc["inputs"]):
        if not isinstance(t, dict):
            raise BadRequest(f"inputs[{i}] must be an object with name, shape, datatype and data")
        params = t.get("parameters")
        size = params.get("binary_data_size") if isinstance(params, dict) else None
        if size is None:
            continue
        if header_len is None:
            raise BadRequest(f"inputs[{i}] has binary_data_size but the request has no "
                             "Inference-Header-Content-Length header")
        if not _is_int(size) or size < 0:
            raise BadRequest(f"inputs[{i}] binary_data_size must be a non-negative integer")
        if at + size > len(body):
            raise BadRequest(f"inputs[{i}] binary_data_size is {size} but only {len(body) - at} bytes are left")
        t["data"] = _decode_tensor(body[at:at + size], t.get("datatype"), t.get("shape"), i)
        at += size
        del params["binary_data_size"]
        if not params:
            del t["parameters"]
    if header_len is not None and at != len(body):
        raise BadRequest(f"{len(body) - at} bytes follow the last binary input: binary_data_size of the inputs "
                         f"adds up to {at - header_len}")
    wants = V2Wants()
    params = doc.get("parameters")
    if isinstance(params, dict) and "binary_data_output" in params:
        wants.binary_default = bool(params.pop("binary_data_output"))
        if not params:
            del doc["parameters"]
    requested = doc.pop("outputs", None)
    if requested is not None:
        if not isinstance(requested, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str)
                                                      for o in requested):
            raise BadRequest("'outputs' must be a list of objects with a 'name'")
        wants.names = [o["name"] for o in requested]
        for o in requested:
            p = o.get("parameters")
            if isinstance(p, dict) and "binary_data" in p:
                wants.binary[o["name"]] = bool(p["binary_data"])
    return json.dumps(doc).encode(), wants


def _encode_tensor(data: list[Any], datatype: str) -> bytes | None:
    """Raw little-endian bytes of a tensor, or None where it cannot be sent as binary (missing integer values)."""
    if datatype == "BYTES":
        import struct

        parts = []
        for v in data:
            raw = v.encode() if isinstance(v, str) else json.dumps(v).encode()
            parts.append(struct.pack("<I", len(raw)) + raw)
        return b"".join(parts)
    dtype = V2_NUMPY.get(datatype)
    if dtype is None:
        return None
    if any(v is None for v in data):
        if not datatype.startswith("FP"):
            return None
        data = [math.nan if v is None else v for v in data]
    import numpy as np

    return np.asarray(data, dtype=dtype).tobytes()


def v2_encode(answer: bytes, wants: V2Wants) -> tuple[bytes, int | None]:
    """The worker's JSON answer with only the outputs asked for, those asked as binary moved after the JSON header;
    returns the body and the header's length (None: the body is all JSON)."""
    doc = json.loads(answer)
    outputs = doc.get("outputs") or []
    if wants.names is not None:
        by_name = {o["name"]: o for o in outputs}
        missing = [n for n in wants.names if n not in by_name]
        if missing:
            raise BadRequest(f"output(s) {missing} are not produced by this model; its outputs are {list(by_name)}")
        outputs = doc["outputs"] = [by_name[n] for n in wants.names]
    buffers = []
    for o in outputs:
        if not wants.is_binary(o["name"]):
            continue
        raw = _encode_tensor(o.get("data") or [], o.get("datatype", ""))
        if raw is None:
            continue
        del o["data"]
        o.setdefault("parameters", {})["binary_data_size"] = len(raw)
        buffers.append(raw)
    head = json.dumps(doc).encode()
    if not buffers:
        return head, None
    return head + b"".join(buffers), len(head)


def _v2_type(values: list[Any]) -> str:
    v = next((x for x in values if x is not None), None)
    if isinstance(v, bool):
        return "BOOL"
    if isinstance(v, int):
        return "INT64"
    if isinstance(v, float):
        return "FP64"
    return "BYTES"
