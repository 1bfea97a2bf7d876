"""What one more user costs a team hub, and the backend's latency for the panels' list calls with 20 users.

A real `mlp hub` on loopback (configurable-http-proxy, JupyterHub's DummyAuthenticator, SimpleLocalProcessSpawner,
the platform backend as the hub service /services/mlp), as tests/hub/conftest.py starts it. Three measurements:

1. One single-user server: the process tree of a user's `jupyterhub-singleuser` JupyterLab with jupyter-mlp (its
   server extension called through `/user/NAME/mlp/api/...`) against the same server without it (peer: server
   extension off and the labextension absent, as bench_page_load's baseline), started by the same hub, alternating.
   RSS and PSS (PSS shares the pages the servers have in common among them, so it is what one more costs).
2. The backend's memory per active user: the backend process's RSS/PSS before any user call, then after N = 1, 5,
   20 users (each in their own project holding a few runs) have made their panels' list calls once; the added
   memory divided by N.
3. p50/p95 of the panels' list calls (whoami, projects, experiments, runs, models, deployments, alerts, pipelines,
   datasets) with 20 users concurrently, each with their own hub token through the hub's proxy at /services/mlp.
   Floor: the hub's own `GET /hub/api/user` with the same tokens through the same proxy (the backend asks the hub
   exactly this once per call, `hub_token_cache_seconds` = 0), in the same run, phases alternating per round.
   The p50 ratio to it is the `ratios:` line's floor ratio (tests/bench/_floor.py); no peer product runs this.

Run: .venv/bin/python -m tests.bench.bench_hub [--users 20] [--rounds 4] [--servers 2] [--token-cache-seconds 0]
(needs configurable-http-proxy)
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

from jupyter_mlp.hub import free_port, proxy_command
from jupyter_mlp.settings import Settings
from tests.bench._floor import print_ratios
from tests.bench._lab import without_mlp

PASSWORD = "bench-hub-password"
PANEL_CALLS = ("whoami", "projects", "experiments", "runs", "models", "deployments", "alerts", "pipelines",
               "datasets")


def _path(call: str, slug: str) -> str:
    if call in ("whoami", "projects"):
        return f"/services/mlp/api/{call}"
    return f"/services/mlp/api/projects/{slug}/{call}" + ("?limit=50" if call == "runs" else "")


class BenchHub:
    def __init__(self, home: Path, token_cache_seconds: int = 0, extra_env: dict[str, str] | None = None):
        self.home = home
        (home / "hub").mkdir(parents=True)
        plain_dir, mlp_dir = home / "jupyter-plain", home / "jupyter-mlp"
        plain_dir.mkdir()
        mlp_dir.mkdir()  # an empty config dir, so both kinds of server differ only by jupyter-mlp
        plain_args = without_mlp(plain_dir)
        # Sign-in lands on /hub/home, not on a spawn; users named plain* get a server without jupyter-mlp.
        (home / "hub" / "jupyterhub_config.py").write_text(
            f"c.DummyAuthenticator.password = {PASSWORD!r}\n"
            "c.Authenticator.allow_all = True\n"
            "c.Authenticator.admin_users = {'lead'}\n"
            "c.JupyterHub.redirect_to_server = False\n"
            f"c.SimpleLocalProcessSpawner.home_dir_template = {str(home / 'users' / '{username}')!r}\n"
            "def _flavour(spawner):\n"
            "    plain = spawner.user.name.startswith('plain')\n"
            f"    spawner.environment = {{**spawner.environment, 'JUPYTER_CONFIG_DIR': {str(plain_dir)!r} if plain"
            f" else {str(mlp_dir)!r}}}\n"
            f"    spawner.args = [*spawner.args, *({plain_args!r} if plain else [])]\n"
            "c.Spawner.pre_spawn_hook = _flavour\n"
        )
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLP_", "JUPYTERHUB_"))}
        env.update(MLP_HOME=str(home), MLP_HUB_PORT=str(port), MLP_HUB_AUTHENTICATOR="dummy",
                   MLP_HUB_SPAWNER="simple", MLP_HUB_PROXY_COMMAND=proxy_command(Settings()),
                   MLP_CONTAINER_ENGINE="none", MLP_HUB_TOKEN_CACHE_SECONDS=str(token_cache_seconds))
        env.update(extra_env or {})
        self.log = home / "hub.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "jupyter_mlp.cli", "hub"], env=env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlp hub exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/services/mlp/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the hub did not answer: {self.log.read_text()[-3000:]}")
            time.sleep(0.5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def login(self, name: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url, follow_redirects=True, timeout=60)
        xsrf = re.search(r'name="_xsrf"\s+value="([^"]+)"', client.get("/hub/login").text).group(1)
        r = client.post("/hub/login?next=", data={"username": name, "password": PASSWORD, "_xsrf": xsrf})
        assert r.status_code == 200 and "jupyterhub-session-id" in client.cookies, r.text[:500]
        client.headers["X-XSRFToken"] = client.cookies.get("_xsrf", path="/hub/") or xsrf
        return client

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120, headers={"Authorization": f"token {token}"})

    def processes(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)

    def backend(self) -> psutil.Process:
        return next(p for p in self.processes() if "jupyter_mlp_backend" in " ".join(p.cmdline()))

    def server(self, name: str) -> psutil.Process:
        for p in self.processes():
            try:
                if "jupyterhub-singleuser" in " ".join(p.cmdline()) and p.environ().get("JUPYTERHUB_USER") == name:
                    return p
            except psutil.NoSuchProcess:
                continue
        raise LookupError(f"no single-user server for {name}")


def memory(procs: list[psutil.Process]) -> tuple[float, float]:
    """(RSS, PSS) in MiB, summed over `procs`."""
    rss = pss = 0
    for p in procs:
        info = p.memory_full_info()
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss / 2**20, pss / 2**20


def tree(p: psutil.Process) -> list[psutil.Process]:
    return [p, *p.children(recursive=True)]


def seed_runs(hub: BenchHub, lead: httpx.Client, slug: str, n: int) -> None:
    r = lead.post(f"/services/mlp/api/projects/{slug}/kernel-token")
    assert r.status_code == 200, r.text
    creds = r.json()
    base = f"/services/mlp{creds['tracking_path']}/api/2.0/mlflow"
    with httpx.Client(base_url=hub.url, timeout=120, headers={"Authorization": f"Bearer {creds['token']}"}) as c:
        for i in range(n):
            r = c.post(f"{base}/runs/create", json={"experiment_id": creds["experiment_id"], "run_name": f"r{i}",
                                                    "start_time": i})
            assert r.status_code == 200, r.text
            run_id = r.json()["run"]["info"]["run_id"]
            r = c.post(f"{base}/runs/log-batch", json={
                "run_id": run_id, "params": [{"key": "alpha", "value": str(i / 10)}],
                "metrics": [{"key": "auc", "value": 0.7 + i / 100, "timestamp": 0, "step": 0}]})
            assert r.status_code == 200, r.text
            r = c.post(f"{base}/runs/update", json={"run_id": run_id, "status": "FINISHED", "end_time": i + 1})
            assert r.status_code == 200, r.text


def sweep(client: httpx.Client, slug: str, out: dict[str, list[float]] | None = None) -> None:
    """One panel-opening's worth of list calls, in turn, as one user."""
    for call in PANEL_CALLS:
        t0 = time.perf_counter()
        r = client.get(_path(call, slug))
        dt = time.perf_counter() - t0
        assert r.status_code == 200, (call, r.status_code, r.text[:300])
        if out is not None:
            out.setdefault(call, []).append(dt)


def floor(client: httpx.Client, n: int, out: list[float]) -> None:
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get("/hub/api/user")
        out.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text


def pct(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] * 1000


def server_memory(hub: BenchHub, lead: httpx.Client, name: str, token: str, with_mlp: bool) -> tuple[float, float]:
    r = lead.post(f"/hub/api/users/{name}/server")
    assert r.status_code in (201, 202), r.text
    deadline = time.monotonic() + 180
    while not (lead.get(f"/hub/api/users/{name}").json().get("servers", {}).get("") or {}).get("ready"):
        assert time.monotonic() < deadline, f"{name}'s server did not start"
        time.sleep(0.5)
    with hub.client(token) as c:
        assert c.get(f"/user/{name}/lab").status_code == 200
        assert c.get(f"/user/{name}/api/status").status_code == 200
        if with_mlp:  # the extension at work: its proxy to the backend, as the panels call it
            assert '"name": "jupyter-mlp"' in c.get(f"/user/{name}/lab").text
            for call in ("whoami", "projects"):
                r = c.get(f"/user/{name}/mlp/api/{call}")
                assert r.status_code == 200, r.text
        else:  # the peer really runs without it
            assert c.get(f"/user/{name}/mlp/api/whoami").status_code == 404
            assert '"name": "jupyter-mlp"' not in c.get(f"/user/{name}/lab").text  # not in federated_extensions
    time.sleep(3)
    rss, pss = memory(tree(hub.server(name)))
    r = lead.delete(f"/hub/api/users/{name}/server")
    assert r.status_code in (202, 204), r.text
    return rss, pss


def postgres_stores() -> tuple[dict[str, str], list]:
    """A fresh PostgreSQL database for each store this install has a setting for, as `MLP_*` variables, and the
    functions that drop them."""
    if not os.environ.get("MLP_TEST_POSTGRES_URL"):
        raise SystemExit("--postgres needs MLP_TEST_POSTGRES_URL: export MLP_TEST_POSTGRES_URL=$(bash "
                         "tests/services/postgres.sh)")
    from tests.conftest import fresh_postgres_database

    fields = Settings.model_fields
    stores, drops = {}, []
    for setting in ("database_url", "mlflow_backend_store_uri", "dagster_postgres_url", "hub_db_url"):
        if setting in fields:
            url, drop = fresh_postgres_database(f"mlp_bench_{setting.split('_')[0]}")
            stores[f"MLP_{setting.upper()}"] = url
            drops.append(drop)
    return stores, drops


def print_servers(n: int, per_kind: dict[str, list[tuple[float, float]]]) -> None:
    print(f"\n1. one single-user server (process tree after /lab and its first calls; {n} of each, "
          "alternating; mean):")
    m_rss, m_pss = (statistics.mean(x[i] for x in per_kind["mlp"]) for i in (0, 1))
    p_rss, p_pss = (statistics.mean(x[i] for x in per_kind["plain"]) for i in (0, 1))
    print(f"  jupyterhub-singleuser alone:        RSS {p_rss:6.1f} MiB  PSS {p_pss:6.1f} MiB")
    print(f"  jupyterhub-singleuser + jupyter-mlp: RSS {m_rss:6.1f} MiB  PSS {m_pss:6.1f} MiB")
    print(f"  added: RSS {m_rss - p_rss:+.1f} MiB (ratio {m_rss / p_rss:.2f}), PSS {m_pss - p_pss:+.1f} MiB "
          f"(ratio {m_pss / p_pss:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=4, help="alternating list/floor phases")
    ap.add_argument("--sweeps", type=int, default=2, help="panel sweeps per user per round")
    ap.add_argument("--runs", type=int, default=5, help="runs seeded in each user's project")
    ap.add_argument("--servers", type=int, default=2, help="single-user servers of each kind, alternating (0: skip)")
    ap.add_argument("--token-cache-seconds", type=int, default=0,
                    help="the backend's hub_token_cache_seconds (default 0: it asks the hub on every call)")
    ap.add_argument("--postgres", action="store_true",
                    help="every store on PostgreSQL: fresh databases on the server of MLP_TEST_POSTGRES_URL "
                    "(`export MLP_TEST_POSTGRES_URL=$(bash tests/services/postgres.sh)`), dropped afterwards")
    args = ap.parse_args()
    try:
        proxy_command(Settings())
    except RuntimeError as e:
        print(f"bench_hub skipped: {e}")
        return
    home = Path(tempfile.mkdtemp(prefix="mlp-bench-hub-"))
    t_start = time.monotonic()
    stores, drops = postgres_stores() if args.postgres else ({}, [])
    try:
        hub = BenchHub(home, args.token_cache_seconds, stores)
    except BaseException:
        for drop in drops:
            drop()
        raise
    try:
        lead = hub.login("lead")
        users = [f"u{i:02d}" for i in range(1, args.users + 1)]
        servers = [f"{kind}{i}" for i in range(1, args.servers + 1) for kind in ("mlp", "plain")]
        r = lead.post("/hub/api/users", json={"usernames": users + servers})
        assert r.status_code == 201, r.text
        tokens = {}
        for name in users + servers:
            r = lead.post(f"/hub/api/users/{name}/tokens", json={"note": "bench"})
            assert r.status_code == 201, r.text
            tokens[name] = r.json()["token"]
        lead_token = lead.post("/hub/api/users/lead/tokens", json={"note": "bench"}).json()["token"]
        lead_api = hub.client(lead_token)
        for name in users + [s for s in servers if s.startswith("mlp")]:
            slug = f"p-{name}"
            r = lead_api.post("/services/mlp/api/projects", json={"slug": slug, "name": f"Project of {name}"})
            assert r.status_code == 201, r.text
            r = lead_api.put(f"/services/mlp/api/projects/{slug}/members/{name}", json={"role": "scientist"})
            assert r.status_code == 200, r.text
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda u: seed_runs(hub, lead_api, f"p-{u}", args.runs), users))
        sweep(lead_api, f"p-{users[0]}")  # the backend's first calls start MLflow and friends: not a user's cost
        print(f"hub up, {len(users)} users with {args.runs} runs each in their own project "
              f"({time.monotonic() - t_start:.0f} s)", flush=True)

        # 1. One single-user server with jupyter-mlp vs without
        per_kind: dict[str, list[tuple[float, float]]] = {"mlp": [], "plain": []}
        for name in servers:
            kind = "mlp" if name.startswith("mlp") else "plain"
            per_kind[kind].append(server_memory(hub, lead, name, tokens[name], kind == "mlp"))

        # 2. The backend's memory per active user
        clients = {u: hub.client(tokens[u]) for u in users}
        backend = hub.backend()
        time.sleep(2)
        base_rss, base_pss = memory([backend])
        base_tree = memory(tree(backend))[0]
        growth = []
        done = 0
        for n in (1, 5, args.users):
            if n > args.users or n <= done:
                continue
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda u: sweep(clients[u], f"p-{u}"), users[done:n]))
            done = n
            time.sleep(2)
            rss, pss = memory([backend])
            growth.append((n, rss, pss, memory(tree(backend))[0]))

        # 3. 20 users at once: the panels' list calls vs the hub's own /hub/api/user, alternating phases
        lists: dict[str, list[float]] = {}
        floors: list[float] = []
        lock = threading.Lock()

        def list_phase(u: str) -> None:
            mine: dict[str, list[float]] = {}
            for _ in range(args.sweeps):
                sweep(clients[u], f"p-{u}", mine)
            with lock:
                for k, v in mine.items():
                    lists.setdefault(k, []).extend(v)

        def floor_phase(u: str) -> None:
            mine: list[float] = []
            floor(clients[u], args.sweeps * len(PANEL_CALLS), mine)
            with lock:
                floors.extend(mine)

        with ThreadPoolExecutor(len(users)) as pool:
            list(pool.map(list_phase, users))  # warm every user's connection
            lists.clear()
            t_lists = t_floor = 0.0
            for rnd in range(args.rounds):
                for phase in ((list_phase, floor_phase) if rnd % 2 == 0 else (floor_phase, list_phase)):
                    t0 = time.perf_counter()
                    list(pool.map(phase, users))
                    if phase is list_phase:
                        t_lists += time.perf_counter() - t0
                    else:
                        t_floor += time.perf_counter() - t0
        after_rss, after_pss = memory([backend])
        for c in clients.values():
            c.close()
    finally:
        hub.stop()
        for drop in drops:
            drop()

    if args.servers:
        print_servers(args.servers, per_kind)
    print(f"\n2. backend process before any user call: RSS {base_rss:.1f} MiB, PSS {base_pss:.1f} MiB "
          f"(with MLflow and its other children: RSS {base_tree:.0f} MiB)")
    for n, rss, pss, tree_rss in growth:
        print(f"  after {n:2d} users' panel calls: RSS {rss:6.1f} MiB ({(rss - base_rss) / n:+.2f} MiB/user), "
              f"PSS {pss:6.1f} MiB ({(pss - base_pss) / n:+.2f} MiB/user); tree RSS {tree_rss:.0f} MiB")
    print(f"  after the latency phase ({len(users)} users, {sum(map(len, lists.values()))} more calls): "
          f"RSS {after_rss:.1f} MiB, PSS {after_pss:.1f} MiB")
    every = [x for v in lists.values() for x in v]
    print(f"\n3. {len(users)} users at once through the hub's proxy (hub_token_cache_seconds "
          f"{args.token_cache_seconds}; stores on {'PostgreSQL: ' + ', '.join(k[4:].lower() for k in stores) if stores else 'SQLite'}), {args.rounds} rounds x {args.sweeps} sweeps "
          f"of {len(PANEL_CALLS)} calls each:")
    for call in PANEL_CALLS:
        xs = lists[call]
        print(f"  {call:12s} n={len(xs):4d}  p50 {pct(xs, 50):7.1f} ms  p95 {pct(xs, 95):7.1f} ms")
    print(f"  {'all lists':12s} n={len(every):4d}  p50 {pct(every, 50):7.1f} ms  p95 {pct(every, 95):7.1f} ms  "
          f"({len(every) / t_lists:.0f} calls/s)")
    print(f"  {'/hub/api/user':12s} n={len(floors):4d}  p50 {pct(floors, 50):7.1f} ms  p95 {pct(floors, 95):7.1f} ms"
          f"  ({len(floors) / t_floor:.0f} calls/s; the floor: what the backend asks the hub per call)")
    print(f"  ratio to the floor: p50 {pct(every, 50) / pct(floors, 50):.2f}, p95 "
          f"{pct(every, 95) / pct(floors, 95):.2f}")
    # No peer product serves these panels behind a hub; the floor is the hub's own token check, same proxy, same run.
    print_ratios(None, "no peer", pct(every, 50) / pct(floors, 50), "p50 panel lists / the hub's /hub/api/user")
    print(f"total {time.monotonic() - t_start:.0f} s; hub log {hub.log}")


if __name__ == "__main__":
    main()
