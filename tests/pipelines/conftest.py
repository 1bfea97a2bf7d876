"""Pipeline fixtures.

- `make_nb(*cells)`: an nbformat v4 notebook from `(source, tags)` pairs (tags may be omitted).
"""

from __future__ import annotations

import pytest


def _nb(*cells, ran: bool = False):
    out = []
    for c in cells:
        src, tags = (c, []) if isinstance(c, str) else c
        out.append({"cell_type": "code", "execution_count": 1 if ran else None, "id": f"c{len(out)}",
                    "metadata": {"tags": tags}, "outputs": [], "source": src})
    return {"cells": out, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                      "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture
def make_nb():
    return _nb
