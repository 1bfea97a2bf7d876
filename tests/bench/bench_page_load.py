"""What jupyter-mlp adds to JupyterLab: page load to a ready shell, and server memory, with vs without.

Both servers run side by side in the same run; rounds alternate so machine noise hits both alike.
Budget (PRODUCT.md): under 150 ms and under 50 MB added.
Run: .venv/bin/python -m tests.bench.bench_page_load [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tests.bench._lab import start_lab
from tests.browser.conftest import CHROMIUM_ARGS, chromium_path

READY = ".jp-Launcher"  # the default layout opens a Launcher once every plugin has activated


def load_once(browser, login: str, with_mlp: bool) -> tuple[float, int]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    mlp_requests = []
    page.on("request", lambda r: mlp_requests.append(r.url) if "jupyter-mlp" in r.url else None)
    t0 = time.perf_counter()
    page.goto(login)
    page.wait_for_selector(READY, state="visible", timeout=120_000)
    if with_mlp:
        page.wait_for_selector(".jp-SideBar [title='ML Platform']", state="attached", timeout=60_000)
    elapsed = time.perf_counter() - t0
    ctx.close()
    return elapsed, len(mlp_requests)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="mlp-bench-"))
    (tmp / "root").mkdir()
    with_lab = start_lab(True, tmp / "home", tmp / "root")
    without_lab = start_lab(False, tmp / "home-off", tmp / "root")
    times: dict[bool, list[float]] = {True: [], False: []}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
            for with_mlp, lab in ((True, with_lab), (False, without_lab)):  # warm caches once, not counted
                load_once(browser, lab.login, with_mlp)
            for i in range(args.rounds):
                order = [(True, with_lab), (False, without_lab)]
                for with_mlp, lab in order if i % 2 == 0 else order[::-1]:
                    t, n = load_once(browser, lab.login, with_mlp)
                    assert with_mlp or n == 0, "baseline loaded jupyter-mlp assets: it is not a baseline"
                    times[with_mlp].append(t)
            browser.close()
        rss_with, rss_without = with_lab.server_rss_mb(), without_lab.server_rss_mb()
        backend_rss = with_lab.rss_mb() - rss_with
    finally:
        with_lab.stop()
        without_lab.stop()
    med_with, med_without = statistics.median(times[True]), statistics.median(times[False])
    print(f"page load to ready shell, median of {args.rounds} (Chromium, alternating):")
    print(f"  JupyterLab alone:          {med_without * 1000:7.0f} ms")
    print(f"  JupyterLab + jupyter-mlp:  {med_with * 1000:7.0f} ms")
    print(f"  added:                     {(med_with - med_without) * 1000:+7.0f} ms   ratio {med_with / med_without:.3f}")
    print("Jupyter server resident memory after load:")
    print(f"  alone {rss_without:.0f} MB, with jupyter-mlp {rss_with:.0f} MB, added {rss_with - rss_without:+.0f} MB"
          f" (ratio {rss_with / rss_without:.3f}); the backend it started: {backend_rss:.0f} MB (once per machine)")


if __name__ == "__main__":
    main()
