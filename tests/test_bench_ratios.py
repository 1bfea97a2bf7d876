"""Every benchmark prints its peer and floor ratios on one `ratios:` line, and `tests/bench/run.py` gathers them into a
summary table (issue 17). Cheap: no benchmark is run, only the line, its parsing and the table; and each benchmark's
source is checked to print the line, so a new benchmark cannot leave the summary silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench import run
from tests.bench._floor import parse, ratios_line

BENCH = Path(__file__).parent / "bench"


def test_a_ratios_line_parses_back():
    line = ratios_line(14.6, "MLflow REST / ours", 3.41, "ours / one SQL on the indexes")
    assert line == "ratios: peer 14.6x (MLflow REST / ours) | floor 3.41x (ours / one SQL on the indexes)"
    assert parse(f"noise\n  {line}\nmore") == [{"peer": "14.6x", "peer_label": "MLflow REST / ours",
                                               "floor": "3.41x", "floor_label": "ours / one SQL on the indexes"}]
    assert parse(ratios_line(None, "no peer", 1234.5, "x"))[0]["peer"] == "-"
    assert parse(ratios_line(None, "no peer", 1234.5, "x"))[0]["floor"] == "1234x"
    with pytest.raises(ValueError):
        ratios_line(1.0, "a (b)", 1.0, "c")


def test_the_summary_has_a_row_per_ratios_line_and_says_why_a_bench_has_none():
    ok = "== x\n" + ratios_line(2.0, "peer / ours", 1.5, "ours / floor") + "\n" + ratios_line(
        None, "none", 1.1, "ours / other floor")
    table = run.summary({"bench_a": (0, ok, 12.0), "bench_b": (1, "Traceback", 3.0), "bench_c": (0, "hi", 1.0)})
    lines = table.splitlines()
    assert [c.strip() for c in lines[0].split(" | ")] == ["bench", "peer ratio", "floor ratio", "time"]
    body = [[c.strip() for c in line.split(" | ")] for line in lines[2:]]
    assert body[0][:3] == ["bench_a", "2x (peer / ours)", "1.5x (ours / floor)"]
    assert body[1][:3] == ["", "- (none)", "1.1x (ours / other floor)"]
    assert body[2][:2] == ["bench_b", "- (exit 1)"]
    assert body[3][:2] == ["bench_c", "- (no ratios line)"]


def test_run_finds_every_bench():
    assert set(run.all_benches()) == {p.stem for p in BENCH.glob("bench_*.py")}


# Benchmarks owned by the issue 17 hot-path work (pipelines, serving, monitor eval, runs search, page load, ship)
# print their own line as they are reworked; every other one prints it now.
OWNED_ELSEWHERE = {"bench_page_load", "bench_ship"}


@pytest.mark.parametrize("name", sorted(set(run.all_benches()) - OWNED_ELSEWHERE))
def test_every_bench_prints_its_ratios(name):
    assert "print_ratios(" in (BENCH / f"{name}.py").read_text(), f"{name} prints no `ratios:` line"
