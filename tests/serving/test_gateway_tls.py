"""TLS at the serving gateway (issue 20 item 2): TLS 1.3 only, no plain path, real TLS clients (httpx and curl)
against a throwaway CA made with `cryptography`."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.serving.test_serving_cli import _mlp


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_ca(folder: Path, name: str = "Test CA"):
    """A throwaway CA: (key, certificate, path of its PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = folder / f"{name.replace(' ', '-')}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def issue(folder: Path, ca, common_name: str, *, server: bool = False) -> tuple[Path, Path]:
    """A certificate from `ca` (for 127.0.0.1 when `server`): (cert PEM path, key PEM path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_key, ca_cert, _ = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
         .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1)))
    if server:
        b = (b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    else:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    cert = b.sign(ca_key, hashes.SHA256())
    cert_path, key_path = folder / f"{common_name}.crt", folder / f"{common_name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


_PKI = Path(__import__("tempfile").mkdtemp(prefix="mlp-tls-"))
_CA = make_ca(_PKI, "Gateway CA")
_SERVER_CERT, _SERVER_KEY = issue(_PKI, _CA, "gateway", server=True)
_TLS_PORT = _port()

pytestmark = pytest.mark.settings(serving_tls_cert=str(_SERVER_CERT), serving_tls_key=str(_SERVER_KEY),
                                  serving_tls_port=_TLS_PORT)


def test_tls_13_only_no_plain_path_and_predictions_as_without_tls(backend, project, deployed, xy, tmp_path):
    endpoint, model = deployed
    x, _ = xy
    rows = x.head(5)
    body = {"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}}
    expected = model.predict(rows).tolist()  # what the plain path answers (tests/serving/test_endpoints.py)
    path = endpoint.base.split("/serve/", 1)[1]
    tls_base = f"https://127.0.0.1:{_TLS_PORT}/serve/{path}"
    auth = {"Authorization": f"Bearer {endpoint.key}"}

    # The backend's plain port refuses /serve/ (403, naming the TLS URL); the API there still answers.
    plain = endpoint.client().post("/invocations", json=body)
    assert plain.status_code == 403, plain.text
    assert plain.json()["error"]["code"] == "tls_required" and tls_base.rsplit("/", 2)[0] in plain.json()["error"]["message"]
    assert backend.client("sam").get(f"/projects/{project}").status_code == 200

    # Plain HTTP to the TLS port: no HTTP answer at all (the handshake fails).
    with pytest.raises(httpx.HTTPError):
        httpx.post(f"http://127.0.0.1:{_TLS_PORT}/serve/{path}/invocations", json=body, headers=auth, timeout=10)

    # A client held to TLS 1.2 at most is refused in the handshake.
    tls12 = ssl.create_default_context(cafile=str(_CA[2]))
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{tls_base}/invocations", json=body, headers=auth, verify=tls12, timeout=10)

    # TLS 1.3 with httpx: the same predictions as the plain path gives without TLS.
    with httpx.Client(verify=str(_CA[2]), headers=auth, timeout=30) as c:
        r = c.post(f"{tls_base}/invocations", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["predictions"] == expected
        assert c.get(f"https://127.0.0.1:{_TLS_PORT}/api/health").status_code == 404  # gateway only

    # ... and with curl.
    out = subprocess.run(["curl", "-sS", "--tlsv1.3", "--cacert", str(_CA[2]), "-H", f"Authorization: Bearer {endpoint.key}",
                          "-H", "Content-Type: application/json", "-d", json.dumps(body),
                          f"{tls_base}/invocations"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["predictions"] == expected

    # Mutual TLS for this project: a client CA, a certificate mapped to the key; a viewer may not set it.
    client_ca = make_ca(tmp_path, "Client CA")
    crm_cert, crm_key = issue(tmp_path, client_ca, "crm-system")
    rogue_cert, rogue_key = issue(tmp_path, make_ca(tmp_path, "Rogue CA"), "rogue")
    lead = backend.client("lena")
    policy = {"require_client_cert": True, "ca_pem": client_ca[2].read_text()}
    assert backend.client("vic").put(f"/projects/{project}/serving/tls", json=policy).status_code == 403
    assert lead.put(f"/projects/{project}/serving/tls", json={"require_client_cert": True}).status_code == 422
    prefix = endpoint.key.split("_")[1]
    denied = _mlp(backend, "serving", "tls", "-P", project, "map", str(crm_cert), "--key", prefix)  # scientist
    assert denied.returncode != 0 and "serving.keys" in denied.stderr
    for args in (("set", "--require", "--ca", str(client_ca[2])), ("map", str(crm_cert), "--key", prefix)):
        done = _mlp(backend, "serving", "tls", "-P", project, *args, user="lena")
        assert done.returncode == 0, done.stderr
    shown = _mlp(backend, "serving", "tls", "-P", project, "show", user="vic")
    assert "client certificate required: yes" in shown.stdout and f"key {prefix}  CN=crm-system" in shown.stdout
    other = lead.post(f"/projects/{project}/api-keys", json={"name": "other"}).json()["key"]

    def with_cert(cert: Path | None, key: Path | None, api_key: str = endpoint.key) -> httpx.Response:
        ctx = ssl.create_default_context(cafile=str(_CA[2]))
        if cert:
            ctx.load_cert_chain(str(cert), str(key))
        with httpx.Client(verify=ctx, timeout=30) as c:
            return c.post(f"{tls_base}/invocations", json=body, headers={"Authorization": f"Bearer {api_key}"})

    refused = with_cert(None, None)  # no certificate: refused, whatever the key
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "client_certificate_required", refused.text
    ok = with_cert(crm_cert, crm_key)
    assert ok.status_code == 200, ok.text
    assert ok.json()["predictions"] == expected
    unmapped = with_cert(crm_cert, crm_key, other)  # a good certificate, but not this key's
    assert unmapped.status_code == 403 and "not mapped" in unmapped.json()["error"]["message"]
    try:  # another CA's certificate: refused in the handshake (no CA of any project issued it), or by the gateway
        assert with_cert(rogue_cert, rogue_key).status_code == 403
    except httpx.HTTPError:
        pass
    out = subprocess.run(["curl", "-sS", "--tlsv1.3", "--cacert", str(_CA[2]), "--cert", str(crm_cert), "--key",
                          str(crm_key), "-H", f"Authorization: Bearer {endpoint.key}", "-H",
                          "Content-Type: application/json", "-d", json.dumps(body), f"{tls_base}/invocations"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["predictions"] == expected
    actions = [e["action"] for e in lead.get(f"/projects/{project}/audit").json()["items"]]
    assert "serving.tls.policy" in actions and "serving.tls.map" in actions


def test_client_certificate_decision_without_a_platform(tmp_path):
    """serving/client_tls.py's per-request decision on its own (no backend: cheap): a project that requires a
    certificate refuses a request that did not come over TLS, one without a certificate, another CA's, an expired
    one, and one mapped to another key; a project without the requirement passes all."""
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    from jupyter_mlp_backend.serving.client_tls import ClientTls, Policy

    ca, other = make_ca(tmp_path, "Unit CA"), make_ca(tmp_path, "Other CA")
    der = lambda p: x509.load_pem_x509_certificate(p.read_bytes()).public_bytes(serialization.Encoding.DER)  # noqa: E731
    good, rogue = der(issue(tmp_path, ca, "good")[0]), der(issue(tmp_path, other, "rogue")[0])
    c = x509.load_der_x509_certificate(good)
    old = (x509.CertificateBuilder().subject_name(c.subject).issuer_name(ca[1].subject).public_key(c.public_key())
           .serial_number(1).not_valid_before(c.not_valid_before_utc - datetime.timedelta(days=30))
           .not_valid_after(c.not_valid_before_utc - datetime.timedelta(days=1)).sign(ca[0], hashes.SHA256())
           ).public_bytes(serialization.Encoding.DER)
    t = ClientTls()
    t.policies[1] = Policy(True, [ca[1]], {hashlib.sha256(d).hexdigest(): {7} for d in (good, old)})
    t.policies[2] = Policy(False, [])
    assert t.refuse(1, 7, good, True) is None
    assert "TLS listener" in t.refuse(1, 7, good, False)
    assert "none was presented" in t.refuse(1, 7, None, True)
    assert "not issued" in t.refuse(1, 7, rogue, True)
    assert "not valid now" in t.refuse(1, 7, old, True)
    assert "not mapped" in t.refuse(1, 8, good, True)
    assert t.refuse(2, 7, None, False) is None and t.refuse(3, 7, None, False) is None
