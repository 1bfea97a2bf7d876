"""Encryption at rest per project (issue 20 item 3): off by default; on, the batch files the platform writes under
MLP_HOME hold no plaintext; a master key rotation keeps reads working without rewriting a file; a destroyed data key
(explicitly, or with its project's row) leaves the files undecryptable; a tampered file is refused by name.

Backend-level and cheap: the batch runner's and the batch worker's own read/write functions on the `api` app, no
deployment (tests/serving/test_batch.py runs a whole encrypted job through the live backend)."""

from __future__ import annotations

import io
import json
import stat

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select, text

from jupyter_mlp import at_rest as core
from jupyter_mlp_backend import at_rest
from jupyter_mlp_backend.orm import AuditEntry, ProjectDataKey
from jupyter_mlp_backend.serving import batch_chunks as worker
from jupyter_mlp_backend.serving import predlog  # the batch worker's chunk I/O
from jupyter_mlp_backend.serving.batch import job_dir

SECRET = "SECRET-PATIENT-7f3a9c"  # a value that must never be on disk in the clear once encryption is on


def _csv() -> bytes:
    rows = pd.DataFrame({"name": [f"{SECRET}-{i:03d}" for i in range(300)], "x1": range(300)})
    return rows.to_csv(index=False).encode()


def _batch_files(app, slug: str, job: str) -> tuple[dict, list]:  # noqa: ANN001
    """Run a file-output job's I/O as the runner and its worker do: the upload, the chunks cut from it, each chunk
    scored by the worker's own read/write, the joined output. Returns (info, every file written)."""
    pid = at_rest.project_id(app, slug)
    folder = job_dir(app.state.settings.home, job)
    folder.mkdir(parents=True)
    keys = at_rest.keyring(app)
    core.write_file(folder / "upload", _csv(), keys.writer(pid))  # as jobs.score_upload seals the request body
    info = {"source": {"kind": "upload", "format": "csv"}, "output": {"kind": "file"}, "chunk_rows": 100,
            "slug": slug, "project_id": pid}
    runner = app.state.batch
    total = runner._split(info, folder)
    assert total == 3
    line = json.loads(json.dumps(runner.chunk_key(pid)))  # what the runner sends the worker with each chunk
    (folder / "out").mkdir()
    for i in range(total):
        frame = worker.read_chunk(str(folder / "in" / f"{i:06d}.parquet"), worker.chunk_key(line))
        worker.write_chunk(str(folder / "out" / f"{i:06d}.parquet"), frame.assign(prediction=frame.x1 * 2),
                            worker.chunk_key(line))
    assert runner._finish(job, info, folder, total) == 300
    return info, sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "chunks.json")


def _output(app, slug: str, job: str, keys=None) -> pd.DataFrame:  # noqa: ANN001
    keys = keys or at_rest.keyring(app)
    path = job_dir(app.state.settings.home, job) / "output.parquet"
    return pd.read_parquet(io.BytesIO(core.read_file(path, keys.reader(at_rest.project_id(app, slug)))))


def test_encryption_at_rest(api, acme, globex):
    app = api.client.app
    admin, lena = api.as_user("admin"), api.as_user("lena")

    # off by default, and then nothing changes: plain Parquet files, the known value readable in their bytes
    assert lena.get("/projects/acme/encryption").json()["enabled"] is False
    _, plain = _batch_files(app, "acme", "plainjob")
    assert all(SECRET.encode() in p.read_bytes() for p in plain)  # the search below can find the value
    assert pq.read_table(job_dir(app.state.settings.home, "plainjob") / "output.parquet").num_rows == 300

    # only a platform admin turns it on
    r = lena.put("/projects/acme/encryption", json={"enabled": True})
    assert r.status_code == 403 and "platform admins" in r.json()["error"]["message"]
    assert api.as_user("gus").get("/projects/acme/encryption").status_code == 404  # another project's lead
    assert admin.put("/projects/acme/encryption", json={"enabled": "yes please"}).status_code == 422
    on = admin.put("/projects/acme/encryption", json={"enabled": True}).json()
    assert on["enabled"] and len(on["key_id"]) == 32 and on["master_key_id"]
    assert admin.put("/projects/globex/encryption", json={"enabled": True}).status_code == 200

    # files on disk hold no plaintext rows; readers decrypt transparently
    _, sealed = _batch_files(app, "acme", "job1")
    assert len(sealed) == 8  # upload, 3 chunks in, 3 chunks out, output
    for p in sealed:
        raw = p.read_bytes()
        assert raw.startswith(core.MAGIC) and SECRET.encode() not in raw and b"PAR1" not in raw, p
    out = _output(app, "acme", "job1")
    assert out.name.tolist()[:2] == [f"{SECRET}-000", f"{SECRET}-001"] and out.prediction.tolist()[-1] == 598

    # the key is stored wrapped only; the master key file is the owner's alone
    acme_id = at_rest.project_id(app, "acme")
    with api.db.session() as s:
        wrapped = s.get(ProjectDataKey, acme_id).wrapped
    assert at_rest.keyring(app).writer(acme_id).key not in wrapped
    master_dir = api.settings.home / "keys" / "at-rest"
    first_master = on["master_key_id"]
    assert stat.S_IMODE((master_dir / f"{first_master}.key").stat().st_mode) == 0o600

    # another project's key does not open acme's files
    with pytest.raises(core.AtRestError, match="belongs to another project"):
        core.read_file(job_dir(app.state.settings.home, "job1") / "output.parquet",
                       at_rest.keyring(app).reader(at_rest.project_id(app, "globex")))

    # rotation: every data key re-wrapped, no file rewritten, the old master key destroyed, reads go on
    before = {p: p.stat().st_mtime_ns for p in sealed}
    assert lena.post("/security/rotate-master-key").status_code == 403
    rot = admin.post("/security/rotate-master-key").json()
    assert rot["rewrapped"] == 2 and rot["retired"] == [first_master] and rot["master_key_id"] != first_master
    assert not (master_dir / f"{first_master}.key").exists()
    assert {p: p.stat().st_mtime_ns for p in sealed} == before
    fresh = at_rest.Keyring(app)  # no cached data keys: unwrapped with the new master key
    assert _output(app, "acme", "job1", fresh).equals(out)
    assert admin.get("/projects/acme/encryption").json()["master_key_id"] == rot["master_key_id"]

    # a tampered file: a clear error naming the file and the segment, also from the API's readers
    path = job_dir(app.state.settings.home, "job1") / "in" / "000001.parquet"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(core.AtRestError, match="'000001.parquet' fails authentication at segment 0"):
        worker.read_chunk(str(path), worker.chunk_key(app.state.batch.chunk_key(acme_id)))

    # turned off: new files plain, the sealed ones still read (a job cut while on goes on after it is turned off)
    assert admin.put("/projects/acme/encryption", json={"enabled": False}).json()["enabled"] is False
    line = app.state.batch.chunk_key(acme_id)
    assert line["seal"] is False
    chunk = worker.read_chunk(str(path.with_name("000000.parquet")), worker.chunk_key(line))
    later = path.with_name("later.parquet")
    worker.write_chunk(str(later), chunk, worker.chunk_key(line))
    assert SECRET.encode() in later.read_bytes() and len(chunk) == 100
    _, mixed = _batch_files(app, "acme", "job-off")
    assert all(not p.read_bytes().startswith(core.MAGIC) for p in mixed)

    # crypto-shredding: the admin destroys acme's data key (saying the project's name again)
    r = admin.delete("/projects/acme/encryption/key")
    assert r.status_code == 422 and "confirm=acme" in r.json()["error"]["message"]
    assert lena.delete("/projects/acme/encryption/key", params={"confirm": "acme"}).status_code == 403
    gone = admin.delete("/projects/acme/encryption/key", params={"confirm": "acme"}).json()
    assert gone == {**gone, "enabled": False, "key_id": None}
    for keys in (at_rest.keyring(app), at_rest.Keyring(app)):  # the backend's own cache forgot it too
        with pytest.raises(core.AtRestError, match="no longer exists"):
            _output(app, "acme", "job1", keys)

    # deleting a project's row destroys its key with it: globex's files are unreadable with the keys left
    _batch_files(app, "globex", "job2")
    gid = at_rest.project_id(app, "globex")
    with api.db.session() as s:
        s.execute(text("DELETE FROM projects WHERE id = :i"), {"i": gid})
        s.commit()
        assert s.execute(select(ProjectDataKey)).scalars().all() == []
    at_rest.keyring(app).forget(on["key_id"])  # a no-op for globex's key: the lookup goes to the database
    with pytest.raises(core.AtRestError, match="no longer exists"):
        core.read_file(job_dir(app.state.settings.home, "job2") / "output.parquet", at_rest.Keyring(app).reader(gid))

    with api.db.session() as s:
        actions = set(s.execute(select(AuditEntry.action).where(AuditEntry.action.like("encryption.%"))).scalars())
    assert {"encryption.set", "encryption.rotate_master_key", "encryption.shred"} <= actions


def test_sealed_format_rejects_reorder_and_truncation(tmp_path):
    dk = core.DataKey.generate()
    data = bytes(range(256)) * (3 * core.SEGMENT // 256 + 7)  # four segments
    sealed = core.seal(data, dk)
    lookup = {dk.id: dk.key}.get
    assert b"".join(core.open_chunks(io.BytesIO(sealed), lookup)) == data
    seg = core.SEGMENT + core.TAG
    h = core.HEADER
    swapped = sealed[:h] + sealed[h + seg:h + 2 * seg] + sealed[h:h + seg] + sealed[h + 2 * seg:]
    for bad in (swapped, sealed[:h + 2 * seg], sealed[:-1], sealed[:h]):
        with pytest.raises(core.AtRestError):
            b"".join(core.open_chunks(io.BytesIO(bad), lookup))
    other = core.seal(data, dk)
    assert other[core.HEADER:] != sealed[core.HEADER:]  # a fresh salt per file: no two files share a segment key

    # read at random (what a Parquet reader does): the same bytes; a file cut at a segment boundary is refused
    path = tmp_path / "f"
    path.write_bytes(sealed)
    with core.open_random(path, lookup) as f:
        assert f.seek(core.SEGMENT - 3) == core.SEGMENT - 3 and f.read(7) == data[core.SEGMENT - 3:core.SEGMENT + 4]
        assert f.seek(-5, 2) == len(data) - 5 and f.read() == data[-5:]
        f.seek(0)
        assert f.read() == data
    path.write_bytes(sealed[:h + 3 * seg])
    with core.open_random(path, lookup) as f, pytest.raises(core.AtRestError, match="authentication at segment 2"):
        f.seek(2 * core.SEGMENT)
        f.read(1)


class MemoryKms:
    """A master-key plug-in as a KMS would be one (`at_rest_master_key = "module:Class"`, built with MLP_HOME): keys
    live elsewhere (here a dict), the platform only asks it to wrap and unwrap."""

    keys: dict[str, bytes] = {}

    def __init__(self, home):  # noqa: ANN001
        self.home, self.cur = home, None

    def current(self) -> str:
        return self.cur or self.rotate()

    def rotate(self) -> str:
        import secrets

        self.cur = secrets.token_hex(8)
        self.keys[self.cur] = secrets.token_bytes(32)
        return self.cur

    def wrap(self, data_key: bytes, context: bytes) -> tuple[str, bytes]:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        kid = self.current()
        return kid, b"n" * 12 + AESGCM(self.keys[kid]).encrypt(b"n" * 12, data_key, context)

    def unwrap(self, key_id: str, wrapped: bytes, context: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(self.keys[key_id]).decrypt(wrapped[:12], wrapped[12:], context)

    def retire(self, key_id: str) -> None:
        self.keys.pop(key_id, None)


def test_a_kms_plugs_in_like_the_signer(tmp_path):
    kms = core.make_master_key(tmp_path, "tests.backend.test_at_rest:MemoryKms")
    assert type(kms).__name__ == "MemoryKms"  # (pytest imports this module under another name)
    kid, wrapped = kms.wrap(b"k" * 32, b"ctx")
    assert kms.unwrap(kid, wrapped, b"ctx") == b"k" * 32
    assert not (tmp_path / "keys").exists()  # nothing of it under MLP_HOME
    file_key = core.make_master_key(tmp_path, "file")
    fid, fw = file_key.wrap(b"k" * 32, b"ctx")
    with pytest.raises(core.AtRestError, match="does not unwrap"):
        file_key.unwrap(fid, fw, b"another project")


def test_iceberg_data_files_sealed(api, acme, globex):
    """A dataset's Parquet data files are sealed for a project with encryption on: no known value in their bytes
    nor in the table's metadata (no column bounds, no stored profile); reads through the API return the rows;
    rotation keeps them readable; a shredded project's data files cannot be read; another project stays plain."""
    app, admin = api.client.app, api.as_user("admin")
    warehouse = api.settings.home / "iceberg" / "warehouse"
    frame = pd.DataFrame({"name": [f"{SECRET}-{i:03d}" for i in range(300)], "x1": range(300)})
    body = io.BytesIO()
    frame.to_parquet(body, index=False)
    gw = {"Authorization": f"Bearer {api.token('sam')}"}

    def put(slug: str, name: str, mode: str = "overwrite") -> None:  # as a kernel writes a dataset
        r = api.client.put(f"/mlflow/{slug}/mlp/datasets/{name}", params={"mode": mode}, content=body.getvalue(),
                           headers=gw if slug == "acme" else {"Authorization": f"Bearer {api.token('gus')}"})
        assert r.status_code == 201, r.text

    def get(slug: str, name: str):  # noqa: ANN202
        return api.client.get(f"/mlflow/{slug}/mlp/datasets/{name}",
                              headers=gw if slug == "acme" else {"Authorization": f"Bearer {api.token('gus')}"})

    def files(slug: str, name: str) -> list:
        return sorted((warehouse / f"p_{slug}" / name).rglob("*"))

    put("acme", "before")  # written before encryption was turned on: plain, and still read after
    assert admin.put("/projects/acme/encryption", json={"enabled": True}).status_code == 200
    put("acme", "patients")
    put("acme", "patients", "append")
    put("globex", "churn")  # encryption off there: plain Parquet, as it was
    data = [p for p in files("acme", "patients") if p.suffix == ".parquet"]
    assert len(data) == 2
    for p in files("acme", "patients"):
        raw = p.read_bytes() if p.is_file() else b""
        assert SECRET.encode() not in raw, p  # data files sealed; manifests without bounds; no profile stored
    assert all(p.read_bytes().startswith(core.MAGIC) for p in data)
    assert all(SECRET.encode() in p.read_bytes() for p in files("globex", "churn") if p.suffix == ".parquet")
    manifests = app.state.datasets._open().load_table("p_acme.patients").inspect.files()  # noqa: SLF001
    assert all(not b for b in manifests.column("lower_bounds").to_pylist())
    rows = pd.read_parquet(io.BytesIO(get("acme", "patients").content))
    assert len(rows) == 600 and rows.name.tolist()[:2] == [f"{SECRET}-000", f"{SECRET}-001"]
    assert len(pd.read_parquet(io.BytesIO(get("acme", "before").content))) == 300
    first = next(t for t in app.state.datasets.list("acme") if t["name"] == "patients")["snapshots"][0]
    prof = admin.get(f"/projects/acme/datasets/patients/snapshots/{first['snapshot_id']}/profile")
    assert prof.status_code == 200 and prof.json()["source"] == "computed", prof.text  # none stored in metadata

    # the prediction log: spooled by the backend, appended by its committer process (the real one), both sealed
    plog = app.state.gateway.predlog
    for i in range(50):
        plog.add("acme", "demo", predlog.row(f"p{i}", "m", 1, "v2", 1.0, f'{{"{SECRET}": {i}}}'.encode(), b"[1]"))
    assert api.client.portal.call(plog.drain, "acme", "demo", 120) == 0
    log_files = [p for p in files("acme", "predictions_demo") if p.is_file()]
    assert [p for p in log_files if p.suffix == ".parquet"]
    assert all(p.read_bytes().startswith(core.MAGIC) for p in log_files if p.suffix == ".parquet")
    assert all(SECRET.encode() not in p.read_bytes() for p in log_files)
    got, _ = app.state.datasets.appended("acme", "predictions_demo", None)
    assert got.num_rows == 50 and SECRET in got.column("request")[0].as_py()

    # rotation re-wraps the data key: nothing rewritten, reads go on with a fresh keyring
    assert admin.post("/security/rotate-master-key").status_code == 200
    app.state.at_rest = at_rest.Keyring(app)
    assert len(pd.read_parquet(io.BytesIO(get("acme", "patients").content))) == 600

    # shredded: the data files cannot be read; the plain one written before still is
    assert admin.delete("/projects/acme/encryption/key", params={"confirm": "acme"}).status_code == 200
    r = get("acme", "patients")
    assert r.status_code == 409 and "no longer exists" in r.json()["message"], r.text
    with pytest.raises(core.AtRestError, match="no longer exists"):
        app.state.datasets.appended("acme", "predictions_demo", None)
    assert get("acme", "before").status_code == 200
    assert get("globex", "churn").status_code == 200


def test_column_policy_secrets_are_wrapped_by_the_master_key(api, acme, globex):
    """The HMAC secret of `hash` column policies is kept wrapped by the at-rest master key, never in the clear; a row
    written in the clear before (migration 0016's) still reads as the same secret and is wrapped on use or by a
    rotation; rotating the master key re-wraps every secret (hashes do not change) and retires the old key."""
    import secrets

    from jupyter_mlp_backend.datasets import policy
    from jupyter_mlp_backend.orm import ProjectColumnKey

    app, admin = api.client.app, api.as_user("admin")
    aid, gid = at_rest.project_id(app, "acme"), at_rest.project_id(app, "globex")
    legacy = secrets.token_hex(32)
    with api.db.session() as s:  # globex's, as an earlier release stored it
        s.add(ProjectColumnKey(project_id=gid, secret=legacy))
        s.commit()
    with api.db.session() as s:
        key = policy.project_key(s, aid)  # made on first use
        s.commit()
    master = at_rest.keyring(app).master()
    with api.db.session() as s:
        row = s.get(ProjectColumnKey, aid)
        assert row.secret is None and row.master_key_id == master.current() and key not in row.wrapped
        assert key.hex() not in row.wrapped.hex()
    fresh = at_rest.Keyring(app)  # no cache: unwrapped from the row
    with api.db.session() as s:
        s.info[at_rest.KEYRING] = fresh
        assert policy.project_key(s, aid) == key

    # rotation wraps the clear row and re-wraps the wrapped one; the secrets stay the same
    rot = admin.post("/security/rotate-master-key").json()
    assert rot["column_secrets"] == 2 and rot["retired"] == [row.master_key_id]
    with api.db.session() as s:
        rows = {r.project_id: r for r in s.execute(select(ProjectColumnKey)).scalars()}
        assert all(r.secret is None and r.master_key_id == rot["master_key_id"] for r in rows.values())
        s.info[at_rest.KEYRING] = at_rest.Keyring(app)
        assert policy.project_key(s, aid) == key and policy.project_key(s, gid) == bytes.fromhex(legacy)

    # a clear row met on use is wrapped then, in the reader's transaction
    with api.db.session() as s:
        s.get(ProjectColumnKey, gid).secret, s.get(ProjectColumnKey, gid).wrapped = legacy, None
        s.commit()
    with api.db.session() as s:
        assert policy.project_key(s, gid) == bytes.fromhex(legacy)
        s.commit()
    with api.db.session() as s:
        row = s.get(ProjectColumnKey, gid)
        assert row.secret is None and legacy not in row.wrapped.hex()


def _finished_job(api, slug: str, output: bytes, dk) -> str:  # noqa: ANN001
    """A succeeded file-output batch job whose output file holds `output` (sealed with `dk` when given), in the
    platform database as the runner leaves it, without a deployment's worker."""
    import uuid

    from jupyter_mlp_backend.orm import BatchJob, Deployment, ModelVersion, RegisteredModel

    with api.db.session() as s:
        pid = at_rest.project_id(api.client.app, slug, s)
        m = RegisteredModel(project_id=pid, name="m", mlflow_name=f"{slug}.m.{uuid.uuid4().hex}", created_by="sam")
        s.add(m)
        s.flush()
        v = ModelVersion(model_id=m.id, version=1, source="x", lineage="{}", created_by="sam")
        s.add(v)
        s.flush()
        d = Deployment(project_id=pid, name="d", model_id=m.id, version_id=v.id, status="ready", created_by="sam")
        s.add(d)
        s.flush()
        job = uuid.uuid4().hex
        s.add(BatchJob(id=job, deployment_id=d.id, version_id=v.id, status="succeeded", chunk_rows=10,
                       source=json.dumps({"kind": "upload", "format": "csv"}), output=json.dumps({"kind": "file"}),
                       created_by="sam"))
        s.commit()
    folder = job_dir(api.settings.home, job)
    folder.mkdir(parents=True)
    core.write_file(folder / "output.parquet", output, dk)
    return job


def _serve(app, path: str, token: str) -> tuple[int, dict, int, bytes, int, int]:  # noqa: ANN001
    """One GET straight through the ASGI app, each body piece hashed and dropped as it arrives (a test client would
    gather the body first): (status, headers, bytes received, their sha256, the largest piece, the peak of the
    memory Python allocated meanwhile, traced)."""
    import asyncio
    import hashlib
    import tracemalloc

    got = {"status": 0, "headers": {}, "n": 0, "largest": 0, "sha": hashlib.sha256(), "asked": False}

    async def receive() -> dict:  # the request's (empty) body, then nothing: the client stays connected
        if not got["asked"]:
            got["asked"] = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            got["status"] = message["status"]
            got["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            got["n"] += len(body)
            got["largest"] = max(got["largest"], len(body))
            got["sha"].update(body)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "state": {},
             "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    tracemalloc.start()
    try:
        asyncio.run(app(scope, receive, send))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return got["status"], got["headers"], got["n"], got["sha"].digest(), got["largest"], peak


def test_a_large_sealed_batch_output_is_streamed_segment_by_segment(api, acme):
    """A sealed batch output is downloaded decrypted segment by segment: every piece sent is at most one segment,
    the backend never holds the whole file (traced memory stays far below its size), the length is announced, and
    a file altered anywhere is refused (409) before anything is sent."""
    import hashlib
    import os

    app, admin = api.client.app, api.as_user("admin")
    assert admin.put("/projects/acme/encryption", json={"enabled": True}).status_code == 200
    dk = at_rest.keyring(app).writer(at_rest.project_id(app, "acme"))
    plain = os.urandom(24 << 20)  # 24 MiB: what the route sends is bytes, Parquet or not
    job = _finished_job(api, "acme", plain, dk)
    sealed = job_dir(api.settings.home, job) / "output.parquet"
    assert sealed.read_bytes().startswith(core.MAGIC)
    url = f"/api/projects/acme/batch-jobs/{job}/output"

    status, headers, n, sha, largest, peak = _serve(app, url, api.token("sam"))
    assert status == 200 and n == len(plain) and sha == hashlib.sha256(plain).digest()
    assert headers["content-length"] == str(len(plain)) and "attachment" in headers["content-disposition"]
    assert largest <= core.SEGMENT
    assert peak < 8 << 20, f"{peak} bytes traced while serving a {len(plain)}-byte file"

    raw = bytearray(sealed.read_bytes())
    raw[-20] ^= 1  # the last segment: found before the first byte goes out
    sealed.write_bytes(bytes(raw))
    r = api.as_user("sam").get(f"/projects/acme/batch-jobs/{job}/output")
    assert r.status_code == 409 and "fails authentication at segment 383" in r.json()["error"]["message"], r.text


def test_a_shaped_sealed_batch_output_is_read_row_group_by_row_group(api, acme):
    """A download a column policy shapes reads the sealed output row group by row group (decrypting the segments each
    read touches) and streams the rewritten file: the backend never holds either whole."""
    import numpy as np

    from jupyter_mlp_backend.orm import DatasetColumnPolicy

    app, admin = api.client.app, api.as_user("admin")
    assert admin.put("/projects/acme/encryption", json={"enabled": True}).status_code == 200
    pid = at_rest.project_id(app, "acme")
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"ssn": [f"{v:016x}" for v in rng.integers(0, 2**63, 600_000)],
                          "noise": rng.random(600_000)})
    body = io.BytesIO()
    frame.to_parquet(body, index=False, row_group_size=25_000, compression="none")
    job = _finished_job(api, "acme", body.getvalue(), at_rest.keyring(app).writer(pid))
    with api.db.session() as s:
        s.add(DatasetColumnPolicy(project_id=pid, dataset="credit", column="ssn", role="viewer", action="mask",
                                  updated_by="lena"))
        s.commit()
    url = f"/api/projects/acme/batch-jobs/{job}/output"

    status, headers, n, _, largest, peak = _serve(app, url, api.token("vic"))
    assert status == 200 and largest <= core.SEGMENT
    assert peak < len(body.getvalue()) // 2, f"{peak} bytes traced while shaping a {len(body.getvalue())}-byte file"
    out = pd.read_parquet(io.BytesIO(api.as_user("vic").get(f"/projects/acme/batch-jobs/{job}/output").content))
    assert out["ssn"].unique().tolist() == ["***"] and out["noise"].tolist() == frame["noise"].tolist()
    assert int(headers["content-length"]) == n
    assert not list(job_dir(api.settings.home, job).glob("*.tmp*"))  # the rewritten file is gone once sent
