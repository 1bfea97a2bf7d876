"""MLflow's run-search grammar for the runs list (experiments/search.py): filters and sort keys parsed exactly as
MLflow's `SearchUtils` parses them. The filters and sort keys the panel sends (`params.p0 = 'v3'`, `metrics.auc >
0.9`, `metrics.auc DESC`, ...) go through a strict fast path that returns what MLflow's parser returns
(`tests/experiments/test_search.py` holds it to that), so a page imports no MLflow; anything else goes to MLflow's
parser, imported on first need."""

from __future__ import annotations

import re
import threading
from typing import Any

from ..errors import Invalid

MAX_FILTER_LENGTH = 4000

class InvalidSearch(Invalid):
    status = 400
    code = "invalid_filter"

# MLflow's names (SearchUtils) for the entity types, and its aliases.
METRIC, PARAM, TAG, ATTRIBUTE = "metric", "parameter", "tag", "attribute"
_TYPES = {"metric": METRIC, "metrics": METRIC, "parameter": PARAM, "parameters": PARAM, "param": PARAM,
          "params": PARAM, "tag": TAG, "tags": TAG, "attribute": ATTRIBUTE, "attributes": ATTRIBUTE,
          "attr": ATTRIBUTE, "run": ATTRIBUTE}
_NUMERIC_ATTRIBUTES = {"start_time", "end_time", "created", "Created"}
_ORDERABLE_ATTRIBUTES = {"artifact_uri", "end_time", "run_id", "run_name", "start_time", "status", "user_id"}

# The fast path's grammar: `type.key op value` clauses joined by AND, keys of plain words, string values in single
# quotes without quotes or backslashes inside, unsigned decimal numbers for metrics. Anything else: MLflow's parser.
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_CLAUSE = re.compile(rf"\s*(?P<type>[A-Za-z]+)\.(?P<key>{_NAME}(?:\.{_NAME})*)\s*(?P<op>!=|>=|<=|=|<|>)\s*"
                     r"(?:'(?P<str>[^'\"\\]*)'|(?P<num>[0-9]+(?:\.[0-9]+)?))\s*")
_AND = re.compile(r"AND(?=\s)", re.IGNORECASE)
_ORDER = re.compile(rf"\s*(?:(?P<type>[A-Za-z]+)\.)?(?P<key>{_NAME}(?:\.{_NAME})*)(?:\s+(?P<dir>asc|desc))?\s*",
                    re.IGNORECASE)


def fast_filter(text: str) -> list[dict[str, Any]] | None:
    """The parsed filter as MLflow's `SearchUtils.parse_search_filter` returns it, for the plain filters the panel
    sends; None when the text is not in the fast path's grammar (MLflow's parser decides then)."""
    out, pos = [], 0
    while True:
        m = _CLAUSE.match(text, pos)
        if m is None:
            return None
        kind = _TYPES.get(m["type"])
        op, string, num = m["op"], m["str"], m["num"]
        if kind in (PARAM, TAG) and op in ("=", "!=") and string is not None:
            out.append({"type": kind, "key": m["key"], "comparator": op, "value": string})
        elif kind == METRIC and num is not None:
            out.append({"type": kind, "key": m["key"], "comparator": op, "value": num})
        else:
            return None
        pos = m.end()
        if pos == len(text):
            return out
        a = _AND.match(text, pos)
        if a is None or not text[pos - 1].isspace():
            return None
        pos = a.end()


def fast_order_by(item: str) -> tuple[str, str, bool] | None:
    """(type, key, ascending) as MLflow's `parse_order_by_for_search_runs` returns it, for plain sort keys; None
    otherwise."""
    m = _ORDER.fullmatch(item)
    if m is None:
        return None
    kind = _TYPES.get(m["type"]) if m["type"] is not None else ATTRIBUTE
    if kind is None or (kind == ATTRIBUTE and m["key"] not in _ORDERABLE_ATTRIBUTES):
        return None
    return kind, m["key"], (m["dir"] or "asc").lower() == "asc"


def translate_key_alias(key: str) -> str:  # SearchUtils.translate_key_alias
    return {"created": "start_time", "Created": "start_time", "run name": "run_name", "Run name": "run_name",
            "Run Name": "run_name"}.get(key, key)

_MLFLOW_IMPORT = threading.Lock()


def search_utils():
    """MLflow's SearchUtils, imported on first need by one thread at a time (MLflow's circular imports trip when
    several threadpool workers import it at once)."""
    with _MLFLOW_IMPORT:
        from mlflow.utils.search_utils import SearchUtils

    return SearchUtils


def parse_filter(text: str) -> list[dict[str, Any]]:
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidSearch(f"The filter is {len(text)} characters long; the limit is {MAX_FILTER_LENGTH}.")
    if not text.strip():
        return []
    fast = fast_filter(text)
    if fast is not None:
        return fast
    SearchUtils = search_utils()  # noqa: N806
    from mlflow.exceptions import MlflowException

    try:
        return SearchUtils.parse_search_filter(text)
    except MlflowException as e:
        raise InvalidSearch(f"Invalid filter: {e.message}", detail=[{"field": "filter"}]) from e
    except Exception as e:  # sqlparse raises its own errors on garbage
        raise InvalidSearch(f"Invalid filter: {e}", detail=[{"field": "filter"}]) from e


def _mlflow_order_by(item: str) -> tuple[str, str, bool]:
    SearchUtils = search_utils()  # noqa: N806
    from mlflow.exceptions import MlflowException

    try:
        return SearchUtils.parse_order_by_for_search_runs(item)
    except MlflowException as e:
        raise InvalidSearch(f"Invalid order_by: {e.message}", detail=[{"field": "order_by"}]) from e


def parse_order_by(items: list[str]) -> list[tuple[str, str, bool]]:
    out, seen = [], set()
    for item in items:
        if len(item) > 500:
            raise InvalidSearch("An order_by clause is longer than 500 characters.", detail=[{"field": "order_by"}])
        key_type, key, ascending = fast_order_by(item) or _mlflow_order_by(item)
        key = translate_key_alias(key)
        if (key_type, key) in seen:
            raise InvalidSearch(f"order_by names {key_type} '{key}' twice", detail=[{"field": "order_by"}])
        seen.add((key_type, key))
        out.append((key_type, key, ascending))
    return out


def is_fast(f: dict[str, Any]) -> bool:
    """A clause the fast path can produce (its comparator valid for its type by construction)."""
    return (f["type"] in (PARAM, TAG) and f["comparator"] in ("=", "!=")) or (
        f["type"] == METRIC and f["comparator"] in ("=", "!=", "<", "<=", ">", ">="))
