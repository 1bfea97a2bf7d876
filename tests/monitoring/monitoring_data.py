"""Data the monitoring tests share: a seeded stream with three continuous features and a binary label."""

from __future__ import annotations


def training_frame(n: int = 3000, seed: int = 0):  # noqa: ANN201
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "x3": rng.normal(size=n) * 2 + 1})
    y = (x.x1 + 0.5 * x.x2 + rng.normal(scale=0.3, size=n) > 0).astype(int)
    return x, y
