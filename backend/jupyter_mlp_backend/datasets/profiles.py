"""Dataset profiles kept with their Iceberg snapshot (issue 14): `jupyter_mlp.profiling`'s meta-features of the
rows a snapshot holds, as the JSON summary property `mlp.profile` of the snapshot an overwrite commits (computed in
the write's worker thread: ~0.3 s for 100k x 30 without a target, ~1.5 s with one). An append's snapshot holds
rows written earlier too, so its profile (and a profile for another target) is computed when asked, from the
snapshot's rows. A profile holds aggregates only, never a row."""

from __future__ import annotations

import json

PROPERTY = "mlp.profile"


class ProfileError(ValueError):
    """The rows or the target cannot be profiled (said in words)."""


def compute(table, target: str | None) -> dict:  # noqa: ANN001 - a pyarrow.Table
    """{"version", "target", "features"} of a pyarrow table; ProfileError in words."""
    from jupyter_mlp.profiling import profile, to_json

    try:
        prof = profile(table.to_pandas(), target)
    except ValueError as e:
        raise ProfileError(str(e)) from e
    body = json.loads(to_json(prof))
    body["target"] = target
    return body


def snapshot_properties(table, target: str | None) -> dict[str, str]:  # noqa: ANN001
    """The summary properties that store the profile of `table` with the snapshot that writes it. A frame that
    cannot be profiled (no rows) is written without one; a target that is not a column is refused."""
    if target is not None and target not in table.column_names:
        raise ProfileError(f"the target column {target!r} is not in the data")
    try:
        body = compute(table, target)
    except ProfileError:
        if target is not None:
            raise
        return {}
    return {PROPERTY: json.dumps(body, separators=(",", ":"))}


def stored(summary) -> dict | None:  # noqa: ANN001 - a pyiceberg Summary or None
    value = summary[PROPERTY] if summary is not None else None
    return json.loads(value) if value else None
