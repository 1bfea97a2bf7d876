"""Column policies on the monitoring API's per-feature statistics (issue 20 item 1): a reference profile's entries
and a window's drift results sum up a column's values, so a feature the caller's role sees masked or hashed keeps
its test, threshold, counts and verdict while the rest is withheld, and says so."""

from __future__ import annotations

from ..datasets.service import MASK_TOKEN, Shaper

# What stays of a feature's entry whose column the caller's role sees masked or hashed: its test, threshold, counts
# and verdict; never its values or what sums them up (mean, quantiles, top categories; a window's statistic and the
# message that quotes it). A `withheld` note says which policy withheld the rest.
PROFILE_KEEP = ("feature", "kind", "test", "threshold", "drift_when", "reference_rows", "missing_share", "min_values",
                "ignored")
DRIFT_KEEP = ("feature", "kind", "test", "threshold", "drift", "status")


def shape_features(shaper: Shaper, entries: list, keep: tuple[str, ...], refuse: bool = True) -> list:
    """Per-feature entries (a profile's or a window's) with a masked or hashed feature's statistics withheld (the
    same list when none is). A denied feature raises ColumnDenied, or with `refuse=False` (a document that quotes
    them among much else: the model card) is withheld like a masked one."""
    if not shaper.active or not entries:
        return entries
    names = [e.get("feature") for e in entries if isinstance(e, dict)]
    if refuse:
        withheld = dict(shaper.withheld(names))
    else:
        withheld = {f: r for f in names if (r := shaper.rule(str(f))) is not None and r.action != "allow"}
        shaper.applied.extend(r for r in dict.fromkeys(withheld.values()) if r not in shaper.applied)
    if not withheld:
        return entries
    out = []
    for e in entries:
        rule = withheld.get(e.get("feature")) if isinstance(e, dict) else None
        if rule is None:
            out.append(e)
            continue
        shaped = {k: v for k, v in e.items() if k in keep}
        if "statistic" in e:
            shaped["statistic"] = None
        shaped["withheld"] = (f"statistics withheld: {MASK_TOKEN} for your role ({rule.role}), column policy "
                              f"{rule.name}")
        out.append(shaped)
    return out


def outbound_title(kind: str, title: str, detail: dict, named: dict[str, list[str]]) -> str:
    """The title an alert is stored with, which also leaves without a reader's role (webhooks, platform events, the
    assistant's index, the audit log's alert.fire): a drift alert of a feature that a policy masks, hashes or denies
    for any role (`named`: column -> those policies' names) says its verdict and threshold, not its statistic. The
    statistic stays in the alert's detail, shaped per reader by `shape_alert`."""
    feature = detail.get("feature") if kind == "drift" else None
    if feature is None or str(feature) not in named:
        return title
    test = str(detail.get("test") or "test").upper()
    side = "<=" if detail.get("test") == "ks" else ">="
    return (f"Drift in {feature}: {test} {side} threshold {detail.get('threshold', 0):.4g} (statistic withheld: "
            f"column policy {', '.join(named[str(feature)])})")


def outbound_detail(kind: str, detail: dict, named: dict[str, list[str]]) -> dict:
    """An alert's detail as it leaves without a reader's role (a webhook's payload): a drift alert of a column in
    `named` without its statistic and the message quoting it, the policies named."""
    feature = detail.get("feature") if kind == "drift" else None
    if feature is None or str(feature) not in named:
        return detail
    out = {k: v for k, v in detail.items() if k != "message"}
    out["statistic"] = None
    out["withheld"] = f"statistics withheld: column policy {', '.join(named[str(feature)])}"
    return out


def shape_alert(shaper: Shaper, kind: str, title: str, detail: dict) -> tuple[str, dict]:
    """An alert's title and detail as the caller's role may see them. A drift alert names its feature and quotes the
    window's test statistic (title, and detail's `statistic` and `message`): for a feature the role sees masked,
    hashed or not at all, the statistic is withheld as in the windows (the verdict, test and threshold stay) and
    the policy named; a denied feature is withheld rather than refused, since an alert list holds much else.
    Schema and performance alerts name columns and metrics, no column's values: as they are."""
    feature = detail.get("feature") if kind == "drift" and isinstance(detail, dict) else None
    if not shaper.active or feature is None:
        return title, detail
    rule = shaper.rule(str(feature))
    if rule is None or rule.action == "allow":
        return title, detail
    if rule not in shaper.applied:
        shaper.applied.append(rule)
    note = f"{MASK_TOKEN} for your role ({rule.role}), column policy {rule.name}"
    shaped = {k: v for k, v in detail.items() if k in DRIFT_KEEP or k in ("window", "version_id", "rows")}
    shaped["statistic"] = None
    shaped["withheld"] = f"statistics withheld: {note}"
    test = str(detail.get("test") or "test").upper()
    return f"Drift in {feature}: {test} statistic withheld ({note})", shaped
