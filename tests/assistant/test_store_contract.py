"""One contract, every vector store: qdrant-edge-py in-process (the embedded default) and qdrant-client (its
local mode standing in for a Qdrant server, which speaks the same client API)."""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_mlp_gpu.assistant.store import ClientStore, EdgeStore, VectorStore, VectorStoreError

DIM = 16
N = 300


def _open(kind: str, path, dim: int = DIM) -> VectorStore:
    if kind == "edge":
        return EdgeStore(path / "edge", dim)
    return ClientStore(dim, path=path / "qdrant-local")


@pytest.fixture(params=["edge", "client-local"])
def kind(request) -> str:
    return request.param


@pytest.fixture
def opened(kind, tmp_path):
    stores = []

    def open_(dim: int = DIM) -> VectorStore:
        s = _open(kind, tmp_path, dim)
        stores.append(s)
        return s

    yield open_
    for s in stores:
        try:
            s.close()
        except Exception:
            pass


def _unit(rng, n: int, dim: int = DIM) -> np.ndarray:
    v = rng.normal(size=(n, dim))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _points(vectors: np.ndarray, project: str, prefix: str = "run", **payload):
    return [(f"{prefix}:{project}:{i}", v.tolist(), {"project": project, "i": i, **payload})
            for i, v in enumerate(vectors)]


def test_is_a_vector_store(opened):
    assert isinstance(opened(), VectorStore)


def test_query_orders_by_cosine_like_exact_search(opened):
    rng = np.random.default_rng(1)
    store = opened()
    vecs = _unit(rng, N)
    store.upsert(_points(vecs, "a"))
    assert store.count() == N
    for q in _unit(rng, 5):
        hits = store.query(q.tolist(), ["a"], limit=10)
        exact = np.argsort(-(vecs @ q))[:10]
        assert [h[0] for h in hits] == [f"run:a:{i}" for i in exact]
        assert [h[1] for h in hits] == pytest.approx(sorted((vecs @ q)[exact], reverse=True), abs=1e-4)
        assert hits[0][2] == {"project": "a", "i": int(exact[0])}  # the payload as given, without the store's keys


def test_project_filter_isolates_even_the_nearest_point(opened):
    rng = np.random.default_rng(2)
    store = opened()
    q = _unit(rng, 1)[0]
    store.upsert(_points(_unit(rng, 100), "a") + [("secret:b", q.tolist(), {"project": "b"})])
    hits = store.query(q.tolist(), ["a"], limit=100)
    assert len(hits) == 100 and all(h[2]["project"] == "a" for h in hits)
    assert "secret:b" not in [h[0] for h in hits]
    both = store.query(q.tolist(), ["a", "b"], limit=3)
    assert both[0][0] == "secret:b" and both[0][1] == pytest.approx(1.0, abs=1e-5)
    assert store.query(q.tolist(), [], limit=10) == []  # no project named: nothing, never everything
    assert store.query(q.tolist(), ["c"], limit=10) == []


def test_extra_filter_narrows_within_the_projects(opened):
    rng = np.random.default_rng(3)
    store = opened()
    store.upsert(_points(_unit(rng, 50), "a", kind="run") + _points(_unit(rng, 50), "a", "mv", kind="model_version")
                 + _points(_unit(rng, 50), "b", "mv", kind="model_version"))
    q = _unit(rng, 1)[0].tolist()
    hits = store.query(q, ["a"], limit=100, where={"kind": "model_version"})
    assert len(hits) == 50 and {h[2]["kind"] for h in hits} == {"model_version"} and {h[2]["project"] for h in hits} == {"a"}
    assert len(store.query(q, ["a"], limit=100, where={"kind": ["run", "model_version"]})) == 100
    assert len(store.query(q, ["a"], limit=100, where={"i": 7})) == 2


def test_upsert_replaces_a_point_by_id(opened):
    rng = np.random.default_rng(4)
    store = opened()
    a, b = _unit(rng, 2)
    store.upsert([("run:1", a.tolist(), {"project": "a", "name": "old"})])
    store.upsert([("run:1", b.tolist(), {"project": "a", "name": "new"})])
    assert store.count() == 1
    (hit,) = store.query(b.tolist(), ["a"], limit=5)
    assert hit[0] == "run:1" and hit[2]["name"] == "new" and hit[1] == pytest.approx(1.0, abs=1e-5)


def test_delete_and_delete_where_show_in_the_next_query(opened):
    rng = np.random.default_rng(5)
    store = opened()
    vecs = _unit(rng, 40)
    store.upsert(_points(vecs[:20], "a") + _points(vecs[20:], "b"))
    top = store.query(vecs[3].tolist(), ["a"], limit=1)[0][0]
    assert top == "run:a:3"
    store.delete(["run:a:3", "never-stored"])
    assert "run:a:3" not in [h[0] for h in store.query(vecs[3].tolist(), ["a"], limit=20)]
    assert store.count() == 39
    store.delete_where("project", "b")  # a whole project leaves the index
    assert store.query(vecs[25].tolist(), ["a", "b"], limit=40) and \
        all(h[2]["project"] == "a" for h in store.query(vecs[25].tolist(), ["a", "b"], limit=40))
    assert store.count() == 19


def test_reopened_from_disk_keeps_points_and_indexes(kind, tmp_path):
    rng = np.random.default_rng(6)
    vecs = _unit(rng, 200)
    store = _open(kind, tmp_path)
    store.upsert(_points(vecs, "a"))
    store.delete(["run:a:0"])
    store.optimize()
    store.close()
    again = _open(kind, tmp_path)
    try:
        assert again.count() == 199
        hits = again.query(vecs[5].tolist(), ["a"], limit=3)
        assert hits[0][0] == "run:a:5" and hits[0][2]["i"] == 5
        assert again.query(vecs[5].tolist(), ["b"], limit=3) == []
    finally:
        again.close()
    with pytest.raises(VectorStoreError):  # a store of another dimension cannot open these vectors
        _open(kind, tmp_path, dim=DIM + 1)


@pytest.mark.parametrize("points, match", [
    ([("r", [0.1] * (DIM - 1), {"project": "a"})], "dimension 15 does not match the store's 16"),
    ([("r", [0.1] * DIM, {"name": "no project"})], "must name its project"),
    ([("r", [0.1] * DIM, {"project": ""})], "must name its project"),
    ([("", [0.1] * DIM, {"project": "a"})], "non-empty string"),
    ([("r", [float("nan")] * DIM, {"project": "a"})], "NaN"),
    ([("r", [0.1] * DIM, {"project": "a", "_id": "x"})], "reserved"),
    ([("r", [0.1] * DIM)], r"\(id, vector, payload\)"),
])
def test_bad_points_are_refused_whole(opened, points, match):
    store = opened()
    good = ("ok", [0.2] * DIM, {"project": "a"})
    with pytest.raises(VectorStoreError, match=match):
        store.upsert([good, *points])
    assert store.count() == 0  # nothing of a refused batch is written


def test_bad_queries_are_refused(opened):
    store = opened()
    store.upsert([("ok", [0.2] * DIM, {"project": "a"})])
    with pytest.raises(VectorStoreError, match="dimension 3"):
        store.query([0.1, 0.2, 0.3], ["a"])
    with pytest.raises(VectorStoreError, match="list of project"):
        store.query([0.1] * DIM, "a")  # a string is not a list of projects
    with pytest.raises(VectorStoreError, match="limit"):
        store.query([0.1] * DIM, ["a"], limit=0)
    with pytest.raises(VectorStoreError, match="project filter"):
        store.query([0.1] * DIM, ["a"], where={"project": "b"})  # cannot widen the project filter
    with pytest.raises(VectorStoreError, match="filter 'kind'"):
        store.query([0.1] * DIM, ["a"], where={"kind": []})
