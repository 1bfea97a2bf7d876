"""The line every benchmark prints so that `tests/bench/run.py` can put it in its summary table (issue 17).

    ratios: peer 14.6x (MLflow REST / ours) | floor 3.4x (ours / one SQL on the indexes)

- the peer ratio is the peer's figure over ours (above 1: we are ahead of the peer);
- the floor ratio is ours over the floor measured in the same run (1 is the floor; above 1 is what is left).
For a quality benchmark both are scores, ours over the peer's and ours over the ideal's, and the label says so.
A benchmark without a peer prints `peer -`.
"""

from __future__ import annotations

import math
import re

LINE = re.compile(r"^ratios: peer (?P<peer>\S+) \((?P<peer_label>[^)]*)\) \| floor (?P<floor>\S+) "
                  r"\((?P<floor_label>[^)]*)\)\s*$")


def _fmt(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:.3g}x" if x < 100 else f"{x:.0f}x"


def ratios_line(peer: float | None, peer_label: str, floor: float | None, floor_label: str) -> str:
    for label in (peer_label, floor_label):
        if "(" in label or ")" in label or "|" in label:
            raise ValueError(f"a ratio's label holds no parentheses or bars: {label!r}")
    return f"ratios: peer {_fmt(peer)} ({peer_label}) | floor {_fmt(floor)} ({floor_label})"


def print_ratios(peer: float | None, peer_label: str, floor: float | None, floor_label: str) -> None:
    print(ratios_line(peer, peer_label, floor, floor_label), flush=True)


def parse(output: str) -> list[dict[str, str]]:
    """Every `ratios:` line of a benchmark's output."""
    return [m.groupdict() for line in output.splitlines() if (m := LINE.match(line.strip()))]
