"""Incremental monitor evaluation: each evaluation reads only what was appended to the deployment's prediction log
(and feedback table) since the last one, so its cost does not grow with the log.

A monitor's cursor (`MLP_HOME/monitoring/cursors/<monitor>.json`, written after the evaluation's windows are
committed; plain JSON, never unpickled or executed, so it can be read by eye) holds:
- the position of each table read last (the sequence number of the Iceberg snapshot read): the next evaluation
  opens only the manifests written after it and reads the data files appended after it (`Catalog.appended`),
  nothing older; a position outlives its snapshot, so the log's committer can expire old snapshots (`trim`) and
  keep the table's metadata, which every read parses, as short as its recent history;
- per served version, the rows not yet in a complete window (at most a window's worth, by count; the slices that
  have not ended, by time) and the next window number: a window's drift is computed from its own rows, exactly
  as a full read would (`Rows`: a window is typed from its own values);
- the answers and labels of each version's newest `PERF_WINDOWS` windows, whose performance is recomputed while
  late labels arrive, and the latest label of each of their prediction ids (a later label wins, as in a full read);
- the labels that name no logged prediction (the monitor's "unmatched labels" note). A label for a prediction
  older than the newest windows changes nothing (those windows are final); telling it from an unknown id is the
  one lookup that reads the log's id column (only when such labels arrive).

A cursor that does not fit (another window size, the table rewritten or made again, no file yet, an
unreadable file, a pickled `<monitor>.pkl` of an older release: removed unread) is started again from the
beginning of the log: one full read, then incremental again. A crash between storing the
windows and writing the cursor re-reads the same rows next time; storing is idempotent (windows are keyed by
version and number). The verdicts equal a full recomputation (tests/monitoring/test_incremental_eval.py).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from .windows import META, PERF_WINDOWS, Part, Rows, label_rows, latest_labels, parse_rows

FORMAT = 2  # 1: the pickled cursor of earlier releases (never read: a fresh cursor recomputes)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class Cursor:
    key: tuple
    pred_position: int | None = None
    fb_position: int | None = None
    skipped: int = 0  # logged requests that could not be read as rows, ever
    pending: dict[int, Rows] = field(default_factory=dict)  # version number -> rows waiting for their window
    seq: dict[int, int] = field(default_factory=dict)  # version number -> next window (by count) / last slice + 1
    recent: dict[int, list[tuple[int, Rows]]] = field(default_factory=dict)  # newest windows' answers only
    labels: dict[str, tuple] = field(default_factory=dict)  # prediction id -> (ts, label) for the rows kept
    unmatched: set[str] = field(default_factory=set)  # label ids that no logged prediction has


def cursor_path(home: Path, monitor_id: int) -> Path:
    return home / "monitoring" / "cursors" / f"{monitor_id}.json"


def _us(ts: datetime) -> int:
    """A logged time as microseconds since the epoch (the log's precision): exact both ways."""
    return (ts - EPOCH) // timedelta(microseconds=1)


def _ts(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def _rows_doc(rows: Rows) -> dict:
    meta = dict(rows.meta)
    meta["__ts"] = [_us(t) for t in meta["__ts"]]
    return {"cols": rows.cols, "meta": meta}


def _rows(doc: dict) -> Rows:
    meta = doc["meta"]
    if set(meta) != set(META) or len({len(v) for v in [*meta.values(), *doc["cols"].values()]}) > 1:
        raise ValueError("rows of another shape")
    meta["__ts"] = [_ts(t) for t in meta["__ts"]]
    return Rows(doc["cols"], meta)


def to_doc(cursor: Cursor) -> dict:
    """The cursor as JSON values: rows column by column, times as microseconds since the epoch."""
    return {"format": FORMAT, "key": list(cursor.key), "pred_position": cursor.pred_position,
            "fb_position": cursor.fb_position, "skipped": cursor.skipped,
            "pending": [[n, _rows_doc(r)] for n, r in cursor.pending.items()],
            "seq": [[n, s] for n, s in cursor.seq.items()],
            "recent": [[n, [[s, _rows_doc(r)] for s, r in ws]] for n, ws in cursor.recent.items()],
            "labels": [[pid, _us(ts), label] for pid, (ts, label) in cursor.labels.items()],
            "unmatched": sorted(cursor.unmatched)}


def from_doc(doc: dict, key: tuple) -> Cursor | None:
    """The cursor a document holds, None when it is of another format or configuration (ValueError, KeyError,
    TypeError on a malformed one)."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("key") != list(key):
        return None
    return Cursor(key, pred_position=doc["pred_position"], fb_position=doc["fb_position"], skipped=int(doc["skipped"]),
                  pending={int(n): _rows(r) for n, r in doc["pending"]},
                  seq={int(n): int(s) for n, s in doc["seq"]},
                  recent={int(n): [(int(s), _rows(r)) for s, r in ws] for n, ws in doc["recent"]},
                  labels={pid: (_ts(us), label) for pid, us, label in doc["labels"]},
                  unmatched=set(doc["unmatched"]))


def load(home: Path, monitor_id: int, key: tuple) -> Cursor:
    """The monitor's cursor, or a new one (reading the log from its start) when there is none, it is for another
    configuration or cannot be read. A pickled cursor of an earlier release is removed unread (unpickling a file
    runs code): the new cursor's first evaluation reads the log again and stores the same windows (idempotent)."""
    with contextlib.suppress(OSError):
        cursor_path(home, monitor_id).with_suffix(".pkl").unlink()
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
        with open(cursor_path(home, monitor_id), "rb") as f:
            found = from_doc(json.loads(f.read()), key)
        if found is not None:
            return found
    return Cursor(key)


def save(home: Path, monitor_id: int, cursor: Cursor) -> None:
    path = cursor_path(home, monitor_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:  # dumps, not dump: `json.dump` streams through the pure-Python
        f.write(json.dumps(to_doc(cursor), separators=(",", ":")))  # encoder, 3/4 of an evaluation's time
    os.replace(tmp, path)


def _answers(rows: Rows) -> Rows:
    return rows.take(slice(None), features=False)


def _frame(rows: Rows, answers_only: bool = False):  # noqa: ANN202
    frame = rows.frame()
    if answers_only:
        frame.attrs["answers_only"] = True
    return frame


def _cut(cursor: Cursor, number: int, window_size: int, window_seconds: int | None, now: datetime,
         touched: set[tuple[int, int]]) -> list[tuple[int, Rows]]:
    """Take the complete windows off a version's waiting rows (as `windows.cut` does on the whole log); a kept
    window that rows of its time slice joined late is `touched`."""
    pend = cursor.pending.get(number) or Rows()
    if not window_seconds:
        k = len(pend) // window_size
        start = cursor.seq.get(number, 0)
        out = [(start + i, pend.take(slice(i * window_size, (i + 1) * window_size))) for i in range(k)]
        if k:
            cursor.seq[number] = start + k
            cursor.pending[number] = pend.take(slice(k * window_size, None))
        return out
    step = timedelta(seconds=window_seconds)
    current = int(now.timestamp()) // window_seconds
    ended: dict[int, list[int]] = {}
    waiting: list[int] = []
    for i, ts in enumerate(pend.meta["__ts"]):
        b = (ts - EPOCH) // step
        (ended.setdefault(b, []) if b < current else waiting).append(i)
    if not ended:
        return []
    done = cursor.seq.get(number, 0)  # slices before this one were cut already
    out, late = [], []
    for b in sorted(ended):
        if b < done:
            late.append((b, pend.take(ended[b], features=False)))  # rows of a slice cut before: labels only
        else:
            out.append((b, pend.take(ended[b])))
    recent = dict(cursor.recent.get(number, []))
    for b, rows in late:
        if b in recent:
            recent[b].extend(rows)
            touched.add((number, b))
    cursor.recent[number] = sorted(recent.items())
    cursor.seq[number] = max(done, max(ended) + 1)
    cursor.pending[number] = pend.take(waiting)
    return out


def advance(cursor: Cursor, preds: list[dict], fb: list[dict], window_size: int, window_seconds: int | None,
            known: Callable[[set[str]], set[str]], now: datetime | None = None) -> list[Part]:
    """Take in the prediction and feedback rows appended since the cursor; returns each version's windows to
    store (the new ones with their rows, the newest ones' answers for performance) and moves the cursor on.
    `known(ids)`: which of these prediction ids the log has (asked only for labels of rows no longer kept)."""
    now = now or datetime.now(timezone.utc)
    chunk, skipped = parse_rows(sorted(preds, key=lambda r: r["ts"]))
    cursor.skipped += skipped
    changed: set[str] = set()
    for pid, (ts, label) in latest_labels(fb).items():
        old = cursor.labels.get(pid)
        if old is None or old[0] <= ts:
            cursor.labels[pid] = (ts, label)
            changed.add(pid)
    label_rows(chunk, cursor.labels)
    for rows in cursor.pending.values():
        label_rows(rows, cursor.labels, changed)
    touched: set[tuple[int, int]] = set()  # kept windows whose labels changed: their performance is recomputed
    for number, windows in cursor.recent.items():
        for seq, rows in windows:
            if changed and not changed.isdisjoint(rows.meta["__pid"]):
                label_rows(rows, cursor.labels, changed)
                touched.add((number, seq))
    order: dict[int, list[int]] = {}
    for i, v in enumerate(chunk.meta["__version"]):
        order.setdefault(int(v), []).append(i)
    for number, index in order.items():
        cursor.pending.setdefault(number, Rows()).extend(chunk.take(index))
    parts = []
    for number in sorted(set(cursor.pending) | set(cursor.recent)):
        new = _cut(cursor, number, window_size, window_seconds, now, touched)
        recent = dict(cursor.recent.get(number, []))
        recent.update((seq, _answers(rows)) for seq, rows in new)
        kept = sorted(recent.items())[-PERF_WINDOWS:]
        cursor.recent[number] = kept
        # the new windows with their rows; of the kept ones, those whose labels changed (a late row of a time slice
        # counts as a change): the others' stored performance stands
        windows = {seq: _frame(rows, answers_only=True) for seq, rows in kept if (number, seq) in touched}
        windows.update((seq, _frame(rows)) for seq, rows in new)
        parts.append(Part(number, sorted(windows.items()), len(cursor.pending.get(number) or ()),
                          {seq for seq, _ in kept}))
    # which labels still matter: those of the rows kept; a label for no row kept is an old prediction's (final
    # windows: dropped) or names no prediction (counted as unmatched)
    ids = set(chunk.meta["__pid"])
    for rows in cursor.pending.values():
        ids.update(rows.meta["__pid"])
    for windows in cursor.recent.values():
        for _, rows in windows:
            ids.update(rows.meta["__pid"])
    cursor.unmatched -= ids
    ask = {pid for pid in changed if pid not in ids and pid not in cursor.unmatched}
    found = known(ask) if ask else set()
    cursor.unmatched |= ask - found
    cursor.labels = {pid: v for pid, v in cursor.labels.items() if pid in ids or pid in cursor.unmatched}
    return parts


def read_new(catalog, slug: str, deployment: str, cursor: Cursor) -> tuple[list[dict], list[dict], Cursor]:  # noqa: ANN001
    """The rows appended to the deployment's prediction log and feedback since the cursor's positions (the
    cursor is started again when a table was rewritten); the cursor's positions moved to the ones read."""
    from ..serving.service import prediction_table

    def new_rows(name: str, since: int | None) -> tuple[list[dict], int | None]:
        try:
            data, snap = catalog.appended(slug, prediction_table(name, deployment), since)
        except LookupError:
            return [], None
        return (data.to_pylist() if data is not None else []), snap

    try:
        preds, pred_snap = new_rows("predictions", cursor.pred_position)
        fb, fb_snap = new_rows("feedback", cursor.fb_position)
    except ValueError:  # a table was rewritten or made again since the position read: read it all again
        cursor = Cursor(cursor.key)
        preds, pred_snap = new_rows("predictions", None)
        fb, fb_snap = new_rows("feedback", None)
    cursor.pred_position, cursor.fb_position = pred_snap, fb_snap
    return preds, fb, cursor


def known_ids(catalog, slug: str, deployment: str, position: int | None) -> Callable[[set[str]], set[str]]:  # noqa: ANN001
    """`known` for `advance`: looks the ids up in the log's prediction id column (up to `position`)."""
    from pyiceberg.expressions import In

    from ..serving.service import prediction_table

    def known(ids: set[str]) -> set[str]:
        if position is None:
            return set()
        try:
            data, _ = catalog.appended(slug, prediction_table("predictions", deployment), None, ("prediction_id",),
                                       In("prediction_id", sorted(ids)), until=position)
        except LookupError:
            return set()
        return set(data.column("prediction_id").to_pylist()) if data is not None else set()

    return known


def evaluate_log(app, slug: str, deployment: str, monitor_id: int, key: tuple, window_size: int,  # noqa: ANN001
                 window_seconds: int | None) -> tuple[list[Part], Cursor]:
    """One evaluation's reading: the new rows taken into the monitor's cursor (saved by the caller with `save`
    once the windows are stored)."""
    catalog = app.state.datasets
    cursor = load(app.state.settings.home, monitor_id, key)
    preds, fb, cursor = read_new(catalog, slug, deployment, cursor)
    parts = advance(cursor, preds, fb, window_size, window_seconds,
                    known_ids(catalog, slug, deployment, cursor.pred_position))
    return parts, cursor


def log_attrs(cursor: Cursor) -> dict[str, Any]:
    return {"skipped_requests": cursor.skipped, "unmatched_labels": len(cursor.unmatched)}
