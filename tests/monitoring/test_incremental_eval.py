"""Incremental monitor evaluation against a full recomputation (no mocks: a real Iceberg prediction log and feedback
table, real reference profiles, the drift tests and performance metrics the monitor stores).

Rounds of traffic are appended to the log; after each round the monitor's cursor is loaded from disk with a new
catalog (a backend restart), reads only what was appended since, and its windows' verdicts — drift per feature with
statistics and p-values, performance metrics, labelled counts — must equal those of the whole log read and cut
again. The traffic has requests of one and of several rows, a version switch, an unreadable request, a feature
sent as null or not at all, a categorical feature, late labels (a list label for a multi-row request, a corrected
label, a label for a prediction whose windows are final, a label naming no prediction)."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pyiceberg.exceptions import NoSuchTableError

from jupyter_mlp_backend.datasets import catalog as catalog_module
from jupyter_mlp_backend.datasets.catalog import Catalog
from jupyter_mlp_backend.monitoring import cursor, drift
from jupyter_mlp_backend.monitoring.windows import (full_parts, labelled_count, log_frame, window_drift,
                                                    window_performance)
from jupyter_mlp_backend.serving.predlog import table_name, write_feedback

SLUG, DEP = "demo", "risk-api"
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)
PRED_SCHEMA = pa.schema([("prediction_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("model", pa.string()),
                         ("version", pa.int64()), ("protocol", pa.string()), ("latency_ms", pa.float64()),
                         ("request", pa.string()), ("response", pa.string())])
BASELINE = {"roc_auc": 0.9, "f1": 0.8}


def reference(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 3000
    return pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n),
                         "color": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2])})


class Traffic:
    """Requests appended to the log as the gateway writes them, and labels as /feedback writes them."""

    def __init__(self, catalog: Catalog, seed: int = 1):
        self.catalog, self.rng, self.t = catalog, np.random.default_rng(seed), T0
        self.pids: list[tuple[str, int]] = []  # (prediction id, rows) in order

    def send(self, requests: int, version: int, shift: float = 0.0, sizes: tuple[int, ...] = (1, 1, 3)) -> None:
        out = []
        for i in range(requests):
            n = int(self.rng.choice(sizes))
            x1 = self.rng.normal(shift, 1, n)
            x2 = self.rng.normal(0, 1, n)
            color = self.rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2] if not shift else [0.2, 0.3, 0.5])
            pid = uuid.uuid4().hex
            if i % 17 == 5:  # x2 sent as null
                body = {"dataframe_records": [{"x1": float(a), "x2": None, "color": str(c)} for a, c in zip(x1, color)]}
            elif i % 23 == 7:  # x2 not sent at all
                body = {"dataframe_split": {"columns": ["x1", "color"],
                                            "data": [[float(a), str(c)] for a, c in zip(x1, color)]}}
            else:
                body = {"dataframe_split": {"columns": ["x1", "x2", "color"],
                                            "data": [[float(a), float(b), str(c)] for a, b, c in zip(x1, x2, color)]}}
            proba = 1 / (1 + np.exp(-(x1 + 0.5 * x2)))
            response = {"predictions": [int(p > 0.5) for p in proba], "classes": [0, 1],
                        "probabilities": [[float(1 - p), float(p)] for p in proba]}
            request = json.dumps(body) if i % 41 != 3 else "{not json"  # an unreadable request now and then
            self.t += timedelta(milliseconds=int(self.rng.integers(200, 900)))
            out.append((pid, self.t, "risk", version, "mlflow", 1.0, request, json.dumps(response)))
            if i % 41 != 3:
                self.pids.append((pid, n))
        cols = list(zip(*out))
        data = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, PRED_SCHEMA)], schema=PRED_SCHEMA)
        self.catalog.append_arrow(SLUG, table_name("predictions", DEP), data)

    def label(self, items: list[tuple[str, object]]) -> None:
        self.t += timedelta(milliseconds=50)
        write_feedback(self.catalog, SLUG, DEP, [(pid, self.t, json.dumps(label), "lena") for pid, label in items])

    def truth(self, pid: str, n: int) -> object:
        y = [int(v) for v in self.rng.random(n) < 0.5]
        return y if n > 1 else y[0]


def verdicts(parts, profiles: dict[int, drift.ReferenceProfile], answers_only_too: bool = True) -> dict:
    out = {}
    for part in parts:
        for seq, rows in part.windows:
            v = {"labelled": labelled_count(rows), "rows": len(rows) if not rows.attrs.get("answers_only") else None,
                 "performance": window_performance(rows, BASELINE, {}), "recent": seq in part.recent}
            if not rows.attrs.get("answers_only"):
                v["drift"] = window_drift(profiles.get(part.number), rows)
            out[(part.number, seq)] = v
    return out


def full(catalog: Catalog, size: int, seconds: int | None, now: datetime):
    frame = log_frame(SimpleNamespace(state=SimpleNamespace(datasets=catalog)), SLUG, DEP)
    return full_parts(frame, size, seconds, now), frame.attrs


@pytest.mark.parametrize("size,seconds", [(40, None), (1000, 30)])
def test_incremental_verdicts_equal_a_full_recomputation(tmp_path, monkeypatch, size, seconds):
    """By count, the log and feedback tables are also trimmed as the committer trims them (old snapshots
    expired, manifests merged) between evaluations: the cursors' positions outlive the snapshots they were read
    at, so nothing is read twice or missed."""
    from jupyter_mlp_backend.datasets import catalog as catalog_module

    monkeypatch.setattr(catalog_module, "LOG_MANIFESTS", 2)  # merge at once (the committer waits for 16)
    home = tmp_path / "home"
    profiles = {1: drift.build_profile(reference(0), window_size=40), 2: drift.build_profile(reference(5),
                                                                                            window_size=40)}
    traffic = Traffic(Catalog(home))
    key = (7, size, seconds, "created")
    emitted: dict = {}  # (version, seq) -> the verdict stored when the window was new
    rounds = [
        lambda: traffic.send(130, 1),
        lambda: (traffic.send(90, 1), traffic.label([(p, traffic.truth(p, n)) for p, n in traffic.pids[:120]])),
        lambda: traffic.send(400, 1, shift=0.8),  # drift; more than PERF_WINDOWS windows by count
        lambda: (traffic.label([(p, traffic.truth(p, n)) for p, n in traffic.pids[120:560]]
                               + [(traffic.pids[0][0], 1), ("f" * 32, 1)]),  # final windows' id; an unknown id
                 traffic.send(70, 2)),  # the version switch
        lambda: (traffic.label([(p, 1 - lab if isinstance(lab, int) else lab) for p, lab in
                                [(p, traffic.truth(p, n)) for p, n in traffic.pids[-60:]]]),),  # relabelled later
        lambda: traffic.label([(p, traffic.truth(p, n)) for p, n in traffic.pids[-60:]]),  # corrected again
        lambda: None,  # nothing new: time passes (by time, the last slices end)
    ]
    checked, performed, labelled = 0, set(), {}
    trimmed = 0
    for i, step in enumerate(rounds):
        step()
        if seconds is None:
            traffic.send(3, 2 if i >= 3 else 1)  # two commits a round at least, so there is something to expire
            for kind in ("predictions", "feedback"):
                with contextlib.suppress(LookupError, NoSuchTableError):
                    trimmed += Catalog(home).trim(SLUG, table_name(kind, DEP), 1, 2**62)
        now = traffic.t + timedelta(seconds=31 if i == len(rounds) - 1 else 0)
        catalog = Catalog(home)  # a restart: a new catalog, the cursor read back from disk
        c = cursor.load(home, 7, key)
        preds, fb, c = cursor.read_new(catalog, SLUG, DEP, c)
        parts = cursor.advance(c, preds, fb, size, seconds, cursor.known_ids(catalog, SLUG, DEP, c.pred_position),
                               now=now)
        cursor.save(home, 7, c)
        ours = verdicts(parts, profiles)
        whole_parts, attrs = full(catalog, size, seconds, now)
        theirs = verdicts(whole_parts, profiles)
        assert cursor.log_attrs(c) == {"skipped_requests": attrs["skipped_requests"],
                                       "unmatched_labels": attrs["unmatched_labels"]}
        assert {p.number: p.pending for p in parts} == {p.number: p.pending for p in whole_parts}
        assert {(p.number, seq) for p in parts for seq in p.recent} == {k for k, v in theirs.items() if v["recent"]}
        # every newest window whose labelled count moved is given for its performance to be stored again
        assert {k for k, v in theirs.items() if v["recent"] and v["labelled"] != labelled.get(k)} <= set(ours)
        labelled.update((k, v["labelled"]) for k, v in theirs.items())
        for k, v in ours.items():
            assert v["labelled"] == theirs[k]["labelled"], k
            assert v["performance"] == theirs[k]["performance"], k
            performed.add(v["performance"]["status"])
            if "drift" in v:  # a window new in this round: the drift the monitor stores once
                assert k not in emitted
                assert v["drift"] == theirs[k]["drift"], k
                assert v["rows"] == theirs[k]["rows"]
                emitted[k] = v
                checked += 1
        assert set(emitted) == set(theirs), "every complete window was emitted once"
    assert checked >= 10
    statuses = {v["drift"]["status"] for v in emitted.values()}
    assert "drift" in statuses and "ok" in statuses
    assert performed & {"ok", "degraded"}, performed  # late labels made some windows' performance computable
    assert cursor.log_attrs(c)["unmatched_labels"] == 1 and cursor.log_attrs(c)["skipped_requests"] > 0
    if seconds is None:
        assert trimmed >= 5, "snapshots read by earlier evaluations were expired"


def test_an_evaluation_reads_only_what_was_appended_since_the_last(tmp_path):
    home = tmp_path / "home"
    traffic = Traffic(Catalog(home))
    key = (1, 50, None, "x")
    for requests in (300, 20, 0, 45):
        if requests:
            traffic.send(requests, 1, sizes=(1,))
        c = cursor.load(home, 3, key)
        preds, fb, c = cursor.read_new(Catalog(home), SLUG, DEP, c)
        cursor.advance(c, preds, fb, 50, None, lambda ids: set())
        cursor.save(home, 3, c)
        assert len(preds) == requests
        assert len(c.pending[1]) < 50  # what waits for a window is less than a window
    assert cursor.load(home, 3, (1, 60, None, "x")).pred_position is None  # another window size: read again


def test_a_cursor_that_no_longer_fits_its_log_reads_the_log_again(tmp_path):
    """A log made again under the monitor (the cursor's position is past the table's last commit): the cursor
    starts again from the log's start rather than reading from nowhere or twice. (An expired snapshot is no reason:
    positions outlive snapshots, see the trimmed rounds of test_incremental_verdicts_equal_a_full_recomputation.)"""
    home = tmp_path / "home"
    traffic = Traffic(Catalog(home))
    traffic.send(120, 1, sizes=(1,))
    c = cursor.Cursor((1, 50, None, "x"), pred_position=12345, skipped=9)
    c.pending[1] = cursor.Rows()
    preds, fb, c = cursor.read_new(Catalog(home), SLUG, DEP, c)
    assert len(preds) == 120 and c.skipped == 0 and not c.pending and c.pred_position not in (None, 12345)
    # rows rewritten after the position (an overwrite, not an append): read again, the rewritten rows only
    import io

    import pyarrow.parquet as pq

    catalog = Catalog(home)
    kept = catalog.scan(SLUG, table_name("predictions", DEP)).slice(0, 30)
    buf = io.BytesIO()
    pq.write_table(kept, buf)
    catalog.write(SLUG, table_name("predictions", DEP), buf.getvalue(), "overwrite")
    c.skipped = 9
    preds, fb, c = cursor.read_new(catalog, SLUG, DEP, c)
    assert len(preds) == 30 and c.skipped == 0
    # an Iceberg v1 table has no sequence numbers: no position is trusted, it is read whole each time
    catalog._open().create_table(f"p_{SLUG}.v1_log", schema=kept.schema, properties={"format-version": "1"})
    catalog.append_arrow(SLUG, "v1_log", kept)
    _, position = catalog.appended(SLUG, "v1_log", None)
    catalog.append_arrow(SLUG, "v1_log", kept)
    with pytest.raises(ValueError):
        catalog.appended(SLUG, "v1_log", position)


def test_the_cursor_is_json_and_an_old_pickled_cursor_is_never_unpickled(tmp_path):
    """The cursor on disk is plain JSON (inspectable, no code runs when it is read) that reads back to the same
    state: rows with their times, labels, the ids of unmatched labels. A pickled cursor left by an earlier release
    is removed unread (unpickling runs code) and the log is read again from its start."""
    import pickle

    home = tmp_path / "home"
    traffic = Traffic(Catalog(home))
    traffic.send(130, 1)
    traffic.label([(p, traffic.truth(p, n)) for p, n in traffic.pids[:40]] + [("f" * 32, [1, None])])
    key = (1, 40, None, "2026-11-30T10:00:00")
    c = cursor.load(home, 5, key)
    preds, fb, c = cursor.read_new(Catalog(home), SLUG, DEP, c)
    cursor.advance(c, preds, fb, 40, None, lambda ids: set(), now=traffic.t)
    c.pending[1].cols["x1"][0] = float("nan")  # a value JSON has no literal for
    cursor.save(home, 5, c)
    path = cursor.cursor_path(home, 5)
    assert path.suffix == ".json"
    doc = json.loads(path.read_text())
    assert doc["format"] == cursor.FORMAT and doc["key"] == list(key)
    back = cursor.load(home, 5, key)
    for name in ("key", "pred_position", "fb_position", "skipped", "seq", "labels", "unmatched"):
        assert getattr(back, name) == getattr(c, name), name
    assert back.unmatched == {"f" * 32}
    def same(a, b) -> bool:  # noqa: E306 - NaN is not equal to itself
        return a.meta == b.meta and a.cols.keys() == b.cols.keys() and all(
            json.dumps(a.cols[k]) == json.dumps(b.cols[k]) for k in a.cols)
    assert back.pending.keys() == c.pending.keys() and all(same(back.pending[n], c.pending[n]) for n in c.pending)
    assert [s for s, _ in back.recent[1]] == [s for s, _ in c.recent[1]]
    assert all(same(a, b) for (_, a), (_, b) in zip(back.recent[1], c.recent[1]))
    assert isinstance(back.pending[1].meta["__ts"][0], datetime) and back.pending[1].meta["__ts"][0].tzinfo

    marker = tmp_path / "unpickled"

    class Boom:
        def __reduce__(self):
            return (marker.write_text, ("code ran",))

    old = path.with_suffix(".pkl")
    old.write_bytes(pickle.dumps({"format": 1, "cursor": Boom()}))
    path.unlink()
    fresh = cursor.load(home, 5, key)
    assert not marker.exists() and not old.exists()
    assert fresh.pred_position is None and not fresh.pending  # the log is read again from its start
    path.write_text("{not json")  # an unreadable cursor: read the log again
    assert cursor.load(home, 5, key).pred_position is None


def test_what_an_evaluation_reads_of_the_log_stays_the_same_as_its_commits_grow(tmp_path, monkeypatch):
    """Issue 17: an evaluation's cost independent of the log's length. What its read of the log parses and opens
    — the table's snapshots (in the metadata), the committer's record of spool files (a table property), the
    manifests and the manifest entries opened — is counted after 8 and after 32 of the committer's commits (all
    within its former 10-minute record window), reading the one commit appended since the cursor, then the six
    appended since: the same counts, whatever the length; the entries opened are the new commits' only (before,
    a manifest merged on append held every commit of the log). Counts, not times. Nothing is lost or read
    twice."""
    import asyncio

    import pyiceberg.manifest as manifest

    from jupyter_mlp_backend.serving import predlog

    monkeypatch.setattr(predlog, "LOG_SNAPSHOTS", 3)  # trim every few commits (the committer keeps 8)
    monkeypatch.setattr(catalog_module, "LOG_MANIFESTS", 4)  # merge every few commits (the committer: 8)
    home = tmp_path / "home"
    catalog, log = Catalog(home), predlog.PredictionLog(Catalog(home), home)
    opened: list[int] = []  # entries of each manifest opened
    fetch = manifest.ManifestFile.fetch_manifest_entry

    def counted(self, io, discard_deleted=True):  # noqa: ANN001, ANN202 - the real read, counted
        entries = fetch(self, io, discard_deleted)
        opened.append(len(entries))
        return entries

    monkeypatch.setattr(manifest.ManifestFile, "fetch_manifest_entry", counted)
    sent: list[str] = []

    def commits(n: int) -> None:  # what the gateway and the committer process do, one spool file a commit
        for _ in range(n):
            for _ in range(2):
                sent.append(uuid.uuid4().hex)
                log.add(SLUG, DEP, predlog.row(sent[-1], "risk", 1, "mlflow", 1.0, b"{}", b"{}"))
            asyncio.run(log.flush())
            predlog.commit_spool(catalog, predlog.spool_root(home), report=lambda **kw: None)

    c = cursor.Cursor((1, 50, None, "x"))
    read: list[str] = []

    def evaluation_reads() -> tuple:
        nonlocal c
        opened.clear()
        preds, _, c = cursor.read_new(Catalog(home), SLUG, DEP, c)
        read.extend(p["prediction_id"] for p in preds)
        table = catalog._open().load_table(f"p_{SLUG}.{table_name('predictions', DEP)}")
        return (len(preds), len(table.snapshots()), len(table.properties.get(predlog.RECORD, "").split()), list(opened),
                len(table.current_snapshot().manifests(table.io)))

    shapes = {}
    for length in (8, 32):
        commits(length - len(sent) // 2 - 1)
        evaluation_reads()  # the cursor catches up
        commits(1)
        shapes[length] = evaluation_reads()
        commits(6)
        rows, _, _, entries, _ = evaluation_reads()
        assert (rows, sum(entries)) == (12, 6), (length, entries)  # the six new commits' files, nothing older
    assert shapes[8][:4] == shapes[32][:4] == (2, shapes[8][1], 1, [1]), shapes  # (rows, snapshots, record, opened)
    assert shapes[8][1] <= 2 * predlog.LOG_SNAPSHOTS
    assert shapes[32][4] <= 3 * catalog_module.LOG_MANIFESTS  # the manifest list: a few tiers, not one per commit
    assert sorted(read) == sorted(sent)
