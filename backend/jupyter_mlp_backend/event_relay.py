"""The relay: publishes the platform events outbox (events.py) to Kafka, in `seq` order.

One thread in the backend (confluent-kafka's producer is blocking). Each round takes up to `batch` pending rows,
produces each to `<prefix><family>` keyed by its project slug (so a project's events keep their order within
one partition), and waits until librdkafka reported every one of them: delivered (the broker acknowledged it
with acks=all) or failed (message.timeout.ms passed, say, with the broker down). Rows are marked sent only when
acknowledged; the others stay pending and are produced again after a backoff that doubles up to `max_backoff`.
The producer is idempotent, so its own retries while the broker comes back do not duplicate a message. After a
round with failures (or a fatal producer error) the relay starts a new producer: a broker that lost the
producer's state (Tansu in memory, restarted) lets the old one's messages time out forever.

Guarantees: at least once (a row produced and acknowledged whose `sent_at` update was lost, e.g. the backend
killed in between, is sent again: consumers deduplicate by the CloudEvents `id`); in order per project, except
that a row that failed while a later row of its project was acknowledged (not seen with the idempotent producer,
which fails a partition's later messages with it) is sent after it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import select, update

from .db import Database
from .events import FAMILIES, family
from .orm import PlatformEvent, utcnow

log = logging.getLogger(__name__)


class Relay:
    def __init__(self, db: Database, bootstrap: str, prefix: str = "mlp.", *, batch: int = 500,
                 idle: float = 0.5, min_backoff: float = 0.5, max_backoff: float = 30.0,
                 message_timeout_ms: int = 15_000):
        self.db, self.bootstrap, self.prefix = db, bootstrap, prefix
        self.batch, self.idle, self.min_backoff, self.max_backoff = batch, idle, min_backoff, max_backoff
        self.message_timeout_ms = message_timeout_ms
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._fatal = False
        self._topics_ready = False
        self.sent = 0  # rows acknowledged since start (for tests and logs)

    def topic(self, type_: str) -> str:
        return self.prefix + family(type_)

    def _producer(self) -> Any:
        from confluent_kafka import Producer

        self._fatal = False

        def on_error(err: Any) -> None:
            if err.fatal():
                self._fatal = True
            log.warning("kafka: %s", err)

        return Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "acks": "all",
                         "linger.ms": 5, "message.timeout.ms": self.message_timeout_ms,
                         "retry.backoff.ms": 200, "retry.backoff.max.ms": 2000,
                         "reconnect.backoff.max.ms": 2000, "error_cb": on_error, "logger": log})

    def _create_topics(self) -> None:
        """Best effort, until the broker answered once: a broker that auto-creates topics, or an admin who created
        them, needs none of this. Short timeouts: a broker that is down must not hold the relay up."""
        if self._topics_ready or self._stop.is_set():
            return
        try:
            from concurrent.futures import wait

            from confluent_kafka import KafkaError
            from confluent_kafka.admin import AdminClient, NewTopic

            admin = AdminClient({"bootstrap.servers": self.bootstrap, "logger": log})
            futures = list(admin.create_topics([NewTopic(self.prefix + f, num_partitions=-1, replication_factor=-1)
                                                for f in FAMILIES], operation_timeout=3, request_timeout=3).values())
            for _ in range(20):  # one deadline for them all (~4 s, not 4 s each); a stop does not wait for it
                if not wait(futures, timeout=0.2).not_done or self._stop.is_set():
                    break
            answered = 0
            for f in futures:
                # exception(), never result(): a raised exception's traceback would hold this frame, and the admin
                # client in it, in a cycle with its future. The client must be destroyed here, by this thread, when
                # the function returns: one left to the garbage collector is destroyed by whichever thread collects
                # next, and from librdkafka's own callback thread that aborts the process.
                e = f.exception(timeout=0) if f.done() else TimeoutError()
                err = e.args[0] if e is not None and e.args and isinstance(e.args[0], KafkaError) else None
                if e is None or (err is not None and err.code() not in (
                        KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError.REQUEST_TIMED_OUT)):
                    answered += 1  # created, exists, or not allowed (producing tells); not: no broker
            self._topics_ready = answered == len(futures)
        except Exception as e:  # noqa: BLE001 - the broker may be down: rows wait
            log.info("kafka: could not create the event topics now: %s", e)

    def pending(self) -> list[tuple[int, str, str, str]]:
        with self.db.session() as s:
            return [tuple(r) for r in s.execute(
                select(PlatformEvent.seq, PlatformEvent.project, PlatformEvent.type, PlatformEvent.body)
                .where(PlatformEvent.sent_at.is_(None)).order_by(PlatformEvent.seq).limit(self.batch))]

    def _mark(self, acked: list[int], failed: list[int]) -> None:
        with self.db.session() as s:
            if acked:
                s.execute(update(PlatformEvent).where(PlatformEvent.seq.in_(acked)).values(sent_at=utcnow()))
            if failed:
                s.execute(update(PlatformEvent).where(PlatformEvent.seq.in_(failed))
                          .values(attempts=PlatformEvent.attempts + 1))
            s.commit()

    def round(self, producer: Any) -> tuple[int, int]:
        """Publish one batch; returns (acknowledged, failed)."""
        rows = self.pending()
        if not rows:
            return 0, 0
        results: dict[int, Any] = {}
        produced = 0
        for seq, project, type_, body in rows:
            def done(err: Any, _msg: Any, seq: int = seq) -> None:
                results[seq] = err
            try:
                producer.produce(self.topic(type_), key=project.encode(), value=body.encode(), on_delivery=done,
                                 headers=[("ce_specversion", b"1.0"), ("content-type", b"application/cloudevents+json")])
                produced += 1
            except BufferError:
                break  # the local queue is full: the rest wait for the next round
        while len(results) < produced and not self._fatal:
            producer.poll(0.2)
            if self._stop.is_set():
                producer.flush(2)
                break
        acked = [s for s, e in results.items() if e is None]
        failed = [s for s, e in results.items() if e is not None]
        if failed:
            log.warning("kafka: %d event(s) not acknowledged (%s); they wait", len(failed), results[failed[0]])
        self._mark(acked, failed)
        self.sent += len(acked)
        return len(acked), len(failed) + (produced - len(results))

    def run(self) -> None:
        producer = self._producer()
        self._create_topics()
        backoff = self.min_backoff
        while not self._stop.is_set():
            try:
                acked, failed = self.round(producer)
            except Exception:  # noqa: BLE001 - the database or the client: log, wait, try again
                log.exception("event relay round failed")
                acked, failed = 0, 1
            if (self._fatal or failed) and not self._stop.is_set():
                # A new producer for what failed: one whose broker lost its producer state (a restarted broker
                # that keeps none, or a fatal error) would time out again on every retry.
                log.warning("kafka: starting a new producer for the events that were not acknowledged")
                try:
                    producer.purge()
                except Exception:  # noqa: BLE001 - a dead producer may refuse even that
                    pass
                producer = self._producer()
                self._create_topics()
            if failed:
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = self.min_backoff
            if not acked:
                self._wake.wait(self.idle)
                self._wake.clear()
        # No final flush: an acknowledgement that came now would not be recorded (the round is over), so the row
        # would be sent again anyway; what is still queued stays pending and the next start sends it.
        try:
            producer.purge()
        except Exception:  # noqa: BLE001 - a dead producer may refuse even that
            pass

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="mlp-event-relay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
