"""The backend's plan between domains (issue 12 item 1), read from the code's own imports (AST, no import run).

A domain is a package of `jupyter_mlp_backend` (`experiments`, `pipelines`, `registry`, `serving`, `monitoring`,
`datasets`, ... and `routes`, the core's HTTP modules); the modules beside them (`db`, `orm`, `access`, ...) are the
shared core. Every import counts, at module level and inside functions alike:

1. no module but the app factory (`app.py`) imports another domain's `routes` module: a domain calls another
   through that domain's public service names, never through its HTTP layer; nor a route module of its own domain
   (any module that makes an `APIRouter`), and no service module imports one at all;
2. no module imports a name with a leading underscore from another domain;
3. the graph of domain -> domain imports has no cycle, apart from the edges named in `CYCLE_ALLOWED` below.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "backend" / "jupyter_mlp_backend"
PKG = "jupyter_mlp_backend"
WIRING = {f"{PKG}.app"}

# Domain edges that still close a cycle, each with the import that makes it. Remove an entry once its import is
# gone; the test fails on any other edge that closes a cycle.
CYCLE_ALLOWED: dict[tuple[str, str], str] = {}


def _domains() -> set[str]:
    return set(_domains_scanned())


@lru_cache(maxsize=1)  # once per run: _domain() asks for every import (it took most of this file's ~80 s)
def _domains_scanned() -> frozenset[str]:
    return frozenset(p.name for p in ROOT.iterdir()
                     if p.is_dir() and p.name not in ("migrations", "__pycache__") and any(p.glob("*.py")))


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (ROOT / rel).with_suffix(".py").exists() or (ROOT / rel / "__init__.py").exists()


def _imports() -> list[tuple[str, str, str | None, int]]:
    """(importing module, imported module, imported name or None, line) for every import in the backend."""
    return list(_imports_parsed())


@lru_cache(maxsize=1)  # the source is parsed once per run, not once per test
def _imports_parsed() -> tuple[tuple[str, str, str | None, int], ...]:
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        mod = _module(path)
        package = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                out += [(mod, a.name, None, node.lineno) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[:len(package) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for a in node.names:
                    sub = f"{target}.{a.name}"
                    if target.startswith(PKG) and _exists(sub):  # `from ..pipelines import runs`: a module
                        out.append((mod, sub, None, node.lineno))
                    else:
                        out.append((mod, target, a.name, node.lineno))
    return tuple(out)


def _domain(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != PKG or len(parts) < 2 or parts[1] not in _domains():
        return None
    return parts[1]


def _is_routes(module: str) -> bool:
    """A domain's HTTP module, or one of the core's HTTP modules (the `routes` package)."""
    return module.split(".")[-1] == "routes" or _domain(module) == "routes"


def _cross() -> list[tuple[str, str, str | None, int]]:
    """The imports from one domain into another."""
    return [(m, t, n, line) for m, t, n, line in _imports()
            if _domain(m) and _domain(t) and _domain(m) != _domain(t)]


def test_the_scan_sees_the_domains_and_their_imports():
    assert {"experiments", "pipelines", "registry", "serving", "monitoring", "datasets"} <= _domains()
    assert _cross(), "the scan found no import between domains: it is reading the wrong tree"


def test_the_shared_core_imports_no_domain():
    """The modules beside the domains (`db`, `orm`, `access`, `audit`, `at_rest`, ...) are what every domain builds
    on: none of them imports a domain (the app factory, which wires the domains together, aside), so a domain is
    never reached back through the core and the core can be tested without any domain."""
    bad = [f"{m}:{line} imports {t}" for m, t, n, line in _imports()
           if m not in WIRING and _domain(m) is None and _domain(t) is not None]
    assert not bad, "move the code into the domain, or pass what the core needs in:\n" + "\n".join(bad)


def test_no_module_but_the_app_factory_imports_another_domains_routes():
    bad = [f"{m}:{line} imports {t}" for m, t, n, line in _imports()
           if m not in WIRING and _is_routes(t) and _domain(t) and _domain(m) != _domain(t)]
    assert not bad, "call the domain's service module instead:\n" + "\n".join(bad)


def _route_modules() -> set[str]:
    """The HTTP layer: every module that makes a FastAPI router (`router = APIRouter(...)` at module level), whatever
    its name (pipelines' `runs` and `schedules` are route modules too)."""
    out = set()
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.parse(path.read_text(), str(path)).body:
            value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
            if isinstance(value, ast.Call) and getattr(value.func, "id", "") == "APIRouter":
                out.add(_module(path))
    return out


def test_the_scan_sees_the_route_modules():
    assert {f"{PKG}.registry.routes", f"{PKG}.pipelines.routes", f"{PKG}.pipelines.runs",
            f"{PKG}.pipelines.schedules", f"{PKG}.experiments.routes", f"{PKG}.datasets.routes"} <= _route_modules()


def test_only_the_app_factory_imports_a_route_module():
    """Not even a module of the route module's own domain: the bodies a route calls are its domain's service's, so
    nothing else needs the HTTP layer (a service reaching back into routes is how the registry's service and
    pipelines' schedules and service once did it)."""
    routes = _route_modules()
    bad = [f"{m}:{line} imports {t}" for m, t, n, line in _imports() if m not in WIRING and t in routes and m != t]
    assert not bad, "import the domain's service module (or the module that holds the body):\n" + "\n".join(bad)


def test_no_service_module_imports_a_route_module():
    """A service module (`service.py`, `*_service.py`) imports no route module, in its domain or another, even at call
    time."""
    routes = _route_modules()
    bad = [f"{m}:{line} imports {t}" for m, t, n, line in _imports()
           if m.split(".")[-1].endswith("service") and (t in routes or (_is_routes(t) and _domain(t)))]
    assert not bad, "\n".join(bad)


def test_no_private_name_crosses_a_domain_border():
    bad = [f"{m}:{line} imports {n} from {t}" for m, t, n, line in _cross()
           if n and n.startswith("_")]
    assert not bad, "give the name a public one in its domain's service module:\n" + "\n".join(bad)


# --- serving and monitoring: thin routes, other domains through their service modules ------------------------------

# Route modules that only parse, call their domain's service and return its result: they do no database, access or
# audit work of their own (it is the service's). Add a domain's routes once its bodies have moved.
THIN_ROUTES = {f"{PKG}.serving.routes", f"{PKG}.monitoring.routes", f"{PKG}.registry.routes", f"{PKG}.pipelines.routes",
               f"{PKG}.pipelines.runs", f"{PKG}.pipelines.schedules", f"{PKG}.experiments.routes",
               f"{PKG}.datasets.routes", f"{PKG}.assistant.routes", f"{PKG}.cards.routes",
               f"{PKG}.recommender.routes", f"{PKG}.ship.routes"}
DOMAIN_WORK = ("sqlalchemy", "starlette.concurrency", f"{PKG}.orm", f"{PKG}.audit", f"{PKG}.access", f"{PKG}.db")


def test_thin_routes_leave_the_work_to_the_service():
    bad = [f"{m}:{line} imports {t}" for m, t, n, line in _imports()
           if m in THIN_ROUTES and any(t == w or t.startswith(w + ".") for w in DOMAIN_WORK)]
    assert not bad, "move the body into the domain's service module:\n" + "\n".join(bad)


# Pairs of modules of one domain that must not import each other (either way).
APART = [(f"{PKG}.serving.routes", f"{PKG}.serving.batch")]


def test_modules_kept_apart_do_not_import_each_other():
    bad = [f"{m}:{line} imports {t}" for m, t, n, line in _imports()
           for a, b in APART if (m, t) in ((a, b), (b, a))]
    assert not bad, "\n".join(bad)


# Serving and monitoring reach other domains only through `<domain>.service`, apart from these imports (importing
# module, imported module), each with why; the test fails on any other, and on an entry whose import has gone.
SERVICE_ONLY = ("serving", "monitoring", "cards", "ship")  # cards, ship: composed on top of every domain's service
NOT_THROUGH_SERVICE = {
    (f"{PKG}.serving.service", f"{PKG}.experiments.projects"): "experiment_ids, which experiments' service lacks",
    (f"{PKG}.serving.predlog", f"{PKG}.datasets.catalog"): "the committer process opens the project catalog itself",
    (f"{PKG}.monitoring.windows", f"{PKG}.registry.evaluate"): "score, the gates' metrics, for the same numbers",
}


def test_serving_and_monitoring_call_other_domains_through_their_services():
    found = {(m, t) for m, t, n, line in _cross()
             if _domain(m) in SERVICE_ONLY and t.split(".")[-1] != "service"}
    assert found <= set(NOT_THROUGH_SERVICE), f"import the domain's service module: {found - set(NOT_THROUGH_SERVICE)}"
    assert set(NOT_THROUGH_SERVICE) <= found, f"remove from NOT_THROUGH_SERVICE: {set(NOT_THROUGH_SERVICE) - found}"


def _edges() -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = {}
    for m, t, n, line in _cross():
        if m in WIRING:
            continue
        edges.setdefault((_domain(m), _domain(t)), []).append(f"{m}:{line}")
    return edges


def _cycle(edges) -> list[str] | None:  # noqa: ANN001
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        stack.append(v)
        for w in sorted(graph.get(v, [])):
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state and (c := visit(w)):
                return c
        state[v] = 2
        stack.pop()
        return None

    for v in sorted(graph):
        if v not in state and (c := visit(v)):
            return c
    return None


def test_the_domain_graph_has_no_cycle():
    edges = _edges()
    cycle = _cycle([e for e in edges if e not in CYCLE_ALLOWED])
    where = "" if cycle is None else "\n".join(
        f"{a} -> {b}: {', '.join(edges[(a, b)])}" for a, b in zip(cycle, cycle[1:]))
    assert cycle is None, f"domain import cycle {' -> '.join(cycle or [])}:\n{where}"


def test_every_allowed_cycle_edge_still_exists():
    """An allowance whose import has gone is removed, so that the edge cannot come back unnoticed."""
    gone = [e for e in CYCLE_ALLOWED if e not in _edges()]
    assert not gone, f"remove from CYCLE_ALLOWED: {gone}"


@pytest.mark.parametrize("broken, expected", [
    ([("a", "b"), ("b", "c")], None),
    ([("a", "b"), ("b", "c"), ("c", "a")], ["a", "b", "c", "a"]),
])
def test_the_cycle_finder(broken, expected):  # noqa: ANN001
    assert _cycle(broken) == expected


def test_the_outboxes_import_no_domain():
    """Every domain writes the assistant's feed (outbox.py) and the platform events (events.py, published by
    event_relay.py) in its own transactions: one import of a domain from them would close a cycle with it."""
    outboxes = {f"{PKG}.outbox", f"{PKG}.events", f"{PKG}.event_relay"}
    seen = {m for m, _, _, _ in _imports()}
    assert outboxes <= seen, outboxes - seen
    bad = [(m, t, line) for m, t, _, line in _imports() if m in outboxes and _domain(t)]
    assert not bad, bad


# Column policies (issue 20 item 1, datasets/policy.py) shape rows where they leave the backend. Every function
# outside the datasets domain that reads a project table's rows (the catalog's read / scan / appended) is listed
# here with where its rows go; a new one fails until someone decides whether its rows need shaping.
ROW_READERS = {
    ("monitoring.cursor", "known"): "prediction ids only, for the monitor's own bookkeeping",
    ("monitoring.cursor", "known_ids"): "prediction ids only, for the monitor's own bookkeeping",
    ("monitoring.cursor", "new_rows"): "monitor evaluation: stored as window statistics, never as rows",
    ("monitoring.cursor", "read_new"): "monitor evaluation: stored as window statistics, never as rows",
    ("monitoring.dashboard", "_traffic"): "counts and latencies only",
    ("monitoring.reference", "build_reference"): "the reference profile (drift reports withhold shaped columns)",
    ("monitoring.windows", "log_frame"): "drift reports: shaped in monitors.window_report",
    ("recommender.history", "snapshot_profile"): "meta-features only",
    ("registry.promotion", "evidence_for"): "gate metrics only",
    ("serving.batch", "_split"): "rows go to the model; the output is shaped on download (jobs.shaped_output)",
    ("serving.deployments", "predictions"): "the prediction log API: shaped (column_policies)",
    ("serving.deployments", "read"): "the prediction log API: shaped (column_policies)",
    ("ship.plan", "_columns"): "the schema only (no row)",
    ("ship.service", "_example_row"): "the example request: shaped in ship.service.shaped_example",
}


def test_every_reader_of_dataset_rows_is_accounted_for_by_column_policies():
    found = set()
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if "migrations" in rel.parts or rel.parts[0] == "datasets":
            continue
        for fn in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for n in ast.walk(fn):
                if isinstance(n, ast.Attribute) and n.attr in ("read", "scan", "appended") and (
                        isinstance(n.value, ast.Attribute) and n.value.attr == "datasets"
                        or isinstance(n.value, ast.Name) and n.value.id in ("catalog", "cat")):
                    found.add((".".join(rel.with_suffix("").parts), fn.name))
    assert found - set(ROW_READERS) == set(), "decide whether these rows need column policies (ROW_READERS)"
    assert set(ROW_READERS) - found == set(), "remove from ROW_READERS: the read is gone"
