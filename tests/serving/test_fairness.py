"""Fairness between projects at the serving gateway (issue 19 item 1), functionally, without timing latencies:
a refused request is answered from its headers before its body is sent, a burst's 429s are paced, projects are
served in turn, and a project's limit is sized from the capacity measured while its queue was full. The latency
side is `tests/bench/bench_isolation.py` and `test_serving_isolation.py`."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
import time
from urllib.parse import urlparse

import pytest

from jupyter_mlp_backend.serving import fairness
from jupyter_mlp_backend.serving.fairness import Fairness

GOOD = {"dataframe_split": {"columns": ["x1", "x2"], "data": [[0.5, -1.0]]}}

HAMMER = textwrap.dedent("""
    # n keep-alive connections sending one fixed request as fast as answers come: raw sockets, so that the
    # client (cheap per request) is not what limits the rate
    import asyncio, sys, time
    host, port, path, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    seconds, n = float(sys.argv[5]), int(sys.argv[6])
    body = b'{"dataframe_split": {"columns": ["x1", "x2"], "data": [[1.0, 2.0]]}}'
    request = (f"POST {path} HTTP/1.1\\r\\nHost: {host}\\r\\nAuthorization: Bearer {key}\\r\\n"
               f"Content-Type: application/json\\r\\nContent-Length: {len(body)}\\r\\n\\r\\n").encode() + body
    codes = {}
    async def client():
        r, w = await asyncio.open_connection(host, port)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            w.write(request)
            head = await r.readuntil(b"\\r\\n\\r\\n")
            status = int(head[9:12])
            length = int(head.lower().split(b"content-length: ")[1].split(b"\\r\\n")[0])
            await r.readexactly(length)
            if status == 429:
                assert b"retry-after: " in head.lower(), head
            codes[status] = codes.get(status, 0) + 1
        w.close()
    async def main():
        await asyncio.gather(*(client() for _ in range(n)))
    asyncio.run(main())
    print(repr(codes))
""")


def test_a_refused_request_is_answered_before_its_body_is_sent(backend, project, deployed):
    ep, _ = deployed
    key = backend.client("lena").post(f"/projects/{project}/api-keys", json={"name": "slow", "rate_per_s": 0.01})
    key = key.json()["key"]
    assert ep.client(key).post("/invocations", json=GOOD).status_code == 200  # its one token
    u = urlparse(ep.base)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        # Headers only: a body of 100 kB is announced and never sent. The answer comes anyway.
        s.sendall(f"POST {u.path}/invocations HTTP/1.1\r\nHost: {u.hostname}\r\nAuthorization: Bearer {key}\r\n"
                  "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(65536)
            assert chunk, answer
            answer += chunk
    head = answer.split(b"\r\n\r\n")[0].decode().lower()
    assert head.startswith("http/1.1 429"), head
    assert "retry-after: " in head and "x-prediction-id: " in head


@pytest.mark.settings(serving_reject_rate=20)
def test_a_burst_of_refused_requests_is_answered_at_a_paced_rate(backend, project, deployed):
    """32 connections hammer a key that is over its limit: the gateway answers about 20 429s a second
    (holding the rest, at most MAX_HOLD_S each: `test_paced_rejections_are_held_at_most_max_hold_and_retry_after`)
    instead of as many as the clients can send."""
    ep, _ = deployed
    key = backend.client("lena").post(f"/projects/{project}/api-keys", json={"name": "noisy", "rate_per_s": 1})
    key = key.json()["key"]
    seconds, n = 3.0, 32
    u = urlparse(ep.base)
    out = subprocess.run([sys.executable, "-c", HAMMER, u.hostname, str(u.port), f"{u.path}/invocations", key,
                          str(seconds), str(n)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    codes = eval(out.stdout)  # noqa: S307 - our own subprocess's literal
    print(codes)
    assert set(codes) == {200, 429} and codes[200] <= 2 + seconds, codes
    # Without pacing this is thousands (5,488 on a loaded 2-core machine); paced, one second's worth at most per
    # second, plus the requests each connection had open when the burst ended
    # (a 429 is held at most MAX_HOLD_S: with more connections than 20 a second, each gets one a second)
    assert codes[429] <= max(20, n / fairness.MAX_HOLD_S) * (seconds + 1) + n, codes


def test_projects_are_served_in_turn():
    """Slots free one at a time go to the waiting projects in turn, not in arrival order: project 2's one request
    goes ahead of project 1's queued burst."""
    async def main() -> list[int]:
        fair = Fairness(slots=2)
        order: list[int] = []

        async def request(project: int) -> None:
            await fair.acquire(project, bound=100)
            order.append(project)

        await fair.acquire(1, 100)
        await fair.acquire(1, 100)  # the gateway is full
        burst = [asyncio.create_task(request(1)) for _ in range(5)]
        await asyncio.sleep(0)
        steady = [asyncio.create_task(request(2)) for _ in range(2)]
        await asyncio.sleep(0)
        assert fair.snapshot(1)["waiting"] == 5 and fair.snapshot(2)["waiting"] == 2
        for _ in range(7):
            fair.release(order[-1] if order else 1)
            await asyncio.sleep(0)
        await asyncio.gather(*burst, *steady)
        return order

    assert asyncio.run(main()) == [1, 2, 1, 2, 1, 1, 1]


def test_a_project_at_its_own_bound_waits_behind_itself_only():
    """A project with all its slots in flight queues; another project's request goes straight through."""
    async def main() -> None:
        fair = Fairness(slots=100)
        for _ in range(3):
            await fair.acquire(1, bound=3)
        waiting = asyncio.create_task(fair.acquire(1, bound=3))
        await asyncio.sleep(0)
        assert not waiting.done()
        await asyncio.wait_for(fair.acquire(2, bound=3), 1)  # not behind project 1's queue
        fair.release(1)
        await asyncio.wait_for(waiting, 1)
        cancelled = asyncio.create_task(fair.acquire(1, bound=3))
        await asyncio.sleep(0)
        cancelled.cancel()  # a client that goes away leaves no slot taken nor a waiter behind
        await asyncio.sleep(0)
        assert fair.snapshot(1) == {**fair.snapshot(1), "inflight": 3, "waiting": 0}
        assert fair.used == 4

    asyncio.run(main())


def test_a_project_limit_is_sized_from_measured_capacity():
    """While project 1's queue is full, its completions per second are measured; with another project active
    it may then send SHARE / 2 of that, never above the configured rate; alone, the configured rate."""
    async def main() -> None:
        fair = Fairness()
        fair.seen(1)
        assert fair.project_rate(1, 5000) == 5000  # nothing measured yet
        for _ in range(2):
            await fair.acquire(1, bound=2)
        waiters = [asyncio.create_task(fair.acquire(1, bound=2)) for _ in range(400)]
        await asyncio.sleep(0)
        t0 = time.monotonic()
        served = 0
        while time.monotonic() - t0 < fairness.WINDOW_S * 2.5:  # about 200 completions a second
            await asyncio.sleep(0.005)
            fair.release(1)
            served += 1
            await asyncio.sleep(0)
        rate = served / (time.monotonic() - t0)
        capacity = fair.snapshot(1)["capacity_per_s"]
        assert capacity is not None and 0.5 * rate < capacity < 2 * rate, (capacity, rate)
        assert fair.project_rate(1, 5000) == 5000  # alone: all the machine serves
        fair.seen(2)
        fair._active = (0.0, 1)  # recount now
        assert fair.project_rate(1, 5000) == max(fairness.FLOOR, capacity * fairness.SHARE / 2)
        assert fair.project_rate(1, 10) == 10  # never above the configured rate
        for w in waiters:
            w.cancel()

    asyncio.run(main())


def test_paced_rejections_are_held_at_most_max_hold_and_retry_after():
    fair = Fairness(reject_rate=10, max_hold=0.5)
    delays = [fair.reject_delay(1, 1.0) for _ in range(20)]
    assert delays[0] == 0 and 0.09 < delays[1] < 0.11  # one per 100 ms
    assert max(delays) <= 0.5 + 1e-6
    assert fair.reject_delay(2, 1.0) == 0  # another project's 429s are not behind these
    assert fair.reject_delay(1, 0.2) <= 0.2 + 1e-6


def test_in_flight_bound_is_a_full_batch_alone_and_per_worker_share_with_others():
    fair = Fairness()
    fair.seen(1)
    assert fair.bound(workers=2, max_batch=64) == 128  # alone: nothing to be fair to, batches stay full
    fair.seen(2)
    fair._active = (0.0, 1)  # recount now
    assert fair.bound(workers=2, max_batch=64) == 2 * fairness.PER_WORKER
