"""One project's burst does not raise another project's latency: the burst is cut by its own project's limit (429,
cheap) and each deployment has its own workers. Also: the Prometheus histogram carries the SLA as a bucket."""

from __future__ import annotations

import statistics
import subprocess
import sys
import textwrap
import time

import httpx

GOOD = {"dataframe_split": {"columns": ["x1", "x2"], "data": [[0.5, -1.0]]}}

BURST = textwrap.dedent("""
    import asyncio, sys, time, httpx
    url, key, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    codes = {}
    async def client(c):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            r = await c.post(url, json={"dataframe_split": {"columns": ["x1", "x2"], "data": [[1.0, 2.0]]}})
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
    async def main():
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=30) as c:
            await asyncio.gather(*(client(c) for _ in range(32)))
    asyncio.run(main())
    print(codes)
""")


def _latencies(client: httpx.Client, n: int) -> list[float]:
    out, dropped = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            r = client.post("/invocations", json=GOOD)
        except httpx.RemoteProtocolError:
            # Once in a full CI run a reused keep-alive connection was closed by the server with no response and no
            # error logged (not reproduced; named open in the session note). This test measures isolation, so one
            # such close is retried on a new connection and counted; more than one fails.
            dropped += 1
            assert dropped <= 1, "the server closed keep-alive connections twice without answering"
            r = client.post("/invocations", json=GOOD)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text
    return sorted(out)


def _p99(values: list[float]) -> float:
    return values[int(0.99 * (len(values) - 1))]


def test_a_burst_in_one_project_leaves_another_projects_p99_alone(backend, project, deployed, publish, xy):
    from sklearn.linear_model import LogisticRegression

    ep, _ = deployed  # acme/churn-api
    x, y = xy
    admin = backend.admin
    assert admin.post("/projects", json={"slug": "globex", "name": "Globex"}).status_code == 201
    assert admin.put("/projects/globex/members/gus", json={"role": "lead"}).status_code == 200
    publish(LogisticRegression().fit(x, y), x, "globex", user="gus")
    gus = backend.client("gus")
    assert gus.post("/projects/globex/deployments", json={"name": "churn-api", "model": "churn",
                                                          "alias": "staging"}).status_code == 201
    key_b = gus.post("/projects/globex/api-keys", json={"name": "b"}).json()["key"]
    noisy = backend.client("lena").post(f"/projects/{project}/api-keys", json={"name": "noisy",
                                                                                "rate_per_s": 20}).json()["key"]
    b = httpx.Client(base_url=f"{backend.url}/serve/globex/churn-api",
                     headers={"Authorization": f"Bearer {key_b}"}, timeout=30)
    _latencies(b, 50)  # warm
    quiet = _latencies(b, 300)
    # The burst comes from a low-priority process: it stands for client systems elsewhere, so its own CPU use
    # (a Python HTTP client is costly per request) must not be what slows globex down on this small machine.
    burst = subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", BURST, f"{ep.base}/invocations", noisy, "8"],
                             stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    loud = _latencies(b, 300)
    codes = eval(burst.communicate(timeout=60)[0])  # noqa: S307 - our own subprocess's dict literal
    assert codes.get(429, 0) > codes.get(200, 0) > 0, codes  # the burst was real, and mostly refused
    q, l_ = _p99(quiet), _p99(loud)
    print(f"globex p99 quiet {q:.2f} ms, during acme's burst {l_:.2f} ms; p50 {statistics.median(quiet):.2f} -> "
          f"{statistics.median(loud):.2f} ms; burst answers {codes}")
    assert l_ <= max(3 * q, q + 20), (q, l_)


def test_prometheus_histogram_has_the_sla_bucket(backend, project, deployed):
    ep, _ = deployed
    sam = backend.client("sam")
    assert sam.patch(f"/projects/{project}/deployments/churn-api", json={"sla_ms": 37}).json()["sla_ms"] == 37
    for _ in range(5):
        assert ep.client().post("/invocations", json=GOOD).status_code == 200
    anon = httpx.get(f"{backend.url}/metrics")
    assert anon.status_code == 401
    assert httpx.get(f"{backend.url}/metrics", headers={"Authorization": f"Bearer {backend.token('sam')}"}
                     ).status_code == 403  # platform admins (and the Prometheus scraping with their token) only
    text = httpx.get(f"{backend.url}/metrics", headers={"Authorization": f"Bearer {backend.token('admin')}"}).text
    labels = f'deployment="churn-api",project="{project}"'
    assert f'mlp_serving_request_duration_seconds_bucket{{deployment="churn-api",le="0.037",project="{project}"}}' \
        in text
    count = [ln for ln in text.splitlines() if ln.startswith("mlp_serving_request_duration_seconds_count")
             and "churn-api" in ln]
    assert count and float(count[0].rsplit(" ", 1)[1]) == 5
    assert f'mlp_serving_sla_seconds{{{labels}}} 0.037' in text
    m = sam.get(f"/projects/{project}/deployments/churn-api/metrics").json()
    assert m["requests"] == 5 and m["sla_ms"] == 37 and m["series"] and m["p50_ms"] > 0
