"""A real JupyterHub (`mlp hub`) with the platform backend as its service /services/mlp (docs/deployment.md).

The hub runs on loopback with configurable-http-proxy, JupyterHub's DummyAuthenticator (with a password) and
SimpleLocalProcessSpawner. People log in through the hub's login form; the backend resolves their hub tokens with
HubAuth on every call.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

# `hub` (module-scoped) and the helpers live in conftest.py; re-exported for modules that import them from here.
from tests.hub.conftest import PASSWORD, Hub, hub  # noqa: F401
from tests.hub.conftest import start_server as _start_server
from tests.hub.conftest import assert_every_store_is_postgres, sql
from tests.hub.conftest import wait_ready as _wait_ready


def test_one_person_through_the_hub_isolated_and_removed(hub: Hub):
    lead = hub.login("lead")
    alice = hub.login("alice")
    bob = hub.login("bob")
    lead_token, alice_token, bob_token = (hub.token(c, n) for c, n in ((lead, "lead"), (alice, "alice"),
                                                                         (bob, "bob")))

    # A hub admin is a platform admin: lead creates project a and makes alice a scientist in it.
    with hub.mlp(lead_token) as api:
        r = api.get("/api/whoami")
        assert r.status_code == 200, (r.text, hub.log.read_text()[-3000:])
        who = r.json()
        assert who["user"] == "lead" and who["is_admin"] and who["auth_mode"] == "hub", who
        r = api.post("/api/projects", json={"slug": "a", "name": "Project A"})
        assert r.status_code == 201, r.text
        r = api.put("/api/projects/a/members/alice", json={"role": "scientist"})
        assert r.status_code == 200, r.text

    # alice's server starts under the hub; through its server extension (the proxy path /user/alice/mlp/api) and
    # directly at /services/mlp with her token, the backend knows her as alice and shows her project a.
    r = alice.post("/hub/api/users/alice/server")
    assert r.status_code in (201, 202), r.text
    _wait_ready(alice, "alice")
    assert alice.get("/user/alice/lab").status_code == 200  # finishes the single-user server's OAuth
    r = alice.get("/user/alice/mlp/api/whoami")
    assert r.status_code == 200, r.text
    assert r.json()["user"] == "alice" and not r.json()["is_admin"]
    with hub.mlp(alice_token) as api:
        who = api.get("/api/whoami").json()
        assert who["user"] == "alice" and not who["is_admin"], who
        assert [p["slug"] for p in api.get("/api/projects").json()["items"]] == ["a"]
        assert api.get("/api/projects/a").status_code == 200

    # bob, another hub user, sees none of it.
    with hub.mlp(bob_token) as api:
        assert api.get("/api/whoami").json()["user"] == "bob"
        assert api.get("/api/projects").json()["items"] == []
        r = api.get("/api/projects/a")
        assert r.status_code == 404, r.text
        assert api.get("/api/projects/a/members").status_code == 404

    # A token alice made for something else (her name only, no access to the platform service) opens nothing.
    r = alice.post("/hub/api/users/alice/tokens", json={"note": "name only", "scopes": ["read:users:name!user=alice"]})
    assert r.status_code == 201, r.text
    with hub.mlp(r.json()["token"]) as api:
        r = api.get("/api/projects")
        assert r.status_code == 403 and "access:services!service=mlp" in r.text, r.text

    # A token the hub never issued is refused.
    with hub.mlp("not-a-hub-token") as api:
        assert api.get("/api/whoami").status_code == 401

    # lead removes alice from project a: her next call no longer finds it (the backend decides on every call).
    with hub.mlp(lead_token) as api:
        assert api.delete("/api/projects/a/members/alice").status_code == 204
    with hub.mlp(alice_token) as api:
        assert api.get("/api/projects/a").status_code == 404
        assert api.get("/api/projects").json()["items"] == []

    # The hub removes alice: her token is refused at the very next call (the backend asks the hub every time).
    r = lead.delete("/hub/api/users/alice")
    assert r.status_code == 204, r.text
    with hub.mlp(alice_token) as api:
        r = api.get("/api/projects")
        assert r.status_code == 401, r.text
        assert r.headers["content-type"].startswith("application/json")


def _kernel_output(hub: Hub, name: str, token: str, path: str, code: str) -> str:
    """Open `path` in `name`'s server (a session with a python3 kernel, as JupyterLab does) and run `code` in it."""
    from jupyter_client import BlockingKernelClient

    with httpx.Client(base_url=f"{hub.url}/user/{name}", timeout=60,
                      headers={"Authorization": f"token {token}"}) as server:
        r = server.post("/api/sessions", json={"path": path, "type": "notebook", "name": Path(path).name,
                                               "kernel": {"name": "python3"}})
        assert r.status_code == 201, r.text
        kernel_id = r.json()["kernel"]["id"]
    # The spawner is local: the kernel's connection file is in the user's home (SimpleLocalProcessSpawner's HOME)
    deadline = time.monotonic() + 30
    while not (found := list((hub.home / "users" / name).rglob(f"kernel-{kernel_id}.json"))):
        assert time.monotonic() < deadline, "no connection file for the kernel"
        time.sleep(0.2)
    client = BlockingKernelClient(connection_file=str(found[0]))
    client.load_connection_file()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        out: list[str] = []
        reply = client.execute_interactive(code, timeout=60, output_hook=lambda m: out.append(
            m["content"].get("text", "") if m["msg_type"] == "stream" else
            m["content"].get("evalue", "") if m["msg_type"] == "error" else ""))
        assert reply["content"]["status"] == "ok", "".join(out)
        return "".join(out)
    finally:
        client.stop_channels()


KERNEL_CODE = """
import os, urllib.request, urllib.error
token = os.environ.get("MLFLOW_TRACKING_TOKEN")
print("project", os.environ.get("MLP_PROJECT"), "token", bool(token), "error", os.environ.get("MLP_CREDENTIALS_ERROR"))
if token:  # the credentials open the project's experiment on the platform's MLflow gateway
    url = os.environ["MLFLOW_TRACKING_URI"] + "/api/2.0/mlflow/experiments/get?experiment_id=" + \
        os.environ["MLFLOW_EXPERIMENT_ID"]
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    print("mlflow", urllib.request.urlopen(req, timeout=60).status)
"""


def test_kernels_get_credentials_for_their_users_projects_only(hub: Hub):
    """The kernel path: a kernel started in a project folder gets MLflow credentials from the backend, asked with
    its server's own hub token (JUPYTERHUB_API_TOKEN), only when the server's owner is a member."""
    lead, carol, dave = hub.login("lead"), hub.login("carol"), hub.login("dave")
    with hub.mlp(hub.token(lead, "lead")) as api:
        assert api.post("/api/projects", json={"slug": "k", "name": "Kernels"}).status_code == 201
        assert api.put("/api/projects/k/members/carol", json={"role": "scientist"}).status_code == 200
    notebook = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    for name in ("carol", "dave"):  # both have a folder that says it belongs to project k
        folder = hub.home / "users" / name / "k"
        folder.mkdir(parents=True)
        (folder / "mlp-project.toml").write_text('project = "k"\n')
        (folder / "train.ipynb").write_text(notebook)
    carol_token, dave_token = hub.token(carol, "carol"), hub.token(dave, "dave")
    _start_server(hub, carol, "carol")
    _start_server(hub, dave, "dave")

    out = _kernel_output(hub, "carol", carol_token, "k/train.ipynb", KERNEL_CODE)
    assert "project k token True error None" in out and "mlflow 200" in out, out
    out = _kernel_output(hub, "dave", dave_token, "k/train.ipynb", KERNEL_CODE)
    assert "project k token False" in out and "404" in out, out

    # carol's kernel keeps running with the credentials it got; each of its calls is decided when it is made.
    out = _kernel_output(hub, "carol", carol_token, "k/train.ipynb", KERNEL_CALLS)  # the same session, same kernel
    assert "mlflow 200 api 200" in out, out
    with hub.mlp(hub.token(lead, "lead")) as api:  # the lead removes her from k
        assert api.delete("/api/projects/k/members/carol").status_code == 204
    out = _kernel_output(hub, "carol", carol_token, "k/train.ipynb", KERNEL_CALLS)
    assert "mlflow 404 api 404" in out, out  # the same credentials, at the very next call: project k is gone
    with hub.mlp(hub.token(lead, "lead")) as api:  # back in k: the same credentials work again
        assert api.put("/api/projects/k/members/carol", json={"role": "scientist"}).status_code == 200
    out = _kernel_output(hub, "carol", carol_token, "k/train.ipynb", KERNEL_CALLS + "\nprint('held', token)")
    assert "mlflow 200 api 200" in out, out
    held = out.split("held ", 1)[1].split()[0]  # what the kernel holds: its MLflow credentials

    # The hub removes carol (her server and kernel go with her): the credentials her kernel held are refused at
    # the next call, although they were signed for hours and she is still a member of k in the platform.
    r = lead.delete("/hub/api/users/carol")
    assert r.status_code == 204, r.text
    url = f"{hub.url}/services/mlp/mlflow/k/api/2.0/mlflow/experiments/search"
    r = httpx.post(url, json={"max_results": 1}, headers={"Authorization": f"Bearer {held}"}, timeout=60)
    assert r.status_code == 401 and "carol" in r.text, r.text


KERNEL_CALLS = """
import os, urllib.request, urllib.error
def status(url, auth):
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": auth}), timeout=60).status
    except urllib.error.HTTPError as e:
        return e.code
token, uri = os.environ["MLFLOW_TRACKING_TOKEN"], os.environ["MLFLOW_TRACKING_URI"]
# the MLflow gateway with the kernel's credentials, and the backend's API with its server's hub token
print("mlflow", status(uri + "/api/2.0/mlflow/experiments/get?experiment_id=" + os.environ["MLFLOW_EXPERIMENT_ID"],
                       "Bearer " + token),
      "api", status(uri.rsplit("/mlflow/", 1)[0] + "/api/projects/k", "token " + os.environ["JUPYTERHUB_API_TOKEN"]))
"""


def test_every_store_is_postgresql(hub: Hub):
    """Under `make test` the team deployment runs on PostgreSQL as every store (docs/deployment.md): what a hub
    admin makes through the hub is rows in the four databases on that server, and no SQLite file of them exists."""
    lead = hub.login("lead")
    with hub.mlp(hub.token(lead, "lead")) as api:
        assert api.post("/api/projects", json={"slug": "pg", "name": "On PostgreSQL"}).status_code == 201
        r = api.post("/api/projects/pg/kernel-token")  # creates the project's MLflow experiment
        assert r.status_code == 200, r.text
        experiment_id = r.json()["experiment_id"]
    assert_every_store_is_postgres(hub)
    assert sql(hub.stores["platform"], "SELECT name, created_by FROM projects WHERE slug = 'pg'") == [
        ("On PostgreSQL", "lead")]
    (name,) = sql(hub.stores["mlflow"], "SELECT name FROM experiments WHERE experiment_id = %s", int(experiment_id))
    assert "pg/" in name[0], name
    assert sql(hub.stores["hub"], "SELECT admin FROM users WHERE name = 'lead'") == [(True,)]
    # the platform's schema came from its Alembic migrations on the empty database
    assert sql(hub.stores["platform"], "SELECT version_num FROM alembic_version")
