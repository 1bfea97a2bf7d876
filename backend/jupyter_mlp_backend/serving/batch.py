"""Batch scoring with a deployment's version: chunked, on both cores, resumable.

A job reads its input once — a project dataset at a snapshot (Iceberg time travel), or an uploaded Parquet/CSV
file — and splits it into chunk files. Worker processes (as many as there are cores, at most the chunks left)
verify and load the version like serving workers do, then score chunk after chunk; each scored chunk is written
to a temporary name and renamed, so it either exists whole or not at all. Progress is the number of chunk files
that exist. After a crash (a killed worker, a restarted backend) the job goes on from the chunks that are missing:
finished chunks are never scored again. When every chunk is there, the results are joined in order and written
to a project dataset (a new snapshot) or a Parquet file to download.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from jupyter_mlp.user_env import user_code_env

from .. import at_rest
from ..orm import BatchJob, Deployment, Project, utcnow
from . import sealed_model

log = logging.getLogger(__name__)

MAX_RESTARTS = 5


def job_dir(home: Path, job_id: str) -> Path:
    return home / "serving" / "batch" / job_id


class BatchRunner:
    def __init__(self, app):  # noqa: ANN001
        self.app = app
        self.tasks: dict[str, asyncio.Task] = {}
        self.pids: dict[str, list[int]] = {}  # job -> worker pids now (for the panel and tests)

    def submit(self, job_id: str) -> None:
        if job_id not in self.tasks or self.tasks[job_id].done():
            self.tasks[job_id] = asyncio.get_running_loop().create_task(self._run(job_id))

    async def stop(self) -> None:
        for t in self.tasks.values():
            t.cancel()
        for t in self.tasks.values():
            with contextlib.suppress(BaseException):
                await t

    # -- state ---------------------------------------------------------------------------------------------------

    def _update(self, job_id: str, **fields: Any) -> None:
        with self.app.state.db.session() as s:
            job = s.get(BatchJob, job_id)
            for k, v in fields.items():
                setattr(job, k, v)
            s.commit()

    def _load(self, job_id: str) -> dict[str, Any]:
        with self.app.state.db.session() as s:
            job = s.get(BatchJob, job_id)
            d = s.get(Deployment, job.deployment_id)
            slug = s.get(Project, d.project_id).slug
            return {"source": json.loads(job.source), "output": json.loads(job.output), "chunk_rows": job.chunk_rows,
                    "slug": slug, "project_id": d.project_id, "deployment": d.name, "version_id": job.version_id}

    # -- the job -------------------------------------------------------------------------------------------------

    async def _run(self, job_id: str) -> None:
        try:
            await self._work(job_id)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("batch job %s", job_id)
            await run_in_threadpool(self._update, job_id, status="failed", message=str(e)[:2000],
                                    finished_at=utcnow())
        finally:
            self.pids.pop(job_id, None)

    async def _work(self, job_id: str) -> None:
        from .service import ensure_folder

        info = await run_in_threadpool(self._load, job_id)
        home = self.app.state.settings.home
        folder = job_dir(home, job_id)
        chunks_in, chunks_out = folder / "in", folder / "out"
        await run_in_threadpool(self._update, job_id, status="running")
        total = await run_in_threadpool(self._split, info, folder)
        chunks_out.mkdir(exist_ok=True)
        pending = [i for i in range(total) if not (chunks_out / f"{i:06d}.parquet").exists()]
        await run_in_threadpool(self._update, job_id, chunks_total=total, chunks_done=total - len(pending))
        if pending:
            root, model, number = await ensure_folder(self.app, info["slug"], info["project_id"], info["deployment"],
                                                      info["version_id"], fresh=False)
            await self._score(job_id, info, root / "model", model, number, pending, chunks_in, chunks_out, total)
        rows = await run_in_threadpool(self._finish, job_id, info, folder, total)
        await run_in_threadpool(self._update, job_id, status="succeeded", rows=rows, chunks_done=total,
                                finished_at=utcnow(), message=None)

    def _split(self, info: dict[str, Any], folder: Path) -> int:
        """Cut the input into chunk files once; a marker says it is done (a crash before it: cut again)."""
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        marker = folder / "in" / "chunks.json"
        if marker.exists():
            return json.loads(marker.read_text())["chunks"]
        src = info["source"]
        keys = at_rest.keyring(self.app)
        if src["kind"] == "dataset":
            data, snap = self.app.state.datasets.read(info["slug"], src["dataset"], src.get("snapshot_id"))
            table = pq.read_table(io.BytesIO(data))
        else:  # the upload, decrypted when the project encrypts at rest
            upload = at_rest.source(folder / "upload", keys.reader(info["project_id"]))
            table = pacsv.read_csv(upload) if src["format"] == "csv" else pq.read_table(upload)
        shutil.rmtree(folder / "in", ignore_errors=True)
        (folder / "in").mkdir(parents=True)
        n, size = table.num_rows, info["chunk_rows"]
        count = max(1, -(-n // size))
        dk = keys.writer(info["project_id"])
        for i in range(count):
            buf = io.BytesIO()
            pq.write_table(table.slice(i * size, size) if n else pa.table({}), buf)
            at_rest.write_file(folder / "in" / f"{i:06d}.parquet", buf.getvalue(), dk)
        marker.write_text(json.dumps({"chunks": count, "rows": n}))
        return count

    async def _score(self, job_id: str, info: dict[str, Any], model_dir: Path, model: str, version: int,
                     pending: list[int], chunks_in: Path, chunks_out: Path, total: int) -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in pending:
            queue.put_nowait(i)
        restarts = {"n": 0}
        tries: dict[int, int] = {}  # failed answers per chunk
        done = {"n": total - len(pending)}
        failure: list[str] = []
        self.pids[job_id] = []
        sealed = await run_in_threadpool(self.chunk_key, info["project_id"])

        lookup = at_rest.keyring(self.app).reader(info["project_id"])

        async def start() -> asyncio.subprocess.Process:
            try:  # a sealed model copy is opened on tmpfs for the load and removed once loaded (sealed_model.py)
                async with sealed_model.opened(model_dir, lookup) as folder:
                    p = await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "jupyter_mlp_backend.serving.worker", "--batch", "--dir", str(folder),
                        "--project", info["slug"], "--model", model, "--version", str(version),
                        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
                        env=user_code_env({"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}))  # as manager's
                    line = (await p.stdout.readline()).decode()  # type: ignore[union-attr]
            except at_rest.AtRestError as e:
                raise RuntimeError(f"the model cannot be opened: {e}") from None
            if not line.startswith("READY"):
                raise RuntimeError(line.strip()[len("REFUSED "):] or "the batch worker could not load the model")
            self.pids[job_id].append(p.pid)
            return p

        async def restart(p: asyncio.subprocess.Process | None, why: str) -> asyncio.subprocess.Process | None:
            """A worker died (or would not start): start another, up to MAX_RESTARTS for the whole job."""
            while True:
                if p is not None and p.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        p.kill()
                restarts["n"] += 1
                if restarts["n"] > MAX_RESTARTS:
                    failure.append(f"batch workers died {restarts['n']} times; the last time: {why}")
                    return None
                try:
                    return await start()
                except RuntimeError as e:
                    why, p = str(e), None

        async def worker() -> None:
            p: asyncio.subprocess.Process | None = await start()
            try:
                while not failure and p is not None:
                    try:
                        i = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    out = chunks_out / f"{i:06d}.parquet"
                    try:
                        p.stdin.write((json.dumps({"in": str(chunks_in / f"{i:06d}.parquet"),  # type: ignore[union-attr]
                                                   "out": str(out), **sealed}) + "\n").encode())
                        await p.stdin.drain()  # type: ignore[union-attr]
                        line = await p.stdout.readline()  # type: ignore[union-attr]
                        answer = json.loads(line) if line.endswith(b"\n") else None
                    except (BrokenPipeError, ConnectionResetError, ValueError):
                        answer = None
                    if answer is None:  # the worker died with this chunk: score it again in a new one
                        queue.put_nowait(i)
                        p = await restart(p, f"the worker ended while scoring chunk {i}")
                        continue
                    if not answer["ok"]:
                        tries[i] = tries.get(i, 0) + 1
                        if tries[i] == 1:  # once more in a fresh worker: a passing fault should not end the job
                            queue.put_nowait(i)
                            p = await restart(p, f"chunk {i}: {answer['error']}")
                            continue
                        failure.append(f"chunk {i}: {answer['error']}")
                        return
                    done["n"] += 1
                    await run_in_threadpool(self._update, job_id, chunks_done=done["n"])
            finally:
                if p is not None and p.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        p.stdin.close()  # type: ignore[union-attr]
                        await asyncio.wait_for(p.wait(), 10)

        n = min(os.cpu_count() or 1, len(pending))
        await asyncio.gather(*(worker() for _ in range(n)))
        if failure:
            raise RuntimeError(failure[0])
        if not queue.empty():
            raise RuntimeError("chunks were left unscored")

    def chunk_key(self, project_id: int) -> dict[str, Any]:
        """What the worker gets with each chunk, over its stdin, when the project has a data key: the key (to read
        sealed chunks, also those cut before encryption was turned off) and whether to seal what it writes."""
        dk, on = at_rest.keyring(self.app).current(project_id)
        return {"key_id": dk.id.hex(), "key": dk.key.hex(), "seal": on} if dk is not None else {}

    def _finish(self, job_id: str, info: dict[str, Any], folder: Path, total: int) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        keys = at_rest.keyring(self.app)
        lookup = keys.reader(info["project_id"])
        table = pa.concat_tables([pq.read_table(at_rest.source(folder / "out" / f"{i:06d}.parquet", lookup))
                                  for i in range(total)], promote_options="default")
        out = info["output"]
        if out["kind"] == "dataset":
            buf = io.BytesIO()
            pq.write_table(table, buf)
            snap = self.app.state.datasets.write(info["slug"], out["dataset"], buf.getvalue(), "overwrite")
            self._update(job_id, output=json.dumps({**out, "snapshot_id": snap.snapshot_id}))
        else:
            buf = io.BytesIO()
            pq.write_table(table, buf)
            at_rest.write_file(folder / "output.parquet", buf.getvalue(), keys.writer(info["project_id"]))
        return table.num_rows


async def resume(app) -> None:  # noqa: ANN001
    """Go on with the jobs a stopped backend left unfinished."""
    from sqlalchemy import select

    def unfinished() -> list[str]:
        with app.state.db.session() as s:
            return list(s.execute(select(BatchJob.id).where(BatchJob.status.in_(("queued", "running")))).scalars())

    for job_id in await run_in_threadpool(unfinished):
        app.state.batch.submit(job_id)
