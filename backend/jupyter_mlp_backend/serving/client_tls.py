"""Mutual TLS per project at the serving gateway (issue 20 item 2; docs/security.md#tls-at-the-serving-gateway).

A project lead (or admin) sets the project's client CA bundle and whether a client certificate is required, and
maps client certificates (by the sha256 of their DER) to the project's API keys. With `require_client_cert`, a
request to the project's endpoints needs, besides its API key: a client certificate on the TLS connection, issued
by a CA of the bundle and valid now, and mapped to that very key — so a client system must present both. Decided
here, in the backend; every change is audited. Without the TLS listener (`serving_tls_cert` unset) such a project
refuses every request: there is no certificate to check.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field

from sqlalchemy import select

from .. import audit
from ..access import Action, require
from ..deps import DB, Caller
from ..errors import Invalid as BadRequest, NotFound
from ..orm import ApiKey, ServingClientCert, ServingClientTls, utcnow
from .schemas import ClientCertOut, ClientTlsOut

CLIENT_CERT_REFUSED = "client_certificate_required"


@dataclass
class Policy:
    require: bool
    cas: list  # cryptography x509.Certificate
    mapped: dict[str, set[int]] = field(default_factory=dict)  # fingerprint -> API key ids
    issued: dict[bytes, bool] = field(default_factory=dict)  # DER -> issued by a CA of the bundle (cached)


class ClientTls:
    """The gateway's view: project id -> Policy; `refuse` says why a request may not pass (None: it may)."""

    def __init__(self) -> None:
        self.policies: dict[int, Policy] = {}
        self.context = None  # the TLS listener's SSLContext: client CAs are added to it

    def refuse(self, project_id: int, key_id: int, der: bytes | None, over_tls: bool) -> str | None:
        p = self.policies.get(project_id)
        if p is None or not p.require:
            return None
        if not over_tls:
            return "This project requires a client certificate: call the gateway's TLS listener with one"
        if not der:
            return "This project requires a client certificate issued by its CA; none was presented"
        ok = p.issued.get(der)
        if ok is None:
            ok = p.issued[der] = _issued_by(der, p.cas)
            if len(p.issued) > 10_000:
                p.issued.clear()
        if not ok:
            return "The client certificate is not issued by this project's client CA, or is not valid now"
        if key_id not in p.mapped.get(hashlib.sha256(der).hexdigest(), ()):
            return "The client certificate is not mapped to the API key presented"
        return None

    def load(self, db) -> None:  # noqa: ANN001
        policies: dict[int, Policy] = {}
        for row in db.execute(select(ServingClientTls)).scalars():
            policies[row.project_id] = Policy(row.require_client_cert, _cas(row.ca_pem) if row.ca_pem else [])
            self._trust(row.ca_pem)
        for c in db.execute(select(ServingClientCert)).scalars():
            if c.project_id in policies:
                policies[c.project_id].mapped.setdefault(c.fingerprint, set()).add(c.api_key_id)
        self.policies = policies

    def _trust(self, ca_pem: str | None) -> None:
        """The listener asks for a client certificate once any project has a client CA (the handshake accepts
        one from any project's CA; which project's it must be is checked per request, above)."""
        import ssl

        if self.context is not None and ca_pem:
            self.context.load_verify_locations(cadata=ca_pem)
            self.context.verify_mode = ssl.CERT_OPTIONAL


def _cas(pem: str) -> list:
    from cryptography import x509

    try:
        cas = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as e:
        raise BadRequest(f"ca_pem is not a PEM certificate bundle: {e}") from None
    return cas


def _issued_by(der: bytes, cas: list) -> bool:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return False
    now = datetime.datetime.now(datetime.timezone.utc)
    if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
        return False
    for ca in cas:
        try:
            cert.verify_directly_issued_by(ca)
            return True
        except (ValueError, TypeError, InvalidSignature):  # another issuer's name, key type or signature
            continue
    return False


def _out(db: DB, project_id: int) -> ClientTlsOut:
    row = db.get(ServingClientTls, project_id)
    certs = db.execute(select(ServingClientCert, ApiKey.prefix).join(ApiKey, ServingClientCert.api_key_id == ApiKey.id)
                       .where(ServingClientCert.project_id == project_id)
                       .order_by(ServingClientCert.id)).all()
    return ClientTlsOut(require_client_cert=bool(row and row.require_client_cert),
                        ca_pem=row.ca_pem if row else None,
                        certificates=[ClientCertOut(fingerprint=c.fingerprint, subject=c.subject, key_prefix=prefix,
                                                    created_by=c.created_by) for c, prefix in certs])


def get_policy(db: DB, who: Caller, slug: str) -> ClientTlsOut:
    g = require(db, who, slug, Action.read_serving)
    out = _out(db, g.project.id)
    db.commit()
    return out


def set_policy(app, db: DB, who: Caller, slug: str, require_client_cert: bool,  # noqa: ANN001
               ca_pem: str | None) -> ClientTlsOut:
    g = require(db, who, slug, Action.manage_keys, target="serving-tls")
    if ca_pem:
        _cas(ca_pem)
    row = db.get(ServingClientTls, g.project.id)
    bundle = ca_pem if ca_pem is not None else (row.ca_pem if row else None)
    if require_client_cert and not bundle:
        raise BadRequest("require_client_cert needs a client CA bundle (ca_pem)")
    if row is None:
        row = ServingClientTls(project_id=g.project.id, updated_by=who.user)
        db.add(row)
    row.require_client_cert, row.ca_pem, row.updated_by, row.updated_at = require_client_cert, bundle, who.user, utcnow()
    fp = [hashlib.sha256(c.public_bytes(_der())).hexdigest() for c in _cas(bundle)] if bundle else []
    audit.append(db, actor=who.user, action="serving.tls.policy", decision="allow", project=slug, target=slug,
                 detail={"require_client_cert": require_client_cert, "ca_fingerprints": fp})
    db.commit()
    app.state.gateway.client_tls.load(db)
    out = _out(db, g.project.id)
    db.commit()
    return out


def map_cert(app, db: DB, who: Caller, slug: str, certificate_pem: str, key_prefix: str) -> ClientCertOut:  # noqa: ANN001
    from cryptography import x509

    g = require(db, who, slug, Action.manage_keys, target=key_prefix)
    try:
        cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    except ValueError as e:
        raise BadRequest(f"certificate_pem is not a PEM certificate: {e}") from None
    k = db.execute(select(ApiKey).where(ApiKey.project_id == g.project.id, ApiKey.prefix == key_prefix)
                   ).scalar_one_or_none()
    if k is None:
        raise NotFound(f"API key '{key_prefix}' not found")
    fp = hashlib.sha256(cert.public_bytes(_der())).hexdigest()
    subject = cert.subject.rfc4514_string()[:512]
    exists = db.execute(select(ServingClientCert).where(ServingClientCert.project_id == g.project.id,
                                                        ServingClientCert.fingerprint == fp,
                                                        ServingClientCert.api_key_id == k.id)).scalar_one_or_none()
    if exists is None:
        db.add(ServingClientCert(project_id=g.project.id, fingerprint=fp, subject=subject, api_key_id=k.id,
                                 created_by=who.user))
        audit.append(db, actor=who.user, action="serving.tls.map", decision="allow", project=slug, target=fp,
                     detail={"subject": subject, "key_prefix": key_prefix})
    db.commit()
    app.state.gateway.client_tls.load(db)
    db.commit()
    return ClientCertOut(fingerprint=fp, subject=subject, key_prefix=key_prefix, created_by=who.user)


def unmap_cert(app, db: DB, who: Caller, slug: str, fingerprint: str) -> None:  # noqa: ANN001
    g = require(db, who, slug, Action.manage_keys, target=fingerprint)
    rows = db.execute(select(ServingClientCert).where(ServingClientCert.project_id == g.project.id,
                                                      ServingClientCert.fingerprint == fingerprint.lower())
                      ).scalars().all()
    if not rows:
        db.commit()
        raise NotFound(f"No client certificate with fingerprint '{fingerprint}' is mapped in '{slug}'")
    for r in rows:
        db.delete(r)
    audit.append(db, actor=who.user, action="serving.tls.unmap", decision="allow", project=slug,
                 target=fingerprint.lower(), detail=None)
    db.commit()
    app.state.gateway.client_tls.load(db)
    db.commit()


def _der():  # noqa: ANN202
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER
