"""Batch jobs as the serving API sees them: created (a dataset snapshot or an uploaded file to score), listed,
followed and their output read. The runner that scores them is `batch.py`; it and the HTTP routes do not import
each other (tests/backend/test_layering.py)."""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from .. import at_rest, audit
from ..access import Action, require
from ..deps import DB, Caller
from ..errors import Conflict, Invalid, NotFound
from ..orm import BatchJob, Deployment
from .batch import job_dir
from .schemas import BatchJobOut, BatchJobPage
from .service import find_deployment, iso, version_number


def _job_out(db: DB, j: BatchJob) -> BatchJobOut:
    d = db.get(Deployment, j.deployment_id)
    return BatchJobOut(id=j.id, deployment=d.name, version=version_number(db, j.version_id) or 0, status=j.status,
                       source=json.loads(j.source), output=json.loads(j.output), chunk_rows=j.chunk_rows,
                       chunks_total=j.chunks_total, chunks_done=j.chunks_done, rows=j.rows, message=j.message,
                       created_by=j.created_by, created_at=iso(j.created_at), finished_at=iso(j.finished_at))


def _new_job(db: DB, who: Caller, slug: str, name: str, source: dict, output: dict, chunk_rows: int) -> BatchJob:
    g = require(db, who, slug, Action.write_serving, target=f"{name}:batch")
    d = find_deployment(db, g.project.id, name)
    j = BatchJob(id=uuid.uuid4().hex, deployment_id=d.id, version_id=d.version_id, status="queued",
                 source=json.dumps(source), output=json.dumps(output), chunk_rows=chunk_rows, created_by=who.user)
    db.add(j)
    db.flush()
    audit.append(db, actor=who.user, action="deployment.batch", decision="allow", project=slug, target=name,
                 detail={"job": j.id, "source": source, "output": output, "version": d.version.version})
    db.commit()
    return j


def _member(db: DB, who: Caller, slug: str) -> bool:
    require(db, who, slug, Action.write_serving, target="batch")
    return True


async def score_dataset(app, db: DB, who: Caller, slug: str, name: str, *, dataset: str,  # noqa: ANN001
                        snapshot_id: int | None, output_dataset: str | None, chunk_rows: int) -> BatchJobOut:
    """A job scoring a snapshot of a project dataset (default: its current one), queued on the runner."""
    def create() -> BatchJobOut:
        names = {t["name"]: t for t in app.state.datasets.list(slug)} if _member(db, who, slug) else {}
        if dataset not in names:
            raise NotFound(f"Dataset '{dataset}' not found", detail=[{"field": "dataset"}])
        if snapshot_id is not None and snapshot_id not in {s["snapshot_id"] for s in names[dataset]["snapshots"]}:
            raise NotFound(f"Dataset '{dataset}' has no snapshot {snapshot_id}", detail=[{"field": "snapshot_id"}])
        snap = snapshot_id or names[dataset]["current_snapshot_id"]
        out = {"kind": "dataset", "dataset": output_dataset} if output_dataset else {"kind": "file"}
        j = _new_job(db, who, slug, name, {"kind": "dataset", "dataset": dataset, "snapshot_id": snap}, out,
                     chunk_rows)
        return _job_out(db, j)

    out = await run_in_threadpool(create)
    app.state.batch.submit(out.id)
    return out


async def score_upload(app, db: DB, who: Caller, slug: str, name: str, body: AsyncIterator[bytes], *,  # noqa: ANN001
                       fmt: str, output_dataset: str | None, chunk_rows: int) -> BatchJobOut:
    """A job scoring an uploaded Parquet or CSV file (`body`, read to the end), queued on the runner."""
    await run_in_threadpool(_member, db, who, slug)
    tmp = app.state.settings.home / "serving" / "batch" / f"upload-{uuid.uuid4().hex}"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    pid = await run_in_threadpool(at_rest.project_id, app, slug, db)  # the request's session: SQLite has one writer
    keys = at_rest.keyring(app)
    dk = await run_in_threadpool(keys.writer, pid, db)
    sealer = at_rest.Sealer(dk) if dk is not None else None  # the project's files encrypted at rest
    with open(tmp, "wb") as f:
        async for chunk in body:
            size += len(chunk)
            f.write(sealer.update(chunk) if sealer else chunk)
        if sealer:
            f.write(sealer.final())
    try:
        if size == 0:
            raise Invalid("The body is empty: send the Parquet or CSV file as the request body")
        await run_in_threadpool(_check_upload, tmp, fmt, keys.reader(pid, db))
        out = {"kind": "dataset", "dataset": output_dataset} if output_dataset else {"kind": "file"}
        job = await run_in_threadpool(lambda: _job_out(db, _new_job(db, who, slug, name, {
            "kind": "upload", "format": fmt, "bytes": size}, out, chunk_rows)))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    folder = job_dir(app.state.settings.home, job.id)
    folder.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, folder / "upload")
    app.state.batch.submit(job.id)
    return job


def _check_upload(path, fmt: str, lookup=None) -> None:  # noqa: ANN001
    """Read the file's header now so that a wrong format is a 400, not a failed job later."""
    try:
        if fmt == "csv":
            import pyarrow.csv as pacsv

            head = b""
            for piece in at_rest.iter_file(path, lookup):  # decrypted when the project encrypts at rest
                head += piece
                if len(head) >= 1 << 20:
                    break
            head = head[:1 << 20]
            if not head.strip():
                raise ValueError("no rows")
            pacsv.read_csv(io.BytesIO(head.rsplit(b"\n", 1)[0] + b"\n" if b"\n" in head else head))
        else:
            import pyarrow.parquet as pq

            pq.ParquetFile(io.BytesIO(at_rest.read_file(path, lookup))).schema_arrow  # noqa: B018
    except Exception as e:  # noqa: BLE001
        raise Invalid(f"The body is not a readable {fmt.upper()} file: {e}", detail=[{"field": "format"}]) from None


def list_jobs(db: DB, who: Caller, slug: str, name: str, limit: int, offset: int) -> BatchJobPage:
    g = require(db, who, slug, Action.read_serving, target=name)
    d = find_deployment(db, g.project.id, name)
    q = select(BatchJob).where(BatchJob.deployment_id == d.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(BatchJob.created_at.desc()).limit(limit).offset(offset)).scalars().all()
    out = [_job_out(db, j) for j in rows]
    db.commit()
    return BatchJobPage(items=out, total=total)


def _job(db: DB, who: Caller, slug: str, job_id: str) -> BatchJob:
    g = require(db, who, slug, Action.read_serving, target=f"batch:{job_id}")
    j = db.get(BatchJob, job_id) if len(job_id) <= 32 else None
    if j is None or db.get(Deployment, j.deployment_id).project_id != g.project.id:
        raise NotFound(f"Batch job '{job_id}' not found")
    return j


def get_job(db: DB, who: Caller, slug: str, job_id: str) -> BatchJobOut:
    out = _job_out(db, _job(db, who, slug, job_id))
    db.commit()
    return out


@dataclass(frozen=True)
class BatchOutput:
    """A finished job's output file, authenticated whole: its plaintext's size, and its pieces decrypted as they
    are read (at most one 64 KiB segment at a time for a sealed file: the file is never held whole)."""

    path: Path
    lookup: Callable[[bytes], bytes | None]  # data key id -> key (jupyter_mlp.at_rest.Lookup)
    size: int
    temporary: bool = False  # a rewritten copy (shaped by column policies), removed once sent

    def chunks(self) -> Iterator[bytes]:
        try:
            yield from at_rest.iter_file(self.path, self.lookup)
        finally:
            self.discard()

    def discard(self) -> None:
        if self.temporary:
            self.path.unlink(missing_ok=True)


def output_file(app, db: DB, who: Caller, slug: str, job_id: str) -> BatchOutput:  # noqa: ANN001
    """The Parquet file a finished job wrote (a job writing to a dataset has none). Every segment of a sealed one
    authenticates first, so a tampered file (or one whose data key was destroyed) is a 409 before a byte is sent;
    its data key is kept with it, so streaming it needs no database session."""
    j = _job(db, who, slug, job_id)
    pid = db.get(Deployment, j.deployment_id).project_id
    db.commit()
    if j.status != "succeeded":
        raise Conflict(f"Batch job '{job_id}' is {j.status}, not finished")
    if json.loads(j.output)["kind"] != "file":
        raise Conflict(f"Batch job '{job_id}' wrote to a dataset, not a file")
    lookup, keys = at_rest.keyring(app).reader(pid, db), {}

    def known(key_id: bytes) -> bytes | None:  # the project's data key, looked up once
        if key_id not in keys:
            keys[key_id] = lookup(key_id)
        return keys[key_id]

    path = job_dir(app.state.settings.home, job_id) / "output.parquet"
    try:
        return BatchOutput(path, known, at_rest.verify_file(path, known))
    except at_rest.AtRestError as e:  # tampered with, or the project's data key destroyed
        raise Conflict(f"Batch job '{job_id}''s output cannot be read: {e}") from None


def shaped_output(db: DB, who: Caller, slug: str, job_id: str, out: BatchOutput) -> BatchOutput:
    """A batch output's rows (Parquet) as the caller's role may see them: the project's column policies on columns of
    those names (the scored dataset's, an uploaded file's) apply, and which did is audited; a denied column refuses
    the download, naming its policy. `out` itself when no policy shapes this role's rows; otherwise a temporary
    copy, rewritten row group by row group (the output read at random, decrypted a segment at a time) and sealed
    under a key that lives only in this request's memory, so neither file is held whole nor the rows written in
    the clear."""
    import pyarrow.parquet as pq

    from ..datasets.service import ColumnDenied, caller_column_policies

    shaper = caller_column_policies(db, who, slug)
    db.commit()
    if not shaper.active:
        return out
    key = at_rest.DataKey.generate()
    tmp = out.path.with_name(f".shaped.{uuid.uuid4().hex}.tmp")
    try:
        with at_rest.open_random(out.path, out.lookup) as f, at_rest.SealingWriter(tmp, key) as sink:
            source = pq.ParquetFile(f)
            writer = None
            for i in range(source.num_row_groups):
                table = shaper.table(source.read_row_group(i))
                writer = writer or pq.ParquetWriter(sink, table.schema)
                writer.write_table(table)
            if writer is None:  # no rows: the shaped schema alone
                writer = pq.ParquetWriter(sink, shaper.table(source.schema_arrow.empty_table()).schema)
            writer.close()
            size = sink.tell()
    except ColumnDenied as e:
        tmp.unlink(missing_ok=True)
        shaper.refused(db, who, slug, "batch-output", f"batch:{job_id}", e)
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    shaper.audit(db, who, slug, "batch-output", f"batch:{job_id}")
    db.commit()
    return BatchOutput(tmp, {key.id: key.key}.get, size, temporary=True)
