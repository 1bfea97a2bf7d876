"""The worker's array path (issue 17): a scikit-learn model with numeric inputs is given a numpy array in its fitted
column order rather than a one-row DataFrame, once the first batch showed both give the very same answer. Pure:
the worker's scoring without a socket or a backend."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from jupyter_mlp_backend.serving import protocol, wire
from jupyter_mlp_backend.serving.model_loading import SklearnModel, array_dtype
from jupyter_mlp_backend.serving.worker import Item, Worker


class SeenLogisticRegression(LogisticRegression):
    """A real logistic regression that remembers what type of input each predict got."""

    def predict(self, X):  # noqa: ANN001, N803
        self.seen = [*getattr(self, "seen", []), type(X).__name__]
        return super().predict(X)


class ThreadSeenLogisticRegression(LogisticRegression):
    """A real logistic regression that remembers which thread each predict ran on, and can be made slow."""

    delay = 0.0

    def predict(self, X):  # noqa: ANN001, N803
        self.threads = [*getattr(self, "threads", []), threading.current_thread().name]
        time.sleep(self.delay)
        return super().predict(X)


class Answers:
    """Where the worker writes its answer frames (the gateway's connection in production)."""

    def __init__(self):
        self.data = b""

    def write(self, frame: bytes) -> None:
        self.data += frame

    def statuses(self) -> list[int]:
        out, at = [], 0
        while at < len(self.data):
            _, n, status = wire.ANSWER.unpack_from(self.data, at)
            out.append(status)
            at += wire.ANSWER.size + n
        return out


async def one_at_a_time(worker: Worker, schema: protocol.Schema, n: int) -> list[int]:
    """n one-row requests, each sent once the one before was answered, through the worker's batching loop."""
    answers, task = Answers(), asyncio.create_task(worker.run())
    try:
        for i in range(n):
            body = json.dumps({"inputs": {"x1": [0.1 * i], "x2": [1.0]}}).encode()
            parsed = protocol.parse_mlflow(body, schema)
            worker.queue.append(Item(i, answers, wire.MLFLOW, "0" * 32, parsed))  # type: ignore[arg-type]
            worker.wake.set()
            for _ in range(5000):
                if len(answers.statuses()) > i:
                    break
                await asyncio.sleep(0.001)
    finally:
        task.cancel()
    return answers.statuses()


def fit(est, x: pd.DataFrame):  # noqa: ANN001, ANN201
    y = (x["x1"] + 0.5 * x["x2"] > 0).astype(int)
    est.fit(x, y)
    raw = infer_signature(x, est.predict(x)).to_dict()
    return est, protocol.Schema.from_mlmodel({"signature": raw})


@pytest.fixture
def x() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(rng.normal(size=(300, 2)), columns=["x1", "x2"])


def items(schema: protocol.Schema, bodies: list[dict]) -> list[Item]:
    parsed = [protocol.parse_mlflow(json.dumps(b).encode(), schema) for b in bodies]
    return [Item(i, None, wire.MLFLOW, "0" * 32, p) for i, p in enumerate(parsed)]  # type: ignore[arg-type]


def expected(est, frame: pd.DataFrame) -> tuple[list, list]:  # noqa: ANN001
    return est.predict(frame).tolist(), est.predict_proba(frame).tolist()


def test_a_numeric_model_is_scored_from_an_array_once_it_answered_as_the_dataframe_did(x):
    est, schema = fit(SeenLogisticRegression(), x)
    worker = Worker(SklearnModel(est, "predict"), schema, name="m", version=1, max_batch=64, max_wait=0)
    assert worker.array_dtype == "float64"
    one = {"dataframe_split": {"columns": ["x2", "x1"], "data": [[x.x2[0], x.x1[0]]]}}  # columns in another order
    records = [{"dataframe_records": x.iloc[i:i + 2].to_dict("records")} for i in (5, 7)]  # a batch of two requests
    inputs = {"inputs": {"x1": [0.25], "x2": [-1.5]}}
    want = [expected(est, x.iloc[:1]), expected(est, x.iloc[[5, 6, 7, 8]]),
            expected(est, pd.DataFrame({"x1": [0.25], "x2": [-1.5]}))]
    est.seen = []
    assert worker._predict(items(schema, [one])) == want[0]
    assert worker.array_ok is True and est.seen == ["DataFrame", "ndarray"]  # compared once, both ways
    assert worker._predict(items(schema, records)) == want[1]
    assert worker._predict(items(schema, [inputs])) == want[2]
    assert est.seen[2:] == ["ndarray", "ndarray"]  # no DataFrame once the check passed


def test_a_pipeline_that_selects_columns_by_name_keeps_the_dataframe(x):
    pipe = make_pipeline(ColumnTransformer([("s", StandardScaler(), ["x2", "x1"])]), LogisticRegression())
    est, schema = fit(pipe, x)
    worker = Worker(SklearnModel(est, "predict"), schema, name="m", version=1, max_batch=64, max_wait=0)
    assert worker.array_dtype == "float64"  # looks eligible, but an array has no column names to select by
    frames_only = Worker(SklearnModel(est, "predict"), schema, name="m", version=1, max_batch=64, max_wait=0)
    frames_only.array_dtype = None  # the worker as it was: every batch a DataFrame
    body = {"dataframe_split": {"columns": ["x1", "x2"], "data": x.iloc[:3].values.tolist()}}
    for _ in range(2):
        assert worker._predict(items(schema, [body])) == frames_only._predict(items(schema, [body]))
    assert worker.array_ok is False


def test_mixed_types_missing_values_and_other_column_orders_go_as_a_dataframe(x):
    est, schema = fit(LogisticRegression(), x)
    mixed = protocol.Schema([protocol.Column("x1", "double"), protocol.Column("n", "long")])
    assert array_dtype(SklearnModel(est, "predict"), mixed) is None
    swapped = protocol.Schema([protocol.Column("x2", "double"), protocol.Column("x1", "double")])
    assert array_dtype(SklearnModel(est, "predict"), swapped) is None  # fitted as x1, x2
    optional = protocol.Schema([protocol.Column("x1", "double"), protocol.Column("x2", "double", required=False)])
    worker = Worker(SklearnModel(est, "predict"), optional, name="m", version=1, max_batch=64, max_wait=0)
    assert worker._array(items(optional, [{"inputs": {"x1": [0.5]}}])) is None  # x2 left out: missing, not 0
    assert worker._array(items(optional, [{"inputs": {"x1": [0.5], "x2": [1.0]}}])).tolist() == [[0.5, 1.0]]


def test_a_fast_model_is_predicted_on_the_event_loop_and_a_slow_one_in_the_thread(x):
    est, schema = fit(ThreadSeenLogisticRegression(), x)

    async def run(delay: float, inline_s: float) -> list[str]:
        est.threads, est.delay = [], delay
        worker = Worker(SklearnModel(est, "predict"), schema, name="m", version=1, max_batch=64, max_wait=0)
        worker.inline_s = inline_s  # the threshold set apart from this machine's load: what is tested is the choice
        assert await one_at_a_time(worker, schema, 4) == [200] * 4
        return est.threads

    fast = asyncio.run(run(0.0, 1.0))
    # the first batch (scored as a DataFrame and as an array) in the thread; then on the loop, no hand-over
    assert fast[:2] == ["predict_0", "predict_0"] and fast[2:] == ["MainThread"] * 3, fast
    slow = asyncio.run(run(0.005, 0.001))  # 5 ms a batch, over the threshold: the loop stays free for pings meanwhile
    assert all(t.startswith("predict") for t in slow), slow


class Transport(Answers):
    """The worker's side of the gateway's connection, as the event loop hands it to a protocol."""


def test_frames_are_cut_as_bytes_arrive_and_a_fast_model_answers_within_the_read(x):
    """The protocol front (issue 17): frames split across reads, or several in one read, are cut and answered in
    order; once the model is known fast, a request is answered inside the very read that completed it — no turn of
    the batching loop between the bytes arriving and the answer being written."""
    from jupyter_mlp_backend.serving.worker import Conn

    est, schema = fit(LogisticRegression(), x)

    def frame(rid: int, x1: float) -> bytes:
        body = json.dumps({"inputs": {"x1": [x1], "x2": [1.0]}}).encode()
        payload = f"{rid:032x}".encode() + body
        return wire.REQUEST.pack(rid, len(payload), wire.MLFLOW) + payload

    async def scenario() -> tuple[list[tuple[int, int, dict]], list[bool]]:
        worker = Worker(SklearnModel(est, "predict"), schema, name="m", version=1, max_batch=64, max_wait=0)
        worker.inline_s = 1.0  # the threshold set apart from this machine's load: what is tested is the path
        conn, t = Conn(worker), Transport()
        conn.connection_made(t)
        task = asyncio.create_task(worker.run())
        try:
            first = frame(1, 0.1)
            conn.data_received(first[:5])  # not even a whole header yet
            conn.data_received(first[5:30])
            conn.data_received(first[30:])  # the first batch goes to the thread (scored both ways)
            for _ in range(5000):
                if t.statuses():
                    break
                await asyncio.sleep(0.001)
            within = []
            for rid in (2, 3):
                before = len(t.statuses())
                conn.data_received(frame(rid, 0.2 * rid))
                within.append(len(t.statuses()) == before + 1)  # answered before data_received returned
            conn.data_received(frame(4, -0.4) + frame(5, 0.5) + frame(6, -0.6)[:9])  # two whole, one begun
            conn.data_received(frame(6, -0.6)[9:])
        finally:
            task.cancel()
        out, at = [], 0
        while at < len(t.data):
            rid, n, status = wire.ANSWER.unpack_from(t.data, at)
            out.append((rid, status, json.loads(t.data[at + wire.ANSWER.size:at + wire.ANSWER.size + n])))
            at += wire.ANSWER.size + n
        return out, within

    answers, within = asyncio.run(scenario())
    assert within == [True, True]
    assert [(rid, status) for rid, status, _ in answers] == [(i, 200) for i in range(1, 7)]
    for rid, _, doc in answers:
        x1 = {1: 0.1, 2: 0.4, 3: 0.6, 4: -0.4, 5: 0.5, 6: -0.6}[rid]
        row = pd.DataFrame({"x1": [x1], "x2": [1.0]})
        assert doc["predictions"] == est.predict(row).tolist()
        assert doc["probabilities"] == est.predict_proba(row).tolist()
        assert doc["prediction_id"] == f"{rid:032x}"
