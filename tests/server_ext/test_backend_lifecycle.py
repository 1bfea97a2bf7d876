"""The extension starts a local backend when none runs, reuses one that does, and stops only its own."""

from __future__ import annotations

import pytest

from jupyter_mlp.local_backend import ensure_backend, find_running, pid_alive, read_record
from jupyter_mlp.settings import load_settings


def _ext(jp_serverapp):
    return jp_serverapp.extension_manager.extension_apps["jupyter_mlp_server"]


async def test_starts_its_own_backend_and_stops_it_on_shutdown(jp_serverapp, mlp_home):
    ext = next(iter(_ext(jp_serverapp)))
    url = await ext.backend_base()
    rec = read_record(load_settings())
    assert rec is not None and rec.url == url and rec.home == str(mlp_home.resolve())
    await ext.stop_extension()
    assert find_running(load_settings()) is None
    assert not pid_alive(rec.pid)


@pytest.fixture
def prestarted(mlp_home):
    started = ensure_backend(load_settings(), detach=True)
    yield started
    started.stop()


async def test_reuses_a_running_backend_and_leaves_it_running(prestarted, jp_serverapp):
    ext = next(iter(_ext(jp_serverapp)))
    assert await ext.backend_base() == prestarted.url
    await ext.stop_extension()
    assert find_running(load_settings()) == prestarted.url
