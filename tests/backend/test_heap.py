"""The backend's start-up heap is out of the cyclic collector's sight once the app has started (issue 17: a full
collection of it stopped the event loop 100-200 ms every few seconds under serving load), and given back when the
app stops in a process that goes on."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from jupyter_mlp.settings import Settings
from jupyter_mlp_backend import create_app


def test_a_full_collection_walks_what_was_made_after_the_start_not_the_start(mlp_home):
    objects_before = len(gc.get_objects()) + gc.get_freeze_count()
    with TestClient(create_app(Settings(home=mlp_home))) as client:
        assert client.get("/api/health").status_code == 200
        frozen = gc.get_freeze_count()
        # everything the process held at the start (this test process's own heap included) is out of the walk
        assert frozen >= objects_before * 0.9, (frozen, objects_before)
        assert len(gc.get_objects()) * 10 < frozen, (len(gc.get_objects()), frozen)
    assert gc.get_freeze_count() == 0  # stopped: the app's objects are collectable again
