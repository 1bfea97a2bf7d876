"""Run every benchmark in turn (`make bench`), each in its own process at its default sizes, then print a summary
table: bench, peer ratio, floor ratio (the `ratios:` lines they print, tests/bench/_floor.py). Benchmarks print
ratios; they are not timed tests.

Run: .venv/bin/python -m tests.bench.run [--only bench_whoami,bench_registry] [--skip bench_assistant]
     [--args "bench_drift_speed=--rows 300000 --rounds 1" ...]   (a bench's own arguments, for smaller sizes)
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

from tests.bench._floor import parse

HERE = Path(__file__).parent


def all_benches() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def run_one(name: str, args: list[str] = ()) -> tuple[int, str, float]:
    """Run `python -m tests.bench.NAME ARGS`, echoing its output as it comes; (exit status, output, seconds)."""
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", f"tests.bench.{name}", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=HERE.parent.parent)
    out = []
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        out.append(line)
    return proc.wait(), "".join(out), time.monotonic() - t0


def summary(results: dict[str, tuple[int, str, float]]) -> str:
    """The table: one row per `ratios:` line (a benchmark may print several), or one row saying why none."""
    rows = [("bench", "peer ratio", "floor ratio", "time")]
    for name, (rc, out, secs) in results.items():
        found = parse(out)
        if not found:
            why = f"exit {rc}" if rc else "no ratios line"
            rows.append((name, f"- ({why})", "-", f"{secs:.0f} s"))
        for i, r in enumerate(found):
            rows.append((name if i == 0 else "", f"{r['peer']} ({r['peer_label']})",
                         f"{r['floor']} ({r['floor_label']})", f"{secs:.0f} s" if i == 0 else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip(" |") for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="", help="comma-separated bench names (default: every bench_*.py)")
    ap.add_argument("--skip", default="", help="comma-separated bench names to leave out")
    ap.add_argument("--args", action="append", default=[], metavar="BENCH=ARGS",
                    help="arguments for one bench, e.g. 'bench_retrieval=--records 30000' (repeatable)")
    a = ap.parse_args(argv)
    bench_args = {}
    for item in a.args:
        name, _, rest = item.partition("=")
        bench_args[name] = shlex.split(rest)
    names = [n for n in (a.only.split(",") if a.only else all_benches()) if n not in set(a.skip.split(","))]
    results: dict[str, tuple[int, str, float]] = {}
    for name in names:
        print(f"== {name} {shlex.join(bench_args.get(name, []))}".rstrip(), flush=True)
        results[name] = run_one(name, bench_args.get(name, []))
    print("\n== summary (peer ratio: the peer's figure over ours; floor ratio: ours over the floor, same run)")
    print(summary(results))
    if any(rc for rc, _, _ in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
