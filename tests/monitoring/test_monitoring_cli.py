"""`mlp monitor …`, `mlp alerts list` and `mlp webhooks …` against a live backend, with the real executable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from monitoring_data import training_frame

MLP = Path(sys.executable).parent / "mlp"
WINDOW = 200
# No sensor: the checks below must be the ones that find each window.
pytestmark = pytest.mark.settings(monitor_interval_seconds=0)


def _mlp(backend, *args: str, user: str = "sam", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLP_HOME": str(backend.settings.home), "MLP_BACKEND_URL": backend.url,
           "USER": user, "LOGNAME": user, **(env or {})}
    return subprocess.run([str(MLP), *args], env=env, capture_output=True, text=True, timeout=300)


def _rows(table: str) -> list[str]:
    """The data lines of a printed table (its header and any '(n of m …)' line left out)."""
    return [line for line in table.strip().splitlines()[1:] if line.strip() and not line.startswith("(")]


def test_monitor_check_windows_alerts_and_webhooks_from_the_cli(backend, monitored):
    p, d = monitored.project, monitored.deployment

    # Validation builds the version's reference in the background; `set` returns once its own profile is ready.
    deadline = time.time() + 90
    while True:
        out = _mlp(backend, "monitor", "set", "-P", p, d, "--window", str(WINDOW))
        assert out.returncode == 0, out.stderr
        if "reference profile: dataset train" in out.stdout or time.time() > deadline:
            break
        time.sleep(0.5)
    assert "reference profile: dataset train @ snapshot" in out.stdout, out.stdout
    assert f"windows of {WINDOW} predictions" in out.stdout and "WAITING" in out.stdout
    assert "calibration: alpha" in out.stdout and "baseline: roc_auc" in out.stdout, out.stdout
    thresholds = out.stdout.split("Thresholds:")[1]
    assert {line.split()[0] for line in _rows(thresholds)} == {"x1", "x2", "x3"}, thresholds

    x, _ = training_frame(3 * WINDOW, seed=11)
    monitored.serve(x.iloc[:WINDOW])
    ok = _mlp(backend, "monitor", "check", "-P", p, d)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1 new window(s)" in ok.stdout and "Alerts firing: none" in ok.stdout

    shifted = x.iloc[2 * WINDOW:].copy()
    shifted["x2"] = shifted["x2"] + 1.0  # one standard deviation
    monitored.serve(shifted)
    firing = _mlp(backend, "monitor", "check", "-P", p, d)
    assert firing.returncode == 3, firing.stdout + firing.stderr
    assert "firing: drift:x2" in firing.stdout and "drift:x2" in firing.stdout.split("Alerts firing: 1")[1]
    again = _mlp(backend, "monitor", "check", "-P", p, d)  # nothing new, but the alert still fires: still 3
    assert again.returncode == 3 and "0 new window(s)" in again.stdout, again.stdout + again.stderr

    windows = _mlp(backend, "monitor", "windows", "-P", p, d)
    assert windows.returncode == 0, windows.stderr
    rows = _rows(windows.stdout)
    assert len(rows) == 2, windows.stdout
    assert [r.split()[5] for r in rows] == ["drift", "ok"], windows.stdout  # newest first; END has a space
    assert "x2" in rows[0] and "insufficient data" in rows[0]  # no labels yet
    as_json = json.loads(_mlp(backend, "--json", "monitor", "windows", "-P", p, d, "--limit", "1").stdout)
    assert as_json["total"] == 2 and as_json["items"][0]["status"] == "drift"

    alerts = _mlp(backend, "alerts", "list", "-P", p, "--state", "firing")
    assert alerts.returncode == 0, alerts.stderr
    assert len(_rows(alerts.stdout)) == 1 and "drift:x2" in alerts.stdout and d in alerts.stdout
    assert _rows(_mlp(backend, "alerts", "list", "-P", p, "--state", "resolved").stdout) == []

    shown = _mlp(backend, "monitor", "show", "-P", p, d)
    assert shown.returncode == 0, shown.stderr
    assert "DRIFT" in shown.stdout and "drifted: x2" in shown.stdout and "#" in shown.stdout
    assert "Alerts firing: 1" in shown.stdout and "drift:x2" in shown.stdout
    retrain = _mlp(backend, "monitor", "retrainings", "-P", p, d)
    assert retrain.returncode == 0 and "(none)" in retrain.stdout, retrain.stdout + retrain.stderr

    # `set` changes what it is given and keeps the rest.
    changed = _mlp(backend, "--json", "monitor", "set", "-P", p, d, "--tolerance", "roc_auc=0.02", "--disable")
    m = json.loads(changed.stdout)
    assert (m["window_size"], m["tolerance"], m["enabled"]) == (WINDOW, {"roc_auc": 0.02}, False), m
    timed = _mlp(backend, "monitor", "set", "-P", p, d, "--window-seconds", "3600")
    assert "windows of 3600 s of predictions" in timed.stdout and "(DISABLED)" in timed.stdout, timed.stdout
    m = json.loads(_mlp(backend, "--json", "monitor", "set", "-P", p, d, "--enable", "--window-seconds", "0").stdout)
    assert (m["window_seconds"], m["enabled"], m["tolerance"]) == (None, True, {"roc_auc": 0.02}), m
    bad = _mlp(backend, "monitor", "set", "-P", p, d, "--tolerance", "auc=high")
    assert bad.returncode != 0 and "metric=value" in bad.stderr

    # Plain refusals, not tracebacks.
    vic = _mlp(backend, "monitor", "check", "-P", p, d, user="vic")
    assert vic.returncode not in (0, 3) and "does not allow monitoring.write" in vic.stderr, vic.stderr
    assert "Traceback" not in vic.stderr
    missing = _mlp(backend, "monitor", "show", "-P", p, "nope")
    assert missing.returncode != 0 and "Deployment 'nope' not found" in missing.stderr

    loop = _mlp(backend, "webhooks", "add", "-P", p, "ops", "--kind", "generic", "--url", "http://127.0.0.1:9/hook",
                "--secret-env", "OPS_HOOK_SECRET", user="lena", env={"OPS_HOOK_SECRET": "s3cret"})
    assert loop.returncode != 0 and "loopback" in loop.stderr and "Traceback" not in loop.stderr, loop.stderr
    unset = _mlp(backend, "webhooks", "add", "-P", p, "ops", "--kind", "generic", "--url", "https://8.8.8.8/h",
                 "--secret-env", "MLP_TEST_UNSET_VAR", user="lena")
    assert unset.returncode != 0 and "MLP_TEST_UNSET_VAR" in unset.stderr
    added = _mlp(backend, "webhooks", "add", "-P", p, "chat", "--kind", "slack", "--url",
                 "https://93.184.215.14/services/T000/B000/XXXX", user="lena")
    assert added.returncode == 0 and "'chat' (slack)" in added.stdout, added.stdout + added.stderr
    denied = _mlp(backend, "webhooks", "add", "-P", p, "x", "--kind", "slack", "--url", "https://8.8.8.8/x")
    assert denied.returncode != 0 and "does not allow webhooks.manage" in denied.stderr  # scientists add none
    listed = json.loads(_mlp(backend, "--json", "webhooks", "list", "-P", p).stdout)["items"]
    assert [(h["name"], h["kind"], h["secret_set"]) for h in listed] == [("chat", "slack", False)]
    gone = _mlp(backend, "webhooks", "delete", "-P", p, str(listed[0]["id"]), user="lena")
    assert gone.returncode == 0, gone.stderr
    assert "(none)" in _mlp(backend, "webhooks", "list", "-P", p).stdout
