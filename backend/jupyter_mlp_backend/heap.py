"""The cyclic garbage collector and a long-running process's start-up heap (issue 17, serving's p99).

A full (generation 2) collection walks every container object the process holds. The backend's start leaves some
millions of them (FastAPI, SQLAlchemy, MLflow, pandas, scikit-learn: modules, classes, functions), and a serving
worker's model load about as many; at thousands of requests a second the allocations they make trigger a full
collection every few seconds, and each walk of that heap stopped the event loop for 100-200 ms on the 2-core VM:
every request in flight waited, which was the 64-client p99. The start-up heap lives as long as the process, so
it is moved out of the collector's sight once the start is over (`gc.freeze`: a full collection then walks only
what was made since); `thaw` gives it back (a backend app stopped in a process that goes on, e.g. a test's).
Garbage in a frozen cycle is never reclaimed: only what the start made and keeps is frozen, after a collection.
"""

from __future__ import annotations

import gc


def settle() -> int:
    """Collect, then freeze what survives: the objects made so far stay out of every later collection. Returns how
    many objects are frozen in all."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def walked() -> int:
    """How many objects a full collection walks now (those the collector tracks, the frozen ones left out)."""
    return len(gc.get_objects())


def thaw() -> None:
    gc.unfreeze()
