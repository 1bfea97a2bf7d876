"""Column policies (issue 20 item 1): what each role of a project sees of a dataset's columns, applied in the backend
wherever rows leave it.

A policy names a dataset, a column and a role, and an action: `allow`, `mask` (every value becomes `MASK`), `hash`
(HMAC-SHA256 under the project's own secret: equal values give equal hashes within the project, so joins still work,
and different ones in another project) or `deny` (the read is refused, naming the policy). A column no policy names is
allowed. The caller's role comes from the platform's membership table, never from the request.

Which policy shapes a column:
- rows of a dataset: the policy set on that dataset's column for the caller's role, if any;
- otherwise (and for rows the platform derives from the project's data: the prediction log, drift reports, batch
  outputs, a copy of a dataset under another name) the strictest policy set for the caller's role on a column of that
  name in any of the project's datasets (deny > mask > hash > allow).

Each read a policy shaped is audited (`datasets.policy.applied`, with the policies' names); a refusal is audited as
a denial of `datasets.read`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit
from ..access import role_in
from ..at_rest import column_secret
from ..errors import Forbidden
from ..identity import Identity
from ..orm import DatasetColumnPolicy, Project

ACTIONS = ("allow", "hash", "mask", "deny")  # least to most strict
MASK = "***"
HEADER = "X-MLP-Column-Policies"  # the policies that shaped a dataset read, for the kernel's lineage
LOG_TABLES = ("predictions_",)  # the serving gateway's prediction logs (serving/predlog.py's table names)
LOG_BODIES = ("request", "response")


@dataclass(frozen=True)
class Rule:
    dataset: str
    column: str
    role: str
    action: str

    @property
    def name(self) -> str:
        return f"{self.dataset}.{self.column}:{self.role}={self.action}"


class ColumnDenied(Forbidden):
    def __init__(self, rule: Rule, column: str):
        super().__init__(f"Column '{column}' is denied to role '{rule.role}' by column policy {rule.name}; "
                         "a project lead can change it (mlp datasets policy)", detail={"policy": rule.name})
        self.rule = rule


def rules(db: Session, project_id: int, role: str | None = None) -> list[Rule]:
    q = select(DatasetColumnPolicy).where(DatasetColumnPolicy.project_id == project_id)
    if role is not None:
        q = q.where(DatasetColumnPolicy.role == role)
    return [Rule(p.dataset, p.column, p.role, p.action)
            for p in db.execute(q.order_by(DatasetColumnPolicy.id)).scalars()]


def project_key(db: Session, project_id: int) -> bytes:
    """The project's hash secret, made on first use; kept wrapped by the at-rest master key (at_rest.py)."""
    return column_secret(db, project_id)


def digest(key: bytes, value: Any) -> str | None:
    """The keyed hash of one value (None stays None); the value's text, so 7 and "7" hash alike."""
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str) if not isinstance(
        value, (int, float, bool)) else str(value)
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass
class Shaper:
    """The policies for one caller's role in one project, and what they shaped so far."""

    role: str
    own: list[Rule]
    key: bytes | None
    applied: list[Rule] = field(default_factory=list)

    def rule(self, column: str, dataset: str | None = None) -> Rule | None:
        if dataset is not None:
            for r in self.own:
                if r.dataset == dataset and r.column == column:
                    return r
        named = [r for r in self.own if r.column == column and r.action != "allow"]
        return max(named, key=lambda r: ACTIONS.index(r.action)) if named else None

    @property
    def active(self) -> bool:
        return any(r.action != "allow" for r in self.own)

    def _use(self, rule: Rule, column: str) -> str:
        if rule.action == "deny":
            raise ColumnDenied(rule, column)
        if rule.action != "allow" and rule not in self.applied:
            self.applied.append(rule)
        return rule.action

    def value(self, action: str, v: Any) -> Any:
        if action == "mask":
            return MASK
        if action == "hash":
            return digest(self.key, v)
        return v

    def table(self, data, dataset: str | None = None, bodies: tuple[str, ...] = ()):  # noqa: ANN001, ANN201
        """The table (pyarrow) with each column as its policy shapes it; ColumnDenied for a denied one. `bodies`:
        string columns that hold logged request or response bodies (a prediction log), shaped inside."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if not self.active:
            return data
        for i, name in enumerate(data.column_names):
            if name in bodies and pa.types.is_string(data.column(i).type) and self.rule(name, dataset) is None:
                values = [self.json_text(v) for v in data.column(i).to_pylist()]
                data = data.set_column(i, data.field(i), pa.array(values, pa.string()))
                continue
            rule = self.rule(name, dataset)
            if rule is None or self._use(rule, name) == "allow":
                continue
            if rule.action == "mask":  # every value, nulls too: the token says nothing about the row
                values = pa.array([MASK] * data.num_rows, pa.string())
            else:  # hash each distinct value once (a column's values repeat: ids, categories)
                column = data.column(i).combine_chunks()
                distinct = column.unique()
                hashed = pa.array([self.value(rule.action, v) for v in distinct.to_pylist()], pa.string())
                values = pc.take(hashed, pc.index_in(column, value_set=distinct))
            data = data.set_column(i, pa.field(name, pa.string()), values)
        return data

    def withheld(self, columns) -> list[tuple[str, Rule]]:  # noqa: ANN001
        """The columns (of rows the platform derived: a drift report's) this role may not see as they are, with the
        policy of each; ColumnDenied for a denied one. Where values cannot be shaped one by one (a report drawn
        from them and from the reference's), such columns are left out, and said to be."""
        out = []
        for c in columns:
            rule = self.rule(str(c))
            if rule is not None and self._use(rule, str(c)) != "allow":
                out.append((str(c), rule))
        return out

    def frame(self, df):  # noqa: ANN001, ANN201 - a pandas DataFrame in and out (a copy when shaped)
        if not self.active:
            return df
        out = None
        for name in df.columns:
            rule = self.rule(str(name))
            if rule is None or self._use(rule, str(name)) == "allow":
                continue
            out = df.copy() if out is None else out
            out[name] = [self.value(rule.action, v) for v in df[name].tolist()]
        return df if out is None else out

    def json(self, body: Any) -> Any:
        """A request or response body (MLflow's dataframe_split / dataframe_records / inputs, Open Inference v2)
        with the values of every column a policy names shaped, wherever a column name keys them."""
        if not self.active:
            return body
        return self._walk(body)

    def json_text(self, text: str | None) -> str | None:
        """A logged body (JSON text) shaped like `json`; one that is not JSON is masked whole while any policy
        shapes a column for this role (its columns cannot be told apart)."""
        if not self.active or text is None:
            return text
        try:
            body = json.loads(text)
        except ValueError:
            return MASK
        shaped = self._walk(body)
        return text if shaped == body else json.dumps(shaped)

    def _walk(self, o: Any) -> Any:
        if isinstance(o, list):
            return [self._walk(x) for x in o]
        if not isinstance(o, dict):
            return o
        if isinstance(o.get("name"), str) and "data" in o:  # Open Inference v2: {"name": col, "data": [...]}
            rule = self.rule(o["name"])
            if rule is not None and self._use(rule, o["name"]) != "allow":
                return {**o, "datatype": "BYTES", "data": self._values(rule.action, o["data"])}
            return o
        if isinstance(o.get("columns"), list) and isinstance(o.get("data"), list):  # dataframe_split
            actions = []
            for c in o["columns"]:
                rule = self.rule(str(c))
                actions.append(self._use(rule, str(c)) if rule is not None else "allow")
            if any(a != "allow" for a in actions):
                rows = [[self.value(a, v) for a, v in zip(actions, row)] if isinstance(row, list) else row
                        for row in o["data"]]
                return {**o, "data": rows}
            return o
        out = {}
        for k, v in o.items():
            rule = self.rule(str(k))
            if rule is not None and self._use(rule, str(k)) != "allow":
                out[k] = self._values(rule.action, v)
            else:
                out[k] = self._walk(v)
        return out

    def _values(self, action: str, v: Any) -> Any:
        return [self._values(action, x) for x in v] if isinstance(v, list) else self.value(action, v)

    def audit(self, db: Session, who: Identity, slug: str, path: str, target: str) -> None:
        """Record which policies shaped this read (nothing when none did), in the caller's transaction."""
        if self.applied:
            audit.append(db, actor=who.user, action="datasets.policy.applied", decision="allow", project=slug,
                         target=target, detail={"path": path, "role": self.role,
                                                "policies": [r.name for r in self.applied]})

    def refused(self, db: Session, who: Identity, slug: str, path: str, target: str, e: ColumnDenied) -> None:
        """Record a read a deny policy refused (committed on its own: the request fails)."""
        db.rollback()
        audit.append(db, actor=who.user, action="datasets.read", decision="deny", project=slug, target=target,
                     detail={"path": path, "role": self.role, "reason": "column policy", "policy": e.rule.name})
        db.commit()


def for_role(db: Session, project_id: int, role: str) -> Shaper:
    own = rules(db, project_id, role)
    key = project_key(db, project_id) if any(r.action == "hash" for r in own) else None
    return Shaper(role, own, key)


def for_caller(db: Session, who: Identity, slug: str) -> Shaper:
    """The shaper for the caller's role in the project (access itself is decided by `access.require` before)."""
    project = db.execute(select(Project).where(Project.slug == slug)).scalar_one()
    role = role_in(db, who, project)
    if role is None:  # `require` let them in, so this only happens when membership changed in between
        raise Forbidden(f"You are no longer a member of '{slug}'")
    return for_role(db, project.id, role.value)
