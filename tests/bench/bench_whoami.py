"""`whoami` round trip: straight to the backend vs through the Jupyter server extension's proxy.

Same backend, same run, alternating batches; keep-alive clients on both paths. Two floors, in the same batches:
Jupyter's own `/api/status` on the same server (the extension's path without the backend), and a bare FastAPI app
on uvicorn in its own process on this machine answering a constant `whoami` (the backend's path without its
authentication and database). The `ratios:` line (tests/bench/_floor.py) gives the backend's direct p50 over the
bare app's; no peer product serves this call.
Run: .venv/bin/python -m tests.bench.bench_whoami [--requests N]
"""

from __future__ import annotations

import argparse
import getpass
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from jupyter_mlp.identity import mint_token, read_secret
from jupyter_mlp.local_backend import read_record
from jupyter_mlp.settings import Settings
from tests.bench._floor import print_ratios
from tests.bench._lab import free_port, start_lab

BARE_APP = """
import sys, uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.get("/api/whoami")
def whoami():
    return {"user": "bench", "admin": False}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def start_bare(client: httpx.Client) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)])
    url = f"http://127.0.0.1:{port}/api/whoami"
    for _ in range(300):
        try:
            if client.get(url).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the bare FastAPI app did not start")


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
    client = httpx.Client(timeout=30)
    bare_proc, bare_url = start_bare(client)
    try:
        proxy_url = f"{lab.url}mlp/api/whoami"
        proxy_headers = {"Authorization": f"token {lab.token}"}
        timed(client, proxy_url, proxy_headers, 20)  # the first call waits for the backend to start
        settings = Settings(home=tmp / "home")
        direct_url = f"{read_record(settings).url}/api/whoami"
        secret = read_secret(settings.secret_path)
        direct_headers = {"Authorization": f"Bearer {mint_token(secret, getpass.getuser(), 3600)}"}
        timed(client, direct_url, direct_headers, 20)
        timed(client, bare_url, {}, 20)
        status_url = f"{lab.url}api/status"  # Jupyter's own cheapest authenticated API: the server's floor
        direct, proxied, floor, bare = [], [], [], []
        batch = 50
        for _ in range(args.requests // batch):
            direct += timed(client, direct_url, direct_headers, batch)
            proxied += timed(client, proxy_url, proxy_headers, batch)
            floor += timed(client, status_url, proxy_headers, batch)
            bare += timed(client, bare_url, direct_headers, batch)
    finally:
        lab.stop()
        bare_proc.terminate()
        bare_proc.wait(10)
    print(f"whoami round trip, {len(direct)} requests each, keep-alive:")
    print(f"  backend direct:        p50 {pct(direct, 50):6.2f} ms  p95 {pct(direct, 95):6.2f} ms")
    print(f"  through the extension: p50 {pct(proxied, 50):6.2f} ms  p95 {pct(proxied, 95):6.2f} ms")
    print(f"  Jupyter's /api/status: p50 {pct(floor, 50):6.2f} ms  p95 {pct(floor, 95):6.2f} ms  (same server, no backend)")
    print(f"  bare FastAPI/uvicorn:  p50 {pct(bare, 50):6.2f} ms  p95 {pct(bare, 95):6.2f} ms  (constant answer, "
          "own process, no auth)")
    print(f"  proxy adds {pct(proxied, 50) - pct(direct, 50):+.2f} ms at p50; ratio {pct(proxied, 50) / pct(direct, 50):.2f}")
    print(f"  backend direct / bare FastAPI at p50: {pct(direct, 50) / pct(bare, 50):.2f}; through the extension / "
          f"Jupyter's /api/status: {pct(proxied, 50) / pct(floor, 50):.2f}")
    print_ratios(None, "no peer", pct(direct, 50) / pct(bare, 50), "p50 backend whoami / bare FastAPI")


if __name__ == "__main__":
    main()
