"""The platform's Iceberg catalog: one namespace per project, every write a snapshot that can be read again.

Embedded default: pyiceberg's SQL catalog on SQLite with a local warehouse under `$MLP_HOME/iceberg`; a team puts
the warehouse (data and metadata files) on an S3-compatible bucket (`iceberg_warehouse`, `s3_endpoint_url`).
Only the backend opens it; kernels and pipeline stages read and write through the backend's dataset routes.
"""

from __future__ import annotations

import io
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class DatasetError(ValueError):
    pass


@dataclass
class Snapshot:
    name: str
    snapshot_id: int
    rows: int


def _namespace(slug: str) -> str:
    return "p_" + slug.replace("-", "_")


def file_io_properties(warehouse: str, s3_endpoint: str | None) -> dict[str, str]:
    """pyiceberg's FileIO properties for a warehouse: for `s3://`, the endpoint (an S3-compatible store) and a
    region, so pyarrow never asks AWS where a bucket lives; credentials stay with the S3 client's own chain
    (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, a profile, an instance role)."""
    if not warehouse.startswith(("s3://", "s3a://")):
        return {}
    props = {}
    if s3_endpoint:
        props["s3.endpoint"] = s3_endpoint
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region or s3_endpoint:  # an S3-compatible store answers in any region; unset on AWS: pyarrow resolves it
        props["s3.region"] = region or "us-east-1"
    return props


class Catalog:
    def __init__(self, home: Path, warehouse: str | None = None, s3_endpoint: str | None = None,
                 keys=None):  # noqa: ANN001
        """`warehouse`: a folder or `s3://bucket/prefix` (setting `iceberg_warehouse`); default
        `$MLP_HOME/iceberg/warehouse`. `s3_endpoint`: an S3-compatible store's URL (setting `s3_endpoint_url`).
        `keys`: namespace -> (data key or None, lookup): the data files of a project with a key are sealed
        (sealed_io.py); None: pyarrow's FileIO, as it comes."""
        self.keys = keys
        self.root = home / "iceberg"
        self.warehouse = warehouse.rstrip("/") if warehouse else f"file://{self.root / 'warehouse'}"
        if "://" not in self.warehouse:
            self.warehouse = f"file://{Path(self.warehouse).expanduser().resolve()}"
        self.s3_endpoint = s3_endpoint
        self._catalog = None
        self._lock = threading.Lock()  # pyiceberg's SQL catalog commits are not safe across threads at once

    def _open(self):  # noqa: ANN202
        if self._catalog is None:
            from pyiceberg.catalog.sql import SqlCatalog

            from sqlalchemy.exc import OperationalError

            self.root.mkdir(parents=True, exist_ok=True)
            props = {"uri": f"sqlite:///{self.root / 'catalog.db'}", "warehouse": self.warehouse,
                     **file_io_properties(self.warehouse, self.s3_endpoint)}
            if self.keys is not None:
                from . import sealed_io

                props |= {"py-io-impl": sealed_io.IMPL, sealed_io.PROPERTY: sealed_io.register(self.keys)}
            try:
                self._catalog = SqlCatalog("mlp", **props)
            except OperationalError as e:
                # The backend and the prediction log's committer process may open a new catalog at the same moment:
                # both see no tables, one creates them, the other's CREATE TABLE fails. The tables exist now.
                if "already exists" not in str(e):
                    raise
                self._catalog = SqlCatalog("mlp", **props)
        return self._catalog

    def write(self, slug: str, name: str, parquet: bytes, mode: str, target: str | None = None) -> Snapshot:
        """A new snapshot of `name`; an overwrite keeps the rows' profile (with `target`) in its summary."""
        import pyarrow.parquet as pq

        from . import profiles

        if not NAME.match(name):
            raise DatasetError(f"Dataset name '{name}' must be lowercase letters, digits and '_', starting with a letter")
        if mode not in ("overwrite", "append"):
            raise DatasetError("mode must be 'overwrite' or 'append'")
        try:
            table_data = pq.read_table(io.BytesIO(parquet))
        except Exception as e:  # noqa: BLE001 - anything unreadable is the client's problem, said in words
            raise DatasetError(f"The body is not a Parquet file: {e}") from e
        sealed = self.sealing(slug)[0] is not None
        try:  # before the lock: profiling takes a while on large frames and needs no catalog
            # not stored for a sealed project: a profile holds column values (computed again when asked for)
            props = profiles.snapshot_properties(table_data, target) if mode == "overwrite" and not sealed else {}
        except profiles.ProfileError as e:
            raise DatasetError(f"Cannot profile '{name}': {e}") from e
        with self._lock:
            cat = self._open()
            ns = _namespace(slug)
            if ns not in {n[0] for n in cat.list_namespaces()}:
                cat.create_namespace(ns)
            ident = f"{ns}.{name}"
            if cat.table_exists(ident):
                table = cat.load_table(ident)
            else:
                table = cat.create_table(ident, schema=table_data.schema)
            table = self._no_bounds(slug, table) if sealed else table
            try:
                if mode == "append":
                    table.append(table_data)
                else:
                    table.overwrite(table_data, snapshot_properties=props)
            except ValueError as e:  # schema mismatch and the like
                raise DatasetError(f"Cannot write to '{name}': {e}") from e
            snap = table.current_snapshot()
            return Snapshot(name, snap.snapshot_id, table.scan(snapshot_id=snap.snapshot_id).to_arrow().num_rows)

    def append_arrow(self, slug: str, name: str, data, keep_last: int | None = None) -> int:  # noqa: ANN001
        """Append rows the platform itself produced (prediction logs, feedback: a pyarrow.Table); returns the new
        snapshot id. Creates the table on first use. No row count: these tables only grow, and counting would scan
        them. With `keep_last`, the table is then trimmed (`trim`) of all but its newest `keep_last` snapshots."""
        with self._lock:
            cat = self._open()
            ns = _namespace(slug)
            if ns not in {n[0] for n in cat.list_namespaces()}:
                cat.create_namespace(ns)
            ident = f"{ns}.{name}"
            table = _load_or_create(cat, ident, data.schema, log_properties(keep_last) if keep_last else {})
            table = self._no_bounds(slug, table)
            if keep_last:
                with table.transaction() as tx:
                    _log_append(tx).append(data)
            else:
                table.append(data)
            snapshot_id = table.current_snapshot().snapshot_id
            if keep_last:
                _trim(table, keep_last, 2**62)
            return snapshot_id

    def append_recorded(self, slug: str, name: str, keys: list[str], load, schema, record: str,  # noqa: ANN001
                        since_ms: int, keep_last: int | None = None,
                        live=None) -> tuple[list[str], list[str]]:  # noqa: ANN001
        """Append `load(fresh)` (a pyarrow.Table) for the keys the table has not recorded under the table property
        `record`, and record them in that same commit: what was committed once is never appended again, even when
        the caller failed (or was killed) after the commit. The check and the append are one optimistic Iceberg
        commit, so a concurrent writer makes it fail rather than duplicate. Returns (keys appended now, keys found
        already committed).

        The record is a table property, not a snapshot's summary, so it outlives the snapshots `trim` expires and
        the table keeps a constant number of them whatever its commit rate. It stays short: each commit keeps of the
        recorded keys only those `live(recorded)` says may still be offered again (the committer: the spool files
        still in the folder; asked after the table was loaded, so a key it drops is gone for good); without `live`
        every recorded key is kept. Records that earlier releases kept in snapshot summaries are still honoured for
        the snapshots taken since `since_ms` (`trim` keeps those). With `keep_last`, the table is then trimmed."""
        with self._lock:
            cat = self._open()
            ns = _namespace(slug)
            if ns not in {n[0] for n in cat.list_namespaces()}:
                cat.create_namespace(ns)
            ident = f"{ns}.{name}"
            table = _load_or_create(cat, ident, schema, log_properties(keep_last) if keep_last else {})
            table = self._no_bounds(slug, table)
            recorded = set(table.properties.get(record, "").split())
            done = set(recorded)
            for snap in reversed(table.snapshots()):  # an earlier release's records: commit order, newest first
                if snap.timestamp_ms < since_ms:
                    break
                value = snap.summary[record] if snap.summary is not None else None
                if value:
                    done.update(value.split())
            fresh = [k for k in keys if k not in done]
            if fresh:
                kept = recorded if live is None else recorded & set(live(recorded))
                with table.transaction() as tx:  # one commit: the rows and their record
                    (_log_append(tx) if keep_last else tx).append(load(fresh))
                    tx.set_properties({record: " ".join(sorted(kept | set(keys)))})  # this batch: all still offered
                if keep_last:
                    _trim(table, keep_last, since_ms, record)
            return fresh, [k for k in keys if k in done]

    def sealing(self, slug: str):  # noqa: ANN201
        """(the data key the project's new files are sealed with or None, the lookup its sealed files are opened
        with or None): for the platform's own files next to the tables (the prediction log's spool)."""
        return self.keys(_namespace(slug)) if self.keys is not None else (None, None)

    def _no_bounds(self, slug: str, table):  # noqa: ANN001, ANN202
        """The table, with no column bounds in its manifests from now on when the project's data files are sealed."""
        if self.sealing(slug)[0] is None:
            return table
        from .sealed_io import no_bounds

        return no_bounds(table)

    def scan(self, slug: str, name: str, snapshot_id: int | None = None, row_filter: str | None = None):  # noqa: ANN201
        """A table's rows as pyarrow (optionally filtered, e.g. "prediction_id == 'x'"); LookupError if missing."""
        with self._lock:
            cat = self._open()
            ident = f"{_namespace(slug)}.{name}"
            if not cat.table_exists(ident):
                raise LookupError(name)
            table = cat.load_table(ident)
            kwargs = {"snapshot_id": snapshot_id} if snapshot_id else {}
            if row_filter:
                kwargs["row_filter"] = row_filter
            return table.scan(**kwargs).to_arrow()

    def appended(self, slug: str, name: str, since: int | None, columns: tuple[str, ...] = ("*",),  # noqa: ANN201
                 row_filter=None, until: int | None = None):  # noqa: ANN001 - a str or a pyiceberg expression
        """The rows appended to a table after position `since` (all rows when None) up to its current snapshot (or
        position `until`), as (pyarrow.Table or None when nothing was appended, the position read up to). A position
        is a snapshot's sequence number: it survives the expiry of that snapshot (`trim`), and only the manifests
        written after it are opened (`manifest.sequence_number`), so the cost follows the rows appended, not the
        table's history. LookupError if the table is missing; ValueError when `since` does not fit the table any
        more (beyond its last sequence number: the table was made again; or a later commit was not an append: rows
        were rewritten)."""
        from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError
        from pyiceberg.expressions import AlwaysTrue

        with self._lock:
            cat = self._open()
            try:  # one metadata read (`table_exists` would load the table too)
                table = cat.load_table(f"{_namespace(slug)}.{name}")
            except (NoSuchTableError, NoSuchNamespaceError):
                raise LookupError(name) from None
            current = table.current_snapshot()
            if current is None:
                return None, None
            top = current.sequence_number if until is None else min(until, current.sequence_number)
            if since is not None:
                if table.metadata.format_version < 2:  # no sequence numbers (all 0): a position cannot be kept
                    raise ValueError(f"{name} is an Iceberg v1 table: it is read whole each time")
                if since > table.metadata.last_sequence_number:
                    raise ValueError(f"position {since} of {name} is beyond its last sequence number")
                if any(s.sequence_number > since and (s.summary is None or s.summary.operation.value != "append")
                       for s in table.snapshots()):
                    raise ValueError(f"{name} was rewritten after position {since}")
                if since >= top:
                    return None, top
            scan = _SinceScan(table.metadata, table.io, row_filter=row_filter or AlwaysTrue(), selected_fields=columns,
                              since=-1 if since is None else since, until=top, snapshot=current)
            return scan.to_arrow(), top

    def trim(self, slug: str, name: str, keep_last: int, before_ms: int) -> int:
        """Bound a log table's metadata (what every read of it parses): expire the snapshots older than `before_ms`
        except the newest `keep_last` (their data files stay: the rows are all still in the table; readers hold
        sequence-number positions, which outlive snapshots), and give it `log_properties` (manifests merged on
        append, so the manifest list stays short) if it lacks them. Only when the table has more than twice
        `keep_last` snapshots (a commit every `keep_last` appends); returns how many were expired."""
        with self._lock:
            return _trim(self._open().load_table(f"{_namespace(slug)}.{name}"), keep_last, before_ms)

    def read(self, slug: str, name: str, snapshot_id: int | None, shape=None) -> tuple[bytes, Snapshot]:  # noqa: ANN001
        """The table at a snapshot as Parquet bytes; `shape` (pyarrow.Table -> pyarrow.Table: the caller's column
        policies) is applied to the rows before they are encoded."""
        import pyarrow.parquet as pq

        with self._lock:
            cat = self._open()
            ident = f"{_namespace(slug)}.{name}"
            if not NAME.match(name) or not cat.table_exists(ident):
                raise LookupError(name)
            table = cat.load_table(ident)
            if snapshot_id is None:
                snapshot_id = table.current_snapshot().snapshot_id
            elif table.snapshot_by_id(snapshot_id) is None:
                raise LookupError(f"{name}@{snapshot_id}")
            data = table.scan(snapshot_id=snapshot_id).to_arrow()
        if shape is not None:
            data = shape(data)
        buf = io.BytesIO()
        pq.write_table(data, buf)
        return buf.getvalue(), Snapshot(name, snapshot_id, data.num_rows)

    def columns(self, slug: str, name: str) -> list[str]:
        """The column names of a table's current schema; LookupError if it is missing."""
        with self._lock:
            cat = self._open()
            ident = f"{_namespace(slug)}.{name}"
            if not NAME.match(name) or not cat.table_exists(ident):
                raise LookupError(name)
            return [f.name for f in cat.load_table(ident).schema().fields]

    def profile(self, slug: str, name: str, snapshot_id: int, target: str | None = None) -> dict:
        """The profile kept with a snapshot, or computed from its rows when it has none (an append) or another
        target is asked for: {"version", "target", "features", "source": "stored" | "computed"}. LookupError for an
        unknown table or snapshot, DatasetError (in words) when the rows cannot be profiled."""
        from . import profiles

        with self._lock:
            cat = self._open()
            ident = f"{_namespace(slug)}.{name}"
            if not NAME.match(name) or not cat.table_exists(ident):
                raise LookupError(name)
            table = cat.load_table(ident)
            snap = table.snapshot_by_id(snapshot_id)
            if snap is None:
                raise LookupError(f"{name}@{snapshot_id}")
            body = profiles.stored(snap.summary)
            if body is not None and (target is None or body.get("target") == target):
                return body | {"source": "stored"}
            data = table.scan(snapshot_id=snapshot_id).to_arrow()
        if target is not None and target not in data.column_names:
            raise DatasetError(f"the target column {target!r} is not in '{name}'")
        try:
            return profiles.compute(data, target) | {"source": "computed"}
        except profiles.ProfileError as e:
            raise DatasetError(f"Cannot profile '{name}': {e}") from e

    def list(self, slug: str) -> list[dict]:
        with self._lock:
            cat = self._open()
            ns = _namespace(slug)
            if ns not in {n[0] for n in cat.list_namespaces()}:
                return []
            out = []
            for ident in cat.list_tables(ns):
                table = cat.load_table(ident)
                snaps = [{"snapshot_id": s.snapshot_id, "timestamp_ms": s.timestamp_ms} for s in table.snapshots()]
                out.append({"name": ident[-1], "current_snapshot_id": table.current_snapshot().snapshot_id,
                            "snapshots": snaps})
            return out


LOG_MANIFESTS = 8  # a log table's manifests are merged this many at a time, into one of the next size (`_tiers`)
TOP = re.compile(r"-top(\d+)\.avro$")  # a merged manifest's name: the newest sequence number among its entries


def _top(manifest) -> int:  # noqa: ANN001
    """The newest sequence number of a manifest's entries: in a merged manifest's name, else its own (no entry of a
    manifest is newer than the commit that wrote it)."""
    m = TOP.search(manifest.manifest_path)
    return int(m.group(1)) if m else manifest.sequence_number


def _since_scan():  # noqa: ANN202 - the class is made on first use: pyiceberg is imported lazily
    from pyiceberg.manifest import ManifestContent, ManifestEntryStatus
    from pyiceberg.table import IncrementalAppendScan, ManifestGroupPlanner

    class SinceScan(IncrementalAppendScan):
        """The data files of a snapshot whose sequence number is in (since, until]: manifests written at or
        before `since` are not opened (every entry in a manifest is at most its sequence number)."""

        def __init__(self, metadata, io, *, since: int, until: int, snapshot, **kw):  # noqa: ANN001, ANN003
            super().__init__(metadata, io, **kw)
            self.since, self.until, self.snapshot = since, until, snapshot

        def plan_files(self):  # noqa: ANN202
            manifests = [m for m in self.snapshot.manifests(self.io) if m.content == ManifestContent.DATA
                         and _top(m) > self.since and m.min_sequence_number <= self.until]
            return ManifestGroupPlanner(table_metadata=self.table_metadata, io=self.io, row_filter=self.row_filter,
                                        case_sensitive=self.case_sensitive, options=self.options).plan_files(
                manifests=manifests,
                manifest_entry_filter=lambda e: e.status != ManifestEntryStatus.DELETED
                and self.since < e.sequence_number <= self.until)

    return SinceScan


def _log_appender():  # noqa: ANN202 - made on first use, as `_since_scan`
    from pyiceberg.manifest import ManifestContent, write_manifest
    from pyiceberg.table.update.snapshot import _FastAppendFiles

    def files(m) -> int:  # noqa: ANN001
        return (m.added_files_count or 0) + (m.existing_files_count or 0)

    def tier(m) -> int:  # noqa: ANN001 - 0: fewer than LOG_MANIFESTS files, 1: fewer than LOG_MANIFESTS², ...
        n, t = files(m), 0
        while n >= LOG_MANIFESTS:
            n, t = n // LOG_MANIFESTS, t + 1
        return t

    class LogAppend(_FastAppendFiles):
        """A fast append that keeps a log table's manifest list short without mixing old entries into the
        manifests a reader of the newest rows opens: the new rows get their own manifest; of the older ones, the
        oldest LOG_MANIFESTS of a run of manifests of one tier are merged into one of the next tier, once their
        newest entry is at least as many commits old as the merged manifest will hold, and the merged manifest's
        name carries that newest sequence number (`_top`). A reader positioned after it never opens it
        (`Catalog.appended`); a reader positioned inside it was due at least as many rows as it holds. So the
        manifests opened to read the rows appended since a position follow those rows, not the table's length,
        and the list holds about 2·LOG_MANIFESTS manifests per tier (a tier per factor LOG_MANIFESTS of commits)."""

        def _process_manifests(self, manifests):  # noqa: ANN001, ANN202
            data = [m for m in manifests if m.content == ManifestContent.DATA]
            rest = [m for m in manifests if m.content != ManifestContent.DATA]
            if not self._added_data_files:
                return self._tiers(data) + rest
            return data[:1] + self._tiers(data[1:]) + rest  # the new manifest comes first

        def _tiers(self, old: list) -> list:  # newest first
            head = self._transaction.table_metadata.next_sequence_number()
            i = 0
            while i < len(old):
                j = i
                while j < len(old) and tier(old[j]) == tier(old[i]):
                    j += 1
                pick = old[max(i, j - LOG_MANIFESTS):j]  # the run's oldest
                if len(pick) == LOG_MANIFESTS and head - max(map(_top, pick)) >= sum(map(files, pick)):
                    return old[:j - LOG_MANIFESTS] + [self._merge(pick)] + old[j:]  # one merge a commit
                i = j
            return old

        def _merge(self, pick: list):  # noqa: ANN202
            entries = [e for m in pick for e in self.fetch_manifest_entry(m, discard_deleted=True)]
            top = max(e.sequence_number for e in entries)
            name = f"{self.commit_uuid}-m{next(self._manifest_num_counter)}-top{top}.avro"
            path = self._transaction._table.location_provider().new_metadata_location(name)
            self._written_manifests.append(path)
            with write_manifest(format_version=self._transaction.table_metadata.format_version,
                                spec=self.spec(pick[0].partition_spec_id), schema=self.schema(),
                                output_file=self._io.new_output(path), snapshot_id=self._snapshot_id,
                                avro_compression=self._compression) as writer:
                for e in entries:
                    writer.existing(e)
            return writer.to_manifest_file()

    return LogAppend


def _log_append(tx):  # noqa: ANN001, ANN202
    """The transaction, its appends made by `LogAppend` (a log table's manifests kept in tiers)."""
    global _LOG_APPEND
    if _LOG_APPEND is None:
        _LOG_APPEND = _log_appender()
    from pyiceberg.table.snapshots import Operation

    tx._append_snapshot_producer = lambda props, branch=None: _LOG_APPEND(  # noqa: SLF001
        operation=Operation.APPEND, transaction=tx, io=tx._table.io, snapshot_properties=props,  # noqa: SLF001
        **({"branch": branch} if branch else {}))
    return tx


def _load_or_create(cat, ident: str, schema, properties: dict[str, str]):  # noqa: ANN001, ANN202
    """The table, made on first use; when another process (the backend and the log's committer share the catalog)
    made it between the check and the create, the one it made."""
    from pyiceberg.exceptions import TableAlreadyExistsError

    if cat.table_exists(ident):
        return cat.load_table(ident)
    try:
        return cat.create_table(ident, schema=schema, properties=properties)
    except TableAlreadyExistsError:
        return cat.load_table(ident)


def log_properties(keep_last: int) -> dict[str, str]:
    """A log table's properties: pyiceberg's merge on append off (`LogAppend` keeps the manifest list short), no
    commit retried on top of a concurrent one (it would skip `append_recorded`'s check), and no more old metadata
    files kept than snapshots."""
    from pyiceberg.table import TableProperties

    return {TableProperties.MANIFEST_MERGE_ENABLED: "false",  # `LogAppend` merges, in tiers
            TableProperties.COMMIT_NUM_RETRIES: "0",  # a concurrent commit fails the append (`append_recorded`)
            TableProperties.METADATA_DELETE_AFTER_COMMIT_ENABLED: "true",
            TableProperties.METADATA_PREVIOUS_VERSIONS_MAX: str(keep_last)}


def _trim(table, keep_last: int, before_ms: int, record: str | None = None) -> int:  # noqa: ANN001 - see `Catalog.trim`
    """With `record` (`append_recorded`'s): every snapshot but the newest `keep_last`, except those since `before_ms`
    whose summary holds a record (an earlier release's: the records are a table property now) of names the table's
    record lacks."""
    snaps = sorted(table.snapshots(), key=lambda s: s.sequence_number)
    if len(snaps) <= 2 * keep_last:  # a commit only every `keep_last` appends
        return 0
    props = log_properties(keep_last)
    if any(table.properties.get(k) != v for k, v in props.items()):  # a table made before these properties
        with table.transaction() as tx:
            tx.set_properties(props)
    if record is None:
        old = [s.snapshot_id for s in snaps[:-keep_last] if s.timestamp_ms < before_ms]
    else:  # a summary's record is needed while it is in the window and its names are not in the table's record
        kept = set(table.properties.get(record, "").split())
        old = [s.snapshot_id for s in snaps[:-keep_last] if s.timestamp_ms < before_ms
               or s.summary is None or not s.summary[record] or set(s.summary[record].split()) <= kept]
    if old:
        table.maintenance.expire_snapshots().by_ids(old).commit()
    return len(old)


def _SinceScan(*args, **kw):  # noqa: ANN002, ANN003, ANN202, N802
    global _SINCE_SCAN
    if _SINCE_SCAN is None:
        _SINCE_SCAN = _since_scan()
    return _SINCE_SCAN(*args, **kw)


_SINCE_SCAN = None
_LOG_APPEND = None
