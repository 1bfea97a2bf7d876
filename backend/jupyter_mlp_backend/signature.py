"""A model's signature as MLflow's `MLmodel` states it: its input columns and their types, its outputs.

Shared core (no domain's): the registry reads a version's input columns at promotion, serving checks requests
against them (serving.protocol re-exports these names), monitoring profiles them. Moved out of serving.protocol
unchanged so that the registry does not depend on serving (tests/backend/test_layering.py). Pure: it also runs in
the serving worker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# MLflow column types -> (python check, numpy dtype, v2 datatype)
_NUMBER = (int, float)


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return isinstance(v, _NUMBER) and not isinstance(v, bool)


CHECKS = {
    "double": (is_number, "float64", "FP64", "a number"),
    "float": (is_number, "float32", "FP32", "a number"),
    "long": (is_int, "int64", "INT64", "an integer"),
    "integer": (is_int, "int32", "INT32", "an integer"),
    "boolean": (lambda v: isinstance(v, bool), "bool", "BOOL", "true or false"),
    "string": (lambda v: isinstance(v, str), "object", "BYTES", "a string"),
    "datetime": (lambda v: isinstance(v, str), "datetime64[ns]", "BYTES", "a date-time string"),
    "binary": (lambda v: isinstance(v, str), "object", "BYTES", "a base64 string"),
}

# numpy dtype names as Open Inference Protocol v2 datatypes (the signature's tensor specs)
NUMPY_V2 = {"bool": "BOOL", "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32", "uint64": "UINT64",
            "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64", "float16": "FP16",
            "float32": "FP32", "float64": "FP64", "object": "BYTES", "str": "BYTES", "bytes": "BYTES"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = True


@dataclass
class Schema:
    """The model's input columns (from its MLflow signature); `None` columns: no signature, nothing is checked.
    `outputs`: the v2 description of what the model returns (`{"name", "datatype", "shape"}`), from the
    signature's outputs; empty when the signature has none."""

    columns: list[Column] | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_mlmodel(cls, mlmodel: dict[str, Any]) -> Schema:
        sig = (mlmodel or {}).get("signature") or {}
        outputs = describe_outputs(sig.get("outputs"))
        raw = sig.get("inputs")
        if not raw:
            return cls(None, outputs)
        spec = json.loads(raw) if isinstance(raw, str) else raw
        cols = []
        for i, c in enumerate(spec):
            if c.get("type") not in CHECKS or "name" not in c:  # tensors and nested types: not checked here
                return cls(None, outputs)
            cols.append(Column(c.get("name", str(i)), c["type"], bool(c.get("required", True))))
        return cls(cols, outputs)

    @property
    def names(self) -> list[str] | None:
        return [c.name for c in self.columns] if self.columns is not None else None

    def describe(self) -> list[dict[str, Any]]:
        """v2 metadata `inputs`."""
        return [{"name": c.name, "datatype": CHECKS[c.type][2], "shape": [-1]} for c in self.columns or []]


def describe_outputs(raw: Any) -> list[dict[str, Any]]:
    """The signature's outputs as v2 metadata: one entry per output column (named as the answer names it), or one
    `predict` tensor; [] when there is no output signature or it has nested types."""
    if not raw:
        return []
    try:
        spec = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    if not isinstance(spec, list) or not spec:
        return []
    out = []
    for c in spec:
        if not isinstance(c, dict):
            return []
        if c.get("type") == "tensor":
            ts = c.get("tensor-spec") or {}
            dt = NUMPY_V2.get(str(ts.get("dtype")), "BYTES")
            shape = [int(d) for d in ts.get("shape") or [-1]]
        elif c.get("type") in CHECKS:
            dt, shape = CHECKS[c["type"]][2], [-1]
        else:
            return []
        out.append({"name": c.get("name"), "datatype": dt, "shape": shape})
    if len(out) > 1 and all(o["name"] for o in out):  # a data frame: one output per column
        return out
    # one unnamed column or tensor (or several unnamed columns, answered as rows of lists): the `predict` tensor
    first = out[0]
    shape = first["shape"] if len(out) == 1 else [-1, len(out)]
    return [{"name": first["name"] if len(out) == 1 and first["name"] else "predict", "datatype": first["datatype"],
             "shape": shape}]
