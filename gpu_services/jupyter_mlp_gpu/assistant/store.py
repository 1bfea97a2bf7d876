"""The assistant's vector store: one small protocol, two Qdrant implementations, one contract test suite
(tests/assistant/test_store_contract.py).

- `EdgeStore`: the embedded default. Qdrant's own engine in-process (`qdrant-edge-py`), HNSW (`m`,
  `ef_construct` from settings), a keyword payload index on `project`, persisted under `MLP_HOME/assistant/index`
  with a write-ahead log. HNSW is built by `optimize()`, which runs by itself after `optimize_after` writes.
- `ClientStore`: `qdrant-client`, a Qdrant server by URL (a team), or its local mode (`path`, or `":memory:"`),
  which speaks the server client's API with brute-force search.

Every point is `(id, vector, payload)`: the id is any string (a record key such as `run:0f3a…`; Qdrant wants
integers or UUIDs, so the stores key points by `uuid5(id)` and keep the id in the payload as `_id`), the payload
must carry the record's `project`. Every query names the caller's projects and returns nothing for an empty list:
a caller can never reach a record of a project it did not name, however near the record is.
"""

from __future__ import annotations

import math
import threading
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

PROJECT = "project"
ID_KEY = "_id"
COLLECTION = "mlp_records"
BATCH = 1000
MAX_LIMIT = 1000
_NS = uuid.UUID("6f1d2c1e-7a8b-4c55-9e21-3b0c0a6f4d10")

Point = tuple[str, Sequence[float], Mapping[str, Any]]
Hit = tuple[str, float, dict[str, Any]]
Scalar = str | int | bool


class VectorStoreError(ValueError):
    """Bad input to a vector store (wrong dimension, no project, a malformed filter): the message says which."""


@runtime_checkable
class VectorStore(Protocol):
    dim: int

    def upsert(self, points: Iterable[Point]) -> None:
        """Insert or replace points; each payload carries `project` (a non-empty string)."""

    def delete(self, ids: Iterable[str]) -> None:
        """Remove points by id (unknown ids are ignored); the next query no longer sees them."""

    def delete_where(self, field: str, value: Scalar) -> None:
        """Remove every point whose payload `field` equals `value` (a whole project: `("project", "churn")`)."""

    def query(self, vector: Sequence[float], projects: Sequence[str], limit: int = 10,
              where: Mapping[str, Scalar | Sequence[Scalar]] | None = None) -> list[Hit]:
        """The `limit` nearest points by cosine similarity, best first, among the points of `projects` (required:
        an empty list returns nothing) whose payload also matches `where` (a field equal to a value, or to any of
        a list of values)."""

    def count(self) -> int:
        """Number of points stored."""

    def optimize(self) -> bool:
        """Build or refresh the ANN index now; True when something was done. A no-op where the store indexes by
        itself."""

    def close(self) -> None:
        """Flush to disk and release the store; a store opened again on the same path sees the same points."""


def point_uuid(record_id: str) -> str:
    return str(uuid.uuid5(_NS, record_id))


def _vector(v: Sequence[float], dim: int) -> list[float]:
    try:
        out = [float(x) for x in v]
    except (TypeError, ValueError) as e:
        raise VectorStoreError(f"a vector must be a sequence of numbers: {e}") from None
    if len(out) != dim:
        raise VectorStoreError(f"vector dimension {len(out)} does not match the store's {dim}")
    if not all(math.isfinite(x) for x in out):
        raise VectorStoreError("a vector holds NaN or infinity")
    return out


def _payload(record_id: Any, payload: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(record_id, str) or not record_id:
        raise VectorStoreError(f"a point id must be a non-empty string, not {record_id!r}")
    if not isinstance(payload, Mapping):
        raise VectorStoreError(f"point {record_id!r}: the payload must be a mapping")
    project = payload.get(PROJECT)
    if not isinstance(project, str) or not project:
        raise VectorStoreError(f"point {record_id!r}: the payload must name its project (a non-empty string)")
    if ID_KEY in payload:
        raise VectorStoreError(f"point {record_id!r}: payload key {ID_KEY!r} is reserved")
    return {**payload, ID_KEY: record_id}


def _check_points(points: Iterable[Point], dim: int) -> list[tuple[str, list[float], dict[str, Any]]]:
    out = []
    for p in points:
        try:
            record_id, vector, payload = p
        except (TypeError, ValueError):
            raise VectorStoreError("a point is (id, vector, payload)") from None
        body = _payload(record_id, payload)
        try:
            out.append((point_uuid(record_id), _vector(vector, dim), body))
        except VectorStoreError as e:
            raise VectorStoreError(f"point {record_id!r}: {e}") from None
    return out


def _check_query(projects: Sequence[str], limit: int, where: Mapping[str, Any] | None) -> list[str]:
    if isinstance(projects, str) or not all(isinstance(p, str) and p for p in projects):
        raise VectorStoreError("projects must be a list of project slugs")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise VectorStoreError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    for field, value in (where or {}).items():
        if not isinstance(field, str) or not field or field in (PROJECT, ID_KEY):
            raise VectorStoreError(f"cannot filter on {field!r} (the project filter is the projects argument)")
        values = value if isinstance(value, list | tuple) else [value]
        if not values or not all(isinstance(x, str | int) for x in values):
            raise VectorStoreError(f"filter {field!r}: a string, integer or boolean, or a non-empty list of them")
    return list(dict.fromkeys(projects))


def _hit(point_id: Any, score: float, payload: Mapping[str, Any] | None) -> Hit:
    body = dict(payload or {})
    return str(body.pop(ID_KEY, point_id)), float(score), body


def _batches(items: list, n: int = BATCH):
    for i in range(0, len(items), n):
        yield items[i:i + n]


class EdgeStore:
    """`qdrant-edge-py`: Qdrant's engine in this process, persisted at `path`."""

    def __init__(self, path: str | Path, dim: int, *, m: int = 64, ef_construct: int = 200, hnsw_ef: int = 128,
                 full_scan_threshold: int = 10_000, optimize_after: int = 5_000, acorn: bool = True,
                 index_fields: Sequence[str] = (PROJECT,)):
        import qdrant_edge as qe

        self._qe = qe
        self.dim = dim
        self.path = Path(path)
        self.hnsw_ef = hnsw_ef
        # ACORN: a filtered graph search that also follows neighbours' neighbours, so a filter keeping a small share
        # of the points (a caller in a few of many projects) does not strand the search in a disconnected graph.
        self.acorn = acorn
        self.optimize_after = optimize_after
        self._writes = 0
        self._lock = threading.RLock()
        config = qe.EdgeConfig(
            vectors=qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine),
            # full_scan_threshold (KB of vectors): a filtered query whose candidates weigh less scans them exactly
            # through the payload index instead of walking the graph.
            hnsw_config=qe.HnswIndexConfig(m=m, ef_construct=ef_construct, full_scan_threshold=full_scan_threshold),
        )
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            if any(self.path.iterdir()):
                self._shard = qe.EdgeShard.load(str(self.path), config)  # checks the dimension against the disk
            else:
                self._shard = qe.EdgeShard.create(str(self.path), config)
        except Exception as e:  # the engine raises plain Exception
            raise VectorStoreError(f"cannot open the index at {self.path}: {e}") from e
        have = set(self._shard.info().payload_schema)
        for field in index_fields:
            if field not in have:
                params = qe.KeywordIndexParams(is_tenant=True) if field == PROJECT else qe.PayloadSchemaType.Keyword
                self._shard.update(qe.UpdateOperation.create_field_index(field, params))

    def _filter(self, projects: list[str], where: Mapping[str, Any] | None):
        qe = self._qe
        must = [qe.FieldCondition(key=PROJECT, match=qe.MatchAny(any=projects))]
        for field, value in (where or {}).items():
            match = qe.MatchAny(any=list(value)) if isinstance(value, list | tuple) else qe.MatchValue(value)
            must.append(qe.FieldCondition(key=field, match=match))
        return qe.Filter(must=must)

    def upsert(self, points: Iterable[Point]) -> None:
        checked = _check_points(points, self.dim)
        qe = self._qe
        with self._lock:
            for chunk in _batches(checked):
                self._shard.update(qe.UpdateOperation.upsert_points([qe.Point(i, v, p) for i, v, p in chunk]))
            self._writes += len(checked)
            if self.optimize_after and self._writes >= self.optimize_after:
                self.optimize()

    def delete(self, ids: Iterable[str]) -> None:
        uuids = [point_uuid(str(i)) for i in ids]
        with self._lock:
            for chunk in _batches(uuids):
                self._shard.update(self._qe.UpdateOperation.delete_points(chunk))

    def delete_where(self, field: str, value: Scalar) -> None:
        qe = self._qe
        if not isinstance(field, str) or not field or not isinstance(value, str | int):
            raise VectorStoreError("delete_where needs a field name and a string, integer or boolean value")
        with self._lock:
            self._shard.update(qe.UpdateOperation.delete_points_by_filter(
                qe.Filter(must=[qe.FieldCondition(key=field, match=qe.MatchValue(value))])))

    def query(self, vector: Sequence[float], projects: Sequence[str], limit: int = 10,
              where: Mapping[str, Scalar | Sequence[Scalar]] | None = None) -> list[Hit]:
        projects = _check_query(projects, limit, where)
        vec = _vector(vector, self.dim)
        if not projects:
            return []
        qe = self._qe
        found = self._shard.query(qe.QueryRequest(
            limit=limit, query=qe.Query.Nearest(vec), filter=self._filter(projects, where), with_payload=True,
            params=qe.SearchParams(hnsw_ef=self.hnsw_ef, acorn=qe.AcornSearchParams(enable=self.acorn))))
        return [_hit(p.id, p.score, p.payload) for p in found]

    def count(self) -> int:
        return self._shard.count(self._qe.CountRequest(exact=True))

    def optimize(self) -> bool:
        with self._lock:
            self._writes = 0
            return bool(self._shard.optimize())

    def flush(self) -> None:
        with self._lock:
            self._shard.flush()

    def close(self) -> None:
        with self._lock:
            if self._shard is not None:
                self._shard.flush()
                self._shard.close()
                self._shard = None


class ClientStore:
    """`qdrant-client`: a Qdrant server at `url`, or its local mode at `path` (a folder, or `":memory:"`)."""

    def __init__(self, dim: int, *, url: str | None = None, path: str | Path | None = None,
                 api_key: str | None = None, collection: str = COLLECTION, m: int = 64, ef_construct: int = 200,
                 hnsw_ef: int = 128):
        from qdrant_client import QdrantClient, models

        if (url is None) == (path is None):
            raise VectorStoreError("ClientStore needs a server url or a local path (\":memory:\"), not both")
        self._m = models
        self.dim = dim
        self.collection = collection
        self.hnsw_ef = hnsw_ef
        self.local = url is None
        if url is not None:
            self._client = QdrantClient(url=url, api_key=api_key)
        elif str(path) == ":memory:":
            self._client = QdrantClient(location=":memory:")
        else:
            Path(path).mkdir(parents=True, exist_ok=True)
            self._client = QdrantClient(path=str(path))
        if self._client.collection_exists(collection):
            have = self._client.get_collection(collection).config.params.vectors
            size = getattr(have, "size", None)
            if size != dim:
                raise VectorStoreError(f"collection {collection!r} holds vectors of dimension {size}, not {dim}")
        else:
            self._client.create_collection(
                collection, vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE),
                hnsw_config=models.HnswConfigDiff(m=m, ef_construct=ef_construct))
            if not self.local:  # local mode has no payload indexes (and warns)
                self._client.create_payload_index(
                    collection, PROJECT,
                    models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True))

    def _filter(self, projects: list[str], where: Mapping[str, Any] | None):
        m = self._m
        must = [m.FieldCondition(key=PROJECT, match=m.MatchAny(any=projects))]
        for field, value in (where or {}).items():
            match = m.MatchAny(any=list(value)) if isinstance(value, list | tuple) else m.MatchValue(value=value)
            must.append(m.FieldCondition(key=field, match=match))
        return m.Filter(must=must)

    def upsert(self, points: Iterable[Point]) -> None:
        checked = _check_points(points, self.dim)
        for chunk in _batches(checked):
            self._client.upsert(self.collection, wait=True,
                                points=[self._m.PointStruct(id=i, vector=v, payload=p) for i, v, p in chunk])

    def delete(self, ids: Iterable[str]) -> None:
        uuids = [point_uuid(str(i)) for i in ids]
        for chunk in _batches(uuids):
            self._client.delete(self.collection, points_selector=self._m.PointIdsList(points=chunk), wait=True)

    def delete_where(self, field: str, value: Scalar) -> None:
        m = self._m
        if not isinstance(field, str) or not field or not isinstance(value, str | int):
            raise VectorStoreError("delete_where needs a field name and a string, integer or boolean value")
        self._client.delete(self.collection, wait=True, points_selector=m.FilterSelector(
            filter=m.Filter(must=[m.FieldCondition(key=field, match=m.MatchValue(value=value))])))

    def query(self, vector: Sequence[float], projects: Sequence[str], limit: int = 10,
              where: Mapping[str, Scalar | Sequence[Scalar]] | None = None) -> list[Hit]:
        projects = _check_query(projects, limit, where)
        vec = _vector(vector, self.dim)
        if not projects:
            return []
        params = None if self.local else self._m.SearchParams(hnsw_ef=self.hnsw_ef)  # local mode: brute force
        res = self._client.query_points(self.collection, query=vec, query_filter=self._filter(projects, where),
                                        limit=limit, with_payload=True, search_params=params)
        return [_hit(p.id, p.score, p.payload) for p in res.points]

    def count(self) -> int:
        return self._client.count(self.collection, exact=True).count

    def optimize(self) -> bool:
        return False  # a server indexes by itself; local mode has no index

    def close(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._client.close()


def open_store(settings: Any, dim: int) -> VectorStore:
    """The store `settings` name (`vector_store`, `qdrant_url`, `hnsw_*`), for vectors of `dim`."""
    root = Path(settings.home) / "assistant"
    hnsw = {"m": settings.hnsw_m, "ef_construct": settings.hnsw_ef_construct, "hnsw_ef": settings.hnsw_ef}
    if settings.vector_store == "edge":
        return EdgeStore(root / "index", dim, **hnsw)
    if settings.qdrant_url:
        return ClientStore(dim, url=settings.qdrant_url, api_key=settings.qdrant_api_key, **hnsw)
    return ClientStore(dim, path=root / "qdrant-local", **hnsw)
