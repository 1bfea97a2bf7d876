"""What jupyter-mlp adds to JupyterLab: the JavaScript a page load fetches, page load to a ready shell, and
server memory, with vs without.

Both servers run side by side in the same run; rounds alternate so machine noise hits both alike.

Bytes (issue 17): the extension's JavaScript fetched by a plain JupyterLab load (fresh browser context, default
layout, no panel open) must stay at or under 100 KB: the plugin entry registers commands, sidebar tabs, menu items
and toolbar buttons, and each panel's code (and uPlot) is a chunk fetched when the panel first opens. The floor is
the same page with no extension at all. Then each panel is opened in a fresh context and the bytes it pulled are
printed. The bench ASSERTS the 100 KB (tests assert no sizes or times).
Budget (PRODUCT.md): page load under 150 ms and under 50 MB added.
Run: .venv/bin/python -m tests.bench.bench_page_load [--rounds N]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.bench._lab import start_lab
from tests.browser.conftest import CHROMIUM_ARGS, chromium_path

READY = ".jp-Launcher"  # the default layout opens a Launcher once every plugin has activated
MLP_TAB = ".jp-SideBar [title='ML Platform']"
MLP_STATIC = "/lab/extensions/jupyter-mlp/static/"
BUDGET_BEFORE_PANEL = 100_000  # bytes (1 KB = 1000 bytes here)
# `window.jupyterapp`, so the bench runs each panel's open command exactly as the sidebar and palette do.
EXPOSE_APP = ("--LabApp.expose_app_in_browser=True",)

# What opening each panel runs, and what is on screen once it is open.
PANELS = [
    ("ML Platform sidebar", "jupyter-mlp:open-panel", "[data-testid=mlp-panel]"),
    ("Experiments", "jupyter-mlp:open-experiments", "#jupyter-mlp-experiments"),
    ("Pipelines", "jupyter-mlp:open-pipelines", "#jupyter-mlp-pipelines"),
    ("Models", "jupyter-mlp:open-models", "#jupyter-mlp-models"),
    ("Deployments", "jupyter-mlp:open-deployments", "#jupyter-mlp-deployments"),
    ("Monitoring", "jupyter-mlp:open-monitoring", "#jupyter-mlp-monitoring"),
    ("Assistant", "jupyter-mlp:open-assistant", "[data-testid=mlp-chat]"),
]

_workspaces = itertools.count()


@dataclass
class Fetched:
    """The scripts a page fetched: URL -> decoded body size."""

    scripts: dict[str, int] = field(default_factory=dict)

    def mlp(self) -> dict[str, int]:
        return {url: n for url, n in self.scripts.items() if MLP_STATIC in url}

    def mlp_bytes(self) -> int:
        return sum(self.mlp().values())

    def total(self) -> int:
        return sum(self.scripts.values())


class Recorder:
    """Every script response of a page, sized once it has finished."""

    def __init__(self, page) -> None:
        self.responses = []
        self.mlp_requests: list[str] = []
        page.on("response", lambda r: self.responses.append(r) if r.request.resource_type == "script" else None)
        page.on("request", lambda r: self.mlp_requests.append(r.url) if "jupyter-mlp" in r.url else None)

    def fetched(self) -> Fetched:
        out = Fetched()
        for response in self.responses:
            try:
                out.scripts[response.url] = len(response.body())
            except Exception:  # a redirect or an aborted fetch has no body
                continue
        return out


def open_page(browser, lab, with_mlp: bool):
    """A fresh context (empty cache) on a workspace of its own (no layout restored from an earlier load)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    recorder = Recorder(page)
    t0 = time.perf_counter()
    page.goto(f"{lab.url}lab/workspaces/bench-{next(_workspaces)}?token={lab.token}")
    page.wait_for_selector(READY, state="visible", timeout=120_000)
    if with_mlp:
        page.wait_for_selector(MLP_TAB, state="attached", timeout=60_000)
    elapsed = time.perf_counter() - t0
    settle(page, recorder)
    return ctx, page, recorder, elapsed


def settle(page, recorder: Recorder, quiet_s: float = 1.5, limit_s: float = 60) -> None:
    """Wait until no script has been requested for `quiet_s` (chunks are fetched after the shell shows)."""
    deadline = time.monotonic() + limit_s
    seen, quiet_since = len(recorder.responses), time.monotonic()
    while time.monotonic() < deadline:
        page.wait_for_timeout(250)
        if len(recorder.responses) != seen:
            seen, quiet_since = len(recorder.responses), time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return


def load_once(browser, lab, with_mlp: bool) -> tuple[float, int, Fetched]:
    ctx, _page, recorder, elapsed = open_page(browser, lab, with_mlp)
    fetched = recorder.fetched()
    ctx.close()
    return elapsed, len(recorder.mlp_requests), fetched


def open_panel(browser, lab, command: str, selector: str) -> tuple[Fetched, Fetched]:
    """The scripts fetched before the panel opened, and by the time it is open and settled."""
    ctx, page, recorder, _ = open_page(browser, lab, True)
    before = recorder.fetched()
    page.evaluate("command => window.jupyterapp.commands.execute(command)", command)
    page.wait_for_selector(selector, state="visible", timeout=120_000)
    settle(page, recorder)
    after = recorder.fetched()
    ctx.close()
    return before, after


def kb(n: int) -> str:
    return f"{n / 1000:7.1f} KB"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="mlp-bench-"))
    (tmp / "root").mkdir()
    with_lab = start_lab(True, tmp / "home", tmp / "root", EXPOSE_APP)
    without_lab = start_lab(False, tmp / "home-off", tmp / "root", EXPOSE_APP)
    times: dict[bool, list[float]] = {True: [], False: []}
    loads: dict[bool, list[Fetched]] = {True: [], False: []}
    panels: list[tuple[str, Fetched, Fetched]] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
            for with_mlp, lab in ((True, with_lab), (False, without_lab)):  # warm the servers once, not counted
                load_once(browser, lab, with_mlp)
            for i in range(max(args.rounds, 1)):
                order = [(True, with_lab), (False, without_lab)]
                for with_mlp, lab in order if i % 2 == 0 else order[::-1]:
                    t, n, fetched = load_once(browser, lab, with_mlp)
                    assert with_mlp or n == 0, "baseline loaded jupyter-mlp assets: it is not a baseline"
                    times[with_mlp].append(t)
                    loads[with_mlp].append(fetched)
            for name, command, selector in PANELS:
                panels.append((name, *open_panel(browser, with_lab, command, selector)))
            browser.close()
        rss_with, rss_without = with_lab.server_rss_mb(), without_lab.server_rss_mb()
        backend_rss = with_lab.rss_mb() - rss_with
    finally:
        with_lab.stop()
        without_lab.stop()

    # Bytes: the largest of the rounds (they should all be the same: the same files, no cache).
    plain = max(loads[True], key=Fetched.mlp_bytes)
    floor = max(loads[False], key=Fetched.total)
    before_panel = plain.mlp_bytes()
    print("JavaScript fetched by a plain load (fresh context, no panel open; decoded bytes, 1 KB = 1000 bytes):")
    print(f"  jupyter-mlp's own:          {kb(before_panel)} in {len(plain.mlp())} files"
          f"   (budget {kb(BUDGET_BEFORE_PANEL).strip()})")
    for url, n in sorted(plain.mlp().items()):
        print(f"      {kb(n)}  {url.rsplit('/', 1)[-1]}")
    print(f"  whole page, JupyterLab alone (floor): {kb(floor.total())}")
    print(f"  whole page with jupyter-mlp:          {kb(plain.total())}"
          f"   ratio to floor {plain.total() / floor.total():.3f}")
    print("jupyter-mlp's JavaScript after opening one panel (fresh context each; + what opening it fetched):")
    for name, before, after in panels:
        new = {url: n for url, n in after.mlp().items() if url not in before.mlp()}
        uplot = "with uPlot" if any("uplot" in url.lower() for url in new) else ""
        print(f"  {name:20s} {kb(after.mlp_bytes())}  (+{kb(sum(new.values())).strip()} in {len(new)} chunks) {uplot}")

    med_with, med_without = statistics.median(times[True]), statistics.median(times[False])
    print(f"page load to ready shell, median of {len(times[True])} (Chromium, alternating):")
    print(f"  JupyterLab alone:          {med_without * 1000:7.0f} ms")
    print(f"  JupyterLab + jupyter-mlp:  {med_with * 1000:7.0f} ms")
    print(f"  added:                     {(med_with - med_without) * 1000:+7.0f} ms   ratio {med_with / med_without:.3f}")
    print("Jupyter server resident memory after load:")
    print(f"  alone {rss_without:.0f} MB, with jupyter-mlp {rss_with:.0f} MB, added {rss_with - rss_without:+.0f} MB"
          f" (ratio {rss_with / rss_without:.3f}); the backend it started: {backend_rss:.0f} MB (once per machine)")
    assert before_panel <= BUDGET_BEFORE_PANEL, (
        f"{before_panel} bytes of jupyter-mlp's JavaScript fetched before any panel opened: over the "
        f"{BUDGET_BEFORE_PANEL} budget (issue 17). A static import from labextension/src/index.ts now reaches a "
        "panel's code: load it with import() where the panel opens (tests/labextension/entryChunk.spec.ts)."
    )


if __name__ == "__main__":
    main()
