"""Model cards (issue 13 item 7): a card for one model version, composed only from the platform's records, every
statement citing the record it states, as the assistant cites (docs/registry.md, "Model cards").

This domain sits on top: it reads the registry (version, model, gate decisions, the signed MLmodel's signature),
experiments (the training run), serving (where the version served) and monitoring (its windows) through their
public service names, each of which checks the caller's access itself; the alerts and retrainings since deployment
are the monitor's, on each deployment while it served this version. Nothing is invented: what the records do not
say, the card says is not stated. Rendering to Markdown and HTML is `render.py`'s.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from starlette.concurrency import run_in_threadpool

from ..deps import DB
from ..errors import NotFound
from ..identity import Identity
from ..experiments import service as experiments
from ..monitoring import service as monitoring
from ..registry import service as registry
from ..serving import service as serving
from . import render
from .schemas import CardCitation, CardFormat, CardSection, CardStatement, ModelCard

INTENDED_USE_TAGS = ("mlp.intended_use", "intended_use", "mlflow.note.content")  # first found wins
DIGESTS = (("data_sha256", "data digest"), ("config_sha256", "configuration digest"),
           ("code_sha256", "code digest"), ("environment_sha256", "environment digest"))


def _num(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


class _Card:
    def __init__(self, slug: str, model: str, version: int) -> None:
        self.slug, self.model, self.version = slug, model, version
        self.sections: list[CardSection] = []

    def mv(self, file: str | None = None) -> CardCitation:
        return CardCitation(type="model_version", id=f"{self.slug}/{self.model}/{self.version}", project=self.slug,
                        label=f"{self.model} v{self.version}", file=file)

    def run(self, run_id: str, name: str | None) -> CardCitation:
        return CardCitation(type="run", id=run_id, project=self.slug, label=name or run_id[:8])

    def decision(self, d: dict[str, Any]) -> CardCitation:
        return CardCitation(type="gate_decision", id=str(d["id"]), project=self.slug, model=self.model,
                        label=f"decision {d['id']} ({d['alias']})")

    def snapshot(self, dataset: str, snap: Any) -> CardCitation:
        return CardCitation(type="dataset_snapshot", id=str(snap), project=self.slug, dataset=dataset,
                        label=f"{dataset} @ {snap}")

    def deployment(self, name: str, event: int | None = None) -> CardCitation:
        return CardCitation(type="deployment", id=f"{self.slug}/{name}", project=self.slug, label=name, event=event)

    def section(self, id_: str, title: str, statements: list[CardStatement]) -> None:
        self.sections.append(CardSection(id=id_, title=title, statements=statements))


def _s(text: str, *cites: CardCitation, value: Any = None) -> CardStatement:
    return CardStatement(text=text, value=value, citations=list(cites))


def _overview(c: _Card, v: dict, run: dict | None) -> list[CardStatement]:
    out = [_s(f"{c.model} version {c.version} of project {c.slug}, registered by {v['created_by']} at "
              f"{v['created_at']}.", c.mv(), value=v["created_by"])]
    if v["aliases"]:
        out.append(_s(f"Aliases pointing at this version now: {', '.join(v['aliases'])}.", c.mv(),
                      value=v["aliases"]))
    else:
        out.append(_s("No alias (staging, champion) points at this version now.", c.mv(), value=[]))
    if v["run_id"]:
        name = (run or {}).get("run_name")
        out.append(_s(f"Trained in MLflow run {name or '(unnamed)'} ({v['run_id']}).",
                      c.run(v["run_id"], name), value=v["run_id"]))
    if v["pipeline_run_id"]:
        out.append(_s(f"Produced by pipeline run {v['pipeline_run_id']}.", c.mv(), value=v["pipeline_run_id"]))
    return out


def _intended_use(c: _Card, v: dict, run: dict | None) -> list[CardStatement]:
    tags = (run or {}).get("tags") or {}
    for key in INTENDED_USE_TAGS:
        if (tags.get(key) or "").strip():
            return [_s(f"Intended use (run tag {key}): {tags[key].strip()}", c.run(v["run_id"], run.get("run_name")),
                       value=tags[key])]
    where = c.run(v["run_id"], (run or {}).get("run_name")) if run else c.mv()
    return [_s("Not stated: the training run has no intended-use tag (mlp.intended_use or intended_use) and no "
               "description.", where)]


def _training_data(c: _Card, v: dict) -> list[CardStatement]:
    data = (v["lineage"] or {}).get("data") or {}
    pinned = data.get("pinned") or {}
    out = [_s(f"Trained on dataset {ds} at snapshot {snap} (pinned).", c.snapshot(ds, snap), c.mv(), value=str(snap))
           for ds, snap in sorted(pinned.items())]
    for r in data.get("reads") or []:
        if not isinstance(r, dict) or not r.get("name") or pinned.get(r["name"]) == r.get("snapshot_id"):
            continue
        rows = f", {r['rows']} rows" if r.get("rows") is not None else ""
        if r.get("snapshot_id") is not None:
            out.append(_s(f"The training run's lineage records dataset {r['name']} at snapshot {r['snapshot_id']}"
                          f"{rows}.", c.snapshot(r["name"], r["snapshot_id"]), c.mv(), value=str(r["snapshot_id"])))
        else:
            out.append(_s(f"The training run's lineage records the file {r.get('path') or r['name']} (sha256 "
                          f"{r.get('sha256') or 'not recorded'}{rows}).", c.mv(), value=r.get("sha256")))
    return out or [_s("No dataset read was recorded for the training run.", c.mv())]


def _parameters(c: _Card, v: dict, run: dict | None) -> list[CardStatement]:
    if run is None:
        params = v["params"]
        cite = c.mv()
    else:
        params, cite = run["params"], c.run(v["run_id"], run.get("run_name"))
    out = [_s(f"{k} = {val}", cite, value=val) for k, val in sorted(params.items())]
    return out or [_s("The training run logged no parameters.", cite)]


def _metrics(c: _Card, v: dict, run: dict | None) -> list[CardStatement]:
    if run is None:
        metrics, cite = v["metrics"], c.mv()
    else:
        metrics, cite = run["metrics"], c.run(v["run_id"], run.get("run_name"))
    out = [_s(f"{k} = {_num(val)} (logged by the training run)", cite, value=val)
           for k, val in sorted(metrics.items()) if val is not None]
    return out or [_s("The training run logged no metrics.", cite)]


def _rules(gates: dict) -> list[str]:
    rules = [f"{t['metric']} {t['op']} {_num(t['value'])}" for t in gates.get("thresholds") or []]
    if gates.get("challenger"):
        ch = gates["challenger"]
        rules.append(f"beats the champion on {ch['metric']} by at least {_num(ch.get('margin', 0))}")
    if gates.get("evaluation"):
        rules.append(f"scored on dataset {gates['evaluation']['dataset']} (label {gates['evaluation']['target']})")
    if gates.get("require_approval"):
        rules.append("a lead approves before champion moves")
    return rules


def _validation(c: _Card, decisions: list[dict]) -> list[CardStatement]:
    out = []
    for d in decisions:
        cite, ev = c.decision(d), d["evidence"] or {}
        out.append(_s(f"Gate decision {d['id']}: {d['requested_by']} asked for {d['alias']} at {d['created_at']}; "
                      f"the decision is {d['status']}.", cite, value=d["status"]))
        rules = _rules(ev.get("gates") or {})
        out.append(_s("Gate rules applied: " + ("; ".join(rules) if rules else "none (signature check only)") + ".",
                      cite))
        e = ev.get("evaluation") or {}
        if e.get("dataset"):
            cites = [cite] + ([c.snapshot(e["dataset"], e["snapshot_id"])] if e.get("snapshot_id") else [])
            out.append(_s(f"Evaluated on dataset {e['dataset']} at snapshot {e.get('snapshot_id')}"
                          + (f", {e['rows']} rows" if e.get("rows") is not None else "") + ".", *cites,
                          value=str(e.get("snapshot_id"))))
            for k, val in sorted((e.get("challenger") or {}).items()):
                if isinstance(val, (int, float)) and not isinstance(val, bool):
                    out.append(_s(f"Evaluation {k} = {_num(val)}", cite, value=val))
        for r in ev.get("results") or []:
            out.append(_s(f"{r.get('gate', 'gate')} gate {'passed' if r.get('passed') else 'failed'}: "
                          f"{r.get('message', '')}", cite, value=r.get("value", r.get("challenger"))))
    return out


def _approvals(c: _Card, decisions: list[dict]) -> list[CardStatement]:
    out = []
    for d in decisions:
        cite = c.decision(d)
        if d["status"] in ("approved", "rejected"):
            out.append(_s(f"{d['decided_by']} {d['status']} moving {d['alias']} to this version at {d['decided_at']}, "
                          f"for the reason: {d['reason']}", cite, value=d["decided_by"]))
        elif d["status"] == "pending":
            out.append(_s(f"Decision {d['id']} ({d['alias']}) waits for a lead's approval.", cite, value="pending"))
        else:
            out.append(_s(f"The gates decided {d['status']} for {d['alias']} at {d['decided_at']}; no lead approval "
                          "was asked.", cite, value=d["status"]))
    return out or [_s("No approval or gate decision is recorded for this version.", c.mv())]


def _lineage(c: _Card, v: dict) -> list[CardStatement]:
    lin = v["lineage"] or {}
    out = [_s(f"{label}: sha256 {lin[key]}", c.mv(), value=lin[key]) for key, label in DIGESTS if lin.get(key)]
    code = lin.get("code") or {}
    if lin.get("pipeline_version"):
        out.append(_s(f"Pipeline version {lin['pipeline_version']}.", c.mv(), value=lin["pipeline_version"]))
    if code.get("notebook_path"):
        out.append(_s(f"Notebook {code['notebook_path']} (sha256 {code.get('notebook_sha256') or 'not recorded'}).",
                      c.mv(), value=code["notebook_path"]))
    if code.get("git_commit"):
        out.append(_s(f"Git commit {code['git_commit']}.", c.mv(), value=code["git_commit"]))
    if v["signed"]:
        out.append(_s(f"Signed manifest over {v['files']} files, key {v['key_id']}.", c.mv(), value=v["key_id"]))
    else:
        out.append(_s("The version is not signed.", c.mv(), value=False))
    return out


def _signature(c: _Card, sig: dict) -> list[CardStatement]:
    cite = c.mv(file="MLmodel")
    if sig["status"] == "unavailable":
        return [_s(f"The signature could not be read: {sig['message']}.", cite)]
    if sig["status"] == "none":
        return [_s("The model was logged without a signature: inputs and outputs are not stated.", cite)]
    out = [_s(f"Input {col['name']}: {col['type']}" + ("" if col["required"] else " (optional)"), cite,
              value=col["name"]) for col in sig["inputs"]]
    out += [_s(f"Output {col['name']}: {col['type']}", cite, value=col["name"]) for col in sig["outputs"]]
    out.append(_s(f"Read from the MLmodel file whose sha256 {sig['sha256']} the signed manifest lists.", cite,
                  value=sig["sha256"]))
    return out


def _serving(c: _Card, history: list[dict]) -> list[CardStatement]:
    out = []
    for h in history:
        serving_now = None
        for e in h["events"]:
            cite = c.deployment(h["deployment"], e["id"])
            if e["version"] == c.version:
                out.append(_s(f"Deployment {h['deployment']}: {e['action']} to this version by {e['actor']} at "
                              f"{e['at']}.", cite, value=e["at"]))
                serving_now = e
            elif serving_now is not None:
                out.append(_s(f"Deployment {h['deployment']}: {e['action']} to version {e['version']} by {e['actor']} "
                              f"at {e['at']}; this version stopped serving there.", cite, value=e["at"]))
                serving_now = None
        if h["serving_now"]:
            out.append(_s(f"Deployment {h['deployment']} serves this version now (status {h['status']}).",
                          c.deployment(h["deployment"]), value=h["status"]))
    return out or [_s("No deployment has served this version.", c.mv())]


def _monitoring(c: _Card, seen: list[dict]) -> list[CardStatement]:
    out = []
    for m in seen:
        ws, name = m["windows"], m["deployment"]
        listing = CardCitation(type="monitor_windows", id=f"{c.slug}/{name}", project=c.slug, label=f"{name} windows")
        counts: dict[str, int] = {}
        for w in ws:
            counts[w["status"]] = counts.get(w["status"], 0) + 1
        plural = "s" if len(ws) != 1 else ""
        out.append(_s(f"Deployment {name}: {len(ws)} monitor window{plural} of this version from {ws[0]['start']} "
                      f"to {ws[-1]['end']}, " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ".", listing,
                      value=len(ws)))
        for w in ws:
            cite = CardCitation(type="monitor_window", id=str(w["id"]), project=c.slug, deployment=name,
                            label=f"{name} window {w['seq']}")
            drifted = [f for f in (w["drift"] or {}).get("features", []) if f.get("drift")]
            if drifted:
                out.append(_s(f"Window {w['seq']} ({w['start']} to {w['end']}, {w['rows']} rows): drift in "
                              + ", ".join(f"{f['feature']} ({f['test']} {_num(f['statistic'])}, threshold "
                                          f"{_num(f['threshold'])})" if f.get("statistic") is not None else
                                          f"{f['feature']} ({f.get('withheld') or 'statistic withheld'})"
                                          for f in drifted) + ".", cite,
                              value=[f["feature"] for f in drifted]))
        last = ws[-1]
        out.append(_s(f"Latest window {last['seq']} ended {last['end']}: status {last['status']}, {last['rows']} rows.",
                      CardCitation(type="monitor_window", id=str(last["id"]), project=c.slug, deployment=name,
                               label=f"{name} window {last['seq']}"), value=last["status"]))
        perf = next((w for w in reversed(ws) if (w["performance"] or {}).get("metrics")), None)
        if perf is not None:
            cite = CardCitation(type="monitor_window", id=str(perf["id"]), project=c.slug, deployment=name,
                            label=f"{name} window {perf['seq']}")
            checks = {k["metric"]: k for k in perf["performance"].get("checks", [])}
            for k, val in sorted(perf["performance"]["metrics"].items()):
                base = checks.get(k)
                out.append(_s(f"Performance in window {perf['seq']} ({perf['labelled']} labelled rows): {k} = "
                              f"{_num(val)}" + (f" against a baseline of {_num(base['baseline'])}"
                                                f"{' (degraded)' if base['degraded'] else ''}" if base else "") + ".",
                              cite, value=val))
    return out or [_s("No monitor has cut a window of this version's predictions.", c.mv())]


def _periods(version: int, events: list[dict]) -> list[tuple[datetime | None, datetime | None]]:
    """When the version served a deployment: (from, to) per stretch, from its traffic events (None: open)."""
    out: list[tuple[datetime | None, datetime | None]] = []
    start = None
    for e in events:
        if e["version"] == version and start is None:
            start = _when(e["at"])
        elif e["version"] != version and start is not None:
            out.append((start, _when(e["at"])))
            start = None
    if start is not None:
        out.append((start, None))
    return out


def _when(iso: str | None) -> datetime | None:
    if not iso:
        return None
    t = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _during(iso: str | None, periods: list[tuple[datetime | None, datetime | None]]) -> bool:
    t = _when(iso)
    return t is not None and any((a is None or t >= a) and (b is None or t < b) for a, b in periods)


def _alerts(c: _Card, history: list[dict], raised: dict[str, dict]) -> list[CardStatement]:
    """Alerts and retrainings on the deployments while they served this version, with each retraining's outcome."""
    if not history:
        return [_s("No deployment has served this version: no alert or retraining concerns it.", c.mv())]
    out = []
    for h in history:
        name = h["deployment"]
        periods = _periods(c.version, h["events"]) or ([(None, None)] if h["serving_now"] else [])
        got = raised.get(name) or {"alerts": [], "retrainings": []}
        titles = {a["id"]: a["title"] for a in got["alerts"]}

        def alert(a_id: int, title: str, name: str = name) -> CardCitation:
            return CardCitation(type="alert", id=str(a_id), project=c.slug, deployment=name, label=title)

        for a in got["alerts"]:
            if not _during(a["started_at"], periods):
                continue
            now = "firing now" if a["state"] == "firing" else f"resolved at {a['resolved_at']}"
            out.append(_s(f"Deployment {name}: alert {a['title']} ({a['kind']}, {a['severity']}) fired at "
                          f"{a['started_at']} over {a['windows']} window(s); {now}.", alert(a["id"], a["title"]),
                          value=a["title"]))
        for r in got["retrainings"]:
            if not _during(r["created_at"], periods):
                continue
            cites = [CardCitation(type="retraining", id=str(r["id"]), project=c.slug, deployment=name,
                                  label=f"{name} retraining {r['id']}")]
            why = ""
            if r["alert_id"] is not None:
                title = titles.get(r["alert_id"], r["alert"] or str(r["alert_id"]))
                cites.append(alert(r["alert_id"], title))
                why = f", asked for by the alert {title}"
            made = f"; it registered version {r['version']}" if r["version"] is not None else ""
            said = f": {r['message']}" if r["message"] else ""
            out.append(_s(f"Deployment {name}: retraining {r['id']} at {r['created_at']}{why}; outcome "
                          f"{r['status']}{made}{said}.", *cites, value=r["status"]))
    return out or [_s("No alert fired and no retraining ran on a deployment while it served this version.",
                      *[c.deployment(h["deployment"]) for h in history])]


async def model_card(app, db: DB, who: Identity, slug: str, name: str, version: int) -> ModelCard:  # noqa: ANN001
    """The card of one model version for `who` (viewers may read it; another project's model is a 404)."""
    v = (await run_in_threadpool(registry.get_version, db, who, slug, name, version)).model_dump()
    decisions = (await run_in_threadpool(registry.list_decisions, db, who, slug, 1000, 0, None, name)).items
    mine = sorted((d.model_dump() for d in decisions if d.version == version), key=lambda d: d["id"])
    run = None
    if v["run_id"]:
        try:
            run = (await experiments.get_run(app, db, who, slug, v["run_id"])).model_dump()
        except (experiments.Unavailable, NotFound):
            run = None  # MLflow down or the run gone: the registry's copies of params and metrics, cited to it
    sig = await registry.version_signature(app, db, who, slug, name, version)
    history = await run_in_threadpool(serving.version_history, db, who, slug, name, version)
    seen = await run_in_threadpool(monitoring.version_windows, db, who, slug, name, version)
    raised = {h["deployment"]: await run_in_threadpool(monitoring.deployment_alerts, db, who, slug, h["deployment"])
              for h in history}

    c = _Card(slug, name, version)
    c.section("model", "Model", _overview(c, v, run))
    c.section("intended_use", "Intended use", _intended_use(c, v, run))
    c.section("training_data", "Training data", _training_data(c, v))
    c.section("parameters", "Parameters", _parameters(c, v, run))
    c.section("metrics", "Metrics", _metrics(c, v, run))
    c.section("validation", "Validation gates and evidence",
              _validation(c, mine) or [_s("This version has not been through the gates.", c.mv())])
    c.section("approvals", "Approvals", _approvals(c, mine))
    c.section("lineage", "Lineage digests", _lineage(c, v))
    c.section("signature", "Signature", _signature(c, sig))
    c.section("serving", "Serving history", _serving(c, history))
    c.section("monitoring", "Drift and performance since deployment", _monitoring(c, seen))
    c.section("alerts", "Alerts and retrainings since deployment", _alerts(c, history, raised))
    return ModelCard(project=slug, model=name, version=version, sections=c.sections,
                     generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


async def model_card_as(app, db: DB, who: Identity, slug: str, name: str, version: int,  # noqa: ANN001
                        fmt: CardFormat) -> ModelCard | str:
    """The card as JSON (the model), Markdown or HTML (text)."""
    card = await model_card(app, db, who, slug, name, version)
    if fmt == "markdown":
        return render.markdown(card)
    if fmt == "html":
        return render.html(card)
    return card
