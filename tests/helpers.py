"""Small helpers several test folders share."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def notebook(cells):
    """An nbformat v4 notebook from (source, tags) pairs."""
    return {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {"tags": t}, "outputs": [],
                       "source": s} for s, t in cells],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def wait_run(client, slug, run_id, timeout=240, every=0.5):
    """Poll a pipeline run until it ends; return it. Every 0.5 s: at 1 s a run's end waited 0.5 s on average for
    its poll, across the ~50 runs of the suite."""
    deadline = time.monotonic() + timeout
    r = None
    while time.monotonic() < deadline:
        r = client.get(f"/projects/{slug}/pipeline-runs/{run_id}").json()
        if r["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            return r
        time.sleep(every)
    raise AssertionError(f"run {run_id} did not finish: {r}")


@dataclass
class Receiver:
    """What a local HTTP server received: one entry per POST with path, headers, raw body and JSON body."""

    url: str
    received: list[dict] = field(default_factory=list)

    def bodies(self, path: str | None = None) -> list[dict]:
        return [r["json"] for r in self.received if path is None or r["path"] == path]


@contextlib.contextmanager
def recording_server() -> Iterator[Receiver]:
    """Stands in for Slack, Jira and any webhook receiver: records every POST and answers 200 (201 with an
    issue key for Jira's issue creation)."""
    rec = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                doc = json.loads(body)
            except ValueError:
                doc = None
            rec.received.append({"path": self.path, "headers": dict(self.headers), "body": body, "json": doc})
            issue = self.path.endswith("/rest/api/2/issue")
            answer = json.dumps({"key": f"OPS-{len(rec.received)}"} if issue else {"ok": True}).encode()
            self.send_response(201 if issue else 200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *a):  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield rec
    finally:
        server.shutdown()


def serve_frame(base: str, key: str, frame, rows: int = 50) -> list[str]:  # noqa: ANN001
    """Score a DataFrame at a deployment's URL in requests of `rows` rows (dataframe_split); their prediction ids."""
    import httpx

    ids = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        for i in range(0, len(frame), rows):
            part = frame.iloc[i:i + rows]
            r = c.post("/invocations", json={"dataframe_split": {"columns": list(part.columns),
                                                                  "data": part.values.tolist()}})
            assert r.status_code == 200, r.text
            ids.append(r.headers["x-prediction-id"])
    return ids
