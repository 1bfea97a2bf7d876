"""The parameters cell: each assignment is a parameter with its type and its default as the notebook wrote it, and,
when that default is a literal JSON can carry, its value (the run form shows and compares values, not text)."""

from __future__ import annotations

import ast
import math
from typing import Any

from .analysis_model import Parameter
from .schemas import ParameterOut


def param_type(value: ast.AST) -> tuple[str, str]:
    try:
        v = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError):
        return "other", ast.unparse(value)
    t = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict", type(None): "none"}
    return t.get(type(v), "other"), ast.unparse(value)


def parameters_of(source: str) -> list[Parameter]:
    params = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            kind, default = param_type(node.value)
            params.append(Parameter(node.targets[0].id, kind, default))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            kind, default = param_type(node.value)
            params.append(Parameter(node.target.id, kind, default))
    return params


class _NotJson(ValueError):
    pass


def _json(v: Any) -> Any:  # noqa: ANN401
    if v is None or isinstance(v, (bool, str, int)):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise _NotJson
        return v
    if isinstance(v, list):
        return [_json(x) for x in v]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if isinstance(k, bool) or not isinstance(k, (str, int, float)):
                raise _NotJson  # JSON objects have string keys; numbers are written as text
            key = k if isinstance(k, str) else str(int(k)) if float(k).is_integer() else repr(k)
            out[key] = _json(x)
        return out
    raise _NotJson  # tuples, sets, bytes, complex numbers: left to the raw text


def default_value(kind: str, text: str) -> Any:  # noqa: ANN401
    """The default's value as JSON, or None when the text is not a literal JSON can carry (a call, a name, a tuple,
    a set, ...). A parameter of type `none` is the one whose value is None: a client tells "None" from "not
    readable" by `type == "none"`."""
    if kind in ("other", "none"):
        return None
    try:
        return _json(ast.literal_eval(text))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def parameter_out(p: dict[str, Any]) -> ParameterOut:
    """A parameter as the API answers it (from the analysis or a stored version's description)."""
    return ParameterOut(name=p["name"], type=p["type"], default=p["default"],
                        default_value=default_value(p["type"], p["default"]))
