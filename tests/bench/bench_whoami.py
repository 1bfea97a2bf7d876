"""`whoami` round trip: straight to the backend vs through the Jupyter server extension's proxy.

Same backend, same run, alternating batches; keep-alive clients on both paths.
Run: .venv/bin/python -m tests.bench.bench_whoami [--requests N]
"""

from __future__ import annotations

import argparse
import getpass
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from jupyter_mlp.identity import mint_token, read_secret
from jupyter_mlp.local_backend import read_record
from jupyter_mlp.settings import Settings
from tests.bench._lab import start_lab


def timed(client: httpx.Client, url: str, headers: dict[str, str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(url, headers=headers)
        out.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text
    return out


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100)[q - 1] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mlp-bench-"))
    (tmp / "root").mkdir()
    lab = start_lab(True, tmp / "home", tmp / "root")
    try:
        client = httpx.Client(timeout=30)
        proxy_url = f"{lab.url}mlp/api/whoami"
        proxy_headers = {"Authorization": f"token {lab.token}"}
        timed(client, proxy_url, proxy_headers, 20)  # the first call waits for the backend to start
        settings = Settings(home=tmp / "home")
        direct_url = f"{read_record(settings).url}/api/whoami"
        secret = read_secret(settings.secret_path)
        direct_headers = {"Authorization": f"Bearer {mint_token(secret, getpass.getuser(), 3600)}"}
        timed(client, direct_url, direct_headers, 20)
        status_url = f"{lab.url}api/status"  # Jupyter's own cheapest authenticated API: the server's floor
        direct, proxied, floor = [], [], []
        batch = 50
        for _ in range(args.requests // batch):
            direct += timed(client, direct_url, direct_headers, batch)
            proxied += timed(client, proxy_url, proxy_headers, batch)
            floor += timed(client, status_url, proxy_headers, batch)
    finally:
        lab.stop()
    print(f"whoami round trip, {len(direct)} requests each, keep-alive:")
    print(f"  backend direct:        p50 {pct(direct, 50):6.2f} ms  p95 {pct(direct, 95):6.2f} ms")
    print(f"  through the extension: p50 {pct(proxied, 50):6.2f} ms  p95 {pct(proxied, 95):6.2f} ms")
    print(f"  Jupyter's /api/status: p50 {pct(floor, 50):6.2f} ms  p95 {pct(floor, 95):6.2f} ms  (same server, no backend)")
    print(f"  proxy adds {pct(proxied, 50) - pct(direct, 50):+.2f} ms at p50; ratio {pct(proxied, 50) / pct(direct, 50):.2f}")


if __name__ == "__main__":
    main()
