"""What the experiments feature keeps while the backend runs: MLflow, its store, change signals, small caches."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, defaultdict

from sqlalchemy import Engine, create_engine, event

from jupyter_mlp.settings import Settings

from ..mlflow_service import MlflowService
from .search import RunSearch, prepare_store


class LRU(OrderedDict):
    def __init__(self, size: int = 100_000):
        super().__init__()
        self.size = size

    def put(self, key, value) -> None:  # noqa: ANN001
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)


class ProjectChanges:
    """A counter per project, bumped by the gateway on every successful write; waiters wake on a bump."""

    def __init__(self) -> None:
        self._cursor: dict[str, int] = defaultdict(int)
        self._cond = asyncio.Condition()

    def cursor(self, slug: str) -> int:
        return self._cursor[slug]

    async def bump(self, slug: str) -> None:
        async with self._cond:
            self._cursor[slug] += 1
            self._cond.notify_all()

    async def wait(self, slug: str, seen: int, timeout: float) -> int:
        async with self._cond:
            try:
                await asyncio.wait_for(self._cond.wait_for(lambda: self._cursor[slug] != seen), timeout)
            except TimeoutError:
                pass
            return self._cursor[slug]


class Experiments:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.mlflow = MlflowService(settings, settings.effective_database_url)  # its store sealed per project
        self.changes = ProjectChanges()
        self.run_experiment = LRU()  # run id -> experiment id (runs never move)
        self.model_experiment = LRU()  # logged model id -> experiment id
        self.column_cache = LRU(256)  # (change cursor, experiment ids) -> param/metric/tag keys
        self._started = False
        self._start_lock = asyncio.Lock()
        self._store: Engine | None = None
        self._search: RunSearch | None = None
        self._maintenance: asyncio.Task | None = None

    def start(self) -> None:
        if not self._started:
            self._started = True
            self.mlflow.start()

    async def ready(self) -> None:
        """Start MLflow if nobody has, wait for it, then open its store for reading (its schema exists by then)."""
        async with self._start_lock:
            self.start()
        await self.mlflow.wait_ready()
        async with self._start_lock:
            if self._store is None:
                await self._open_store()

    async def _open_store(self) -> None:
        # No MLflow import here (issue 17: seconds of a fresh process's first page): the search reads MLflow's tables
        # through its own column declarations and imports MLflow's filter parser only for filters its fast path
        # does not parse (search.py, one import at a time).
        url = self.mlflow.backend_store_uri
        engine = create_engine(url, pool_pre_ping=True) if not url.startswith("sqlite") else create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30})
        if url.startswith("sqlite"):
            @event.listens_for(engine, "connect")
            def _ro(dbapi_conn, _rec):  # noqa: ANN001
                dbapi_conn.execute("PRAGMA query_only=ON")

        await asyncio.to_thread(prepare_store, url)
        self._store, self._search = engine, RunSearch(engine)
        self._maintenance = asyncio.create_task(self._optimize_periodically())

    async def _optimize_periodically(self) -> None:
        # Fresh statistics keep SQLite choosing the selective side of a filtered, sorted search.
        while True:
            await asyncio.sleep(600)
            try:
                await asyncio.to_thread(prepare_store, self.mlflow.backend_store_uri, False)
            except Exception:  # noqa: BLE001 - statistics are an optimisation, never a failure
                pass

    @property
    def store_open(self) -> bool:
        """MLflow's store is open for the runs search, its indexes built (the eager start does this)."""
        return self._search is not None

    @property
    def search(self) -> RunSearch:
        assert self._search is not None, "await ready() first"
        return self._search

    def experiment_of_run(self, run_id: str) -> str | None:
        if run_id in self.run_experiment:
            return self.run_experiment[run_id]
        exp = self.search.experiment_of_run(run_id)
        if exp is not None:
            self.run_experiment.put(run_id, exp)
        return exp

    def experiment_of_model(self, model_id: str) -> str | None:
        if model_id in self.model_experiment:
            return self.model_experiment[model_id]
        exp = self.search.experiment_of_model(model_id)
        if exp is not None:
            self.model_experiment.put(model_id, exp)
        return exp

    async def stop(self) -> None:
        if not self._started:
            return
        if self._maintenance is not None:
            self._maintenance.cancel()
        if self._store is not None:
            self._store.dispose()
        await self.mlflow.stop()
