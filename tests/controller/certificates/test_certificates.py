"""Settings → Certificates through the service, the REST API and the page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bodyworn.controller.certificates import service
from bodyworn.controller.certificates.models import CertificateRow
from bodyworn.controller.context import ControllerContext
from tests.controller.conftest import login
from tests.x509_factory import issue, make_ca, pem, sign_csr

SUBJECT = {"common_name": "manager.example.org", "organization": "North precinct",
           "country": "SE", "hosts": ["manager.example.org", "10.0.0.5"]}


def _count(ctx: ControllerContext) -> int:
    with ctx.factory() as session:
        return session.scalar(select(func.count()).select_from(CertificateRow)) or 0


def _create(client: TestClient, csrf: str, name: str = "web", key_type: str = "ecdsa-p256",
            days: int = 365) -> dict:
    r = client.post("/api/v1/certificates", json={**SUBJECT, "name": name,
                                                  "key_type": key_type, "days": days},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    return r.json()


def _csr(client: TestClient, csrf: str, cert_id: int) -> bytes:
    r = client.post(f"/api/v1/certificates/{cert_id}/csr", json={},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    return r.json()["csr"].encode()


def _install(client: TestClient, csrf: str, filename: str, data: bytes):
    return client.post("/api/v1/certificates/install", headers={"X-CSRF-Token": csrf},
                       files={"certificate": (filename, data, "application/x-x509-ca-cert")})


def test_default_is_listed_active_and_cannot_be_deleted(
        logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    (default,) = client.get("/api/v1/certificates").json()
    assert default["name"] == "Default" and default["active"] and default["origin"] == "default"
    assert "PRIVATE" not in str(default)
    r = client.delete(f"/api/v1/certificates/{default['id']}", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409


@pytest.mark.parametrize(("key_type", "check"), [
    ("rsa-2048", lambda k: isinstance(k, rsa.RSAPublicKey) and k.key_size == 2048),
    ("rsa-3072", lambda k: isinstance(k, rsa.RSAPublicKey) and k.key_size == 3072),
    ("ecdsa-p256", lambda k: isinstance(k, ec.EllipticCurvePublicKey)
     and k.curve.name == "secp256r1"),
])
def test_self_signed_with_each_key_type(logged_in: tuple[TestClient, str], key_type: str,
                                        check: object) -> None:
    client, csrf = logged_in
    made = _create(client, csrf, key_type=key_type, days=30)
    cert = x509.load_pem_x509_certificate(made["chain_pem"].encode())
    assert check(cert.public_key())  # type: ignore[operator]
    assert cert.subject.rfc4514_string() == \
        "CN=manager.example.org,O=North precinct,C=SE"
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days in (29, 30)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["manager.example.org"]
    assert not made["active"] and made["key_type"].startswith(("RSA", "ECDSA"))


def test_create_refuses_bad_values(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    _create(client, csrf, name="web")
    r = client.post("/api/v1/certificates", json={**SUBJECT, "name": "WEB", "country": "S1"},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["detail"]}
    assert fields == {"name", "country"}


def test_csr_then_install_the_signed_certificate_with_its_chain(
        logged_in: tuple[TestClient, str], ctx: ControllerContext) -> None:
    client, csrf = logged_in
    made = _create(client, csrf, name="web")
    csr_pem = _csr(client, csrf, made["id"])
    csr = x509.load_pem_x509_csr(csr_pem)
    assert csr.is_signature_valid and csr.subject.rfc4514_string().startswith("CN=manager")
    root = make_ca("Precinct Root")
    intermediate = make_ca("Precinct Issuing CA", parent=root)
    signed = sign_csr(csr_pem, intermediate)
    r = _install(client, csrf, "manager.example.org.crt", pem(signed, intermediate.cert))
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["name"] == "manager.example.org" and got["origin"] == "installed"
    assert got["issuer"] == "CN=Precinct Issuing CA" and not got["active"]
    assert got["chain_pem"].count("BEGIN CERTIFICATE") == 2
    # The same name again is refused, even for another good certificate.
    again = sign_csr(csr_pem, intermediate)
    r = _install(client, csrf, "Manager.Example.org.crt", pem(again))
    assert r.status_code == 422 and "is taken" in r.json()["detail"]
    r = client.post(f"/api/v1/certificates/{got['id']}/activate", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["active"]
    listed = {c["name"]: c["active"] for c in client.get("/api/v1/certificates").json()}
    assert listed == {"Default": False, "web": False, "manager.example.org": True}
    r = client.delete(f"/api/v1/certificates/{got['id']}", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409  # active
    assert client.delete(f"/api/v1/certificates/{made['id']}",
                         headers={"X-CSRF-Token": csrf}).status_code == 204
    # The installed certificate keeps its own copy of the key.
    with ctx.factory() as session:
        row = service.get(session, got["id"])
        assert service.private_key_pem(session, row).startswith(b"-----BEGIN PRIVATE KEY")


def test_a_signing_request_for_default(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    (default,) = client.get("/api/v1/certificates").json()
    r = client.post(f"/api/v1/certificates/{default['id']}/csr",
                    json={"subject": {**SUBJECT}}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["filename"] == "Default.csr"
    csr = x509.load_pem_x509_csr(r.json()["csr"].encode())
    served = x509.load_pem_x509_certificate(default["chain_pem"].encode())
    assert csr.public_key() == served.public_key()
    ca = make_ca()
    r = _install(client, csrf, "default-signed.crt", pem(sign_csr(r.json()["csr"].encode(), ca)))
    assert r.status_code == 201 and r.json()["name"] == "default-signed"


def _refusal(client: TestClient, csrf: str, ctx: ControllerContext, filename: str,
             data: bytes) -> str:
    before = _count(ctx)
    r = _install(client, csrf, filename, data)
    assert r.status_code == 422, r.text
    assert _count(ctx) == before  # nothing stored
    return str(r.json()["detail"])


def test_install_refuses_with_the_reason_and_stores_nothing(
        logged_in: tuple[TestClient, str], ctx: ControllerContext) -> None:
    client, csrf = logged_in
    made = _create(client, csrf, name="web")
    csr_pem = _csr(client, csrf, made["id"])
    ca = make_ca()
    other_ca = make_ca("Someone else")
    stranger = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    csr_key = x509.load_pem_x509_csr(csr_pem).public_key()
    cases = {
        "a key we do not hold": (
            pem(issue(stranger.public_key(), ca, common_name="x")), "does not match"),
        "expired": (pem(issue(csr_key, ca, common_name="x",
                              not_before=now - timedelta(days=100), days=10)), "expired on"),
        "not yet valid": (pem(issue(csr_key, ca, common_name="x",
                                    not_before=now + timedelta(days=2))), "not valid until"),
        "a broken chain": (pem(sign_csr(csr_pem, ca), other_ca.cert), "chain is not complete"),
        "not for servers": (pem(issue(csr_key, ca, common_name="x", server_auth=False)),
                            "not for web servers"),
        "garbage": (b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
                    "not a certificate"),
        "a private key": (pem(sign_csr(csr_pem, ca)) + b"-----BEGIN PRIVATE KEY-----\n",
                          "holds a private key"),
    }
    for what, (data, reason) in cases.items():
        assert reason in _refusal(client, csrf, ctx, "new.crt", data), what
    # An intermediate's certificate expired: the chain is out of date.
    old_intermediate = make_ca("Old issuing", parent=ca, days=1)
    signed = sign_csr(csr_pem, old_intermediate)
    ctx.clock.advance(timedelta(days=2))  # type: ignore[attr-defined]
    csrf = login(client)
    assert "expired on" in _refusal(client, csrf, ctx, "new.crt",
                                    pem(signed, old_intermediate.cert))


def test_the_page_creates_shows_a_csr_installs_activates_and_deletes(
        logged_in: tuple[TestClient, str], ctx: ControllerContext) -> None:
    client, csrf = logged_in
    page = client.get("/settings/certificates")
    assert page.status_code == 200 and "Default" in page.text and "Active" in page.text
    r = client.post("/settings/certificates", data={
        "csrf_token": csrf, "name": "web", "common_name": "manager.example.org",
        "hosts": "manager.example.org 10.0.0.5", "key_type": "rsa-2048", "days": "90"})
    assert r.status_code == 200 and "Created web." in r.text
    with ctx.factory() as session:
        web = session.scalars(select(CertificateRow).where(CertificateRow.name == "web")).one()
        web_id = web.id
    form = client.get(f"/settings/certificates/{web_id}/csr")
    assert 'value="manager.example.org"' in form.text
    r = client.post(f"/settings/certificates/{web_id}/csr", data={
        "csrf_token": csrf, "common_name": "manager.example.org", "hosts": "manager.example.org"})
    shown = re.search(r'<pre class="pem" id="csr-pem">(.*?)</pre>', r.text, re.S)
    assert shown and "BEGIN CERTIFICATE REQUEST" in shown.group(1)
    r = client.post(f"/settings/certificates/{web_id}/csr", data={
        "csrf_token": csrf, "common_name": "manager.example.org",
        "hosts": "manager.example.org", "download": "1"})
    assert r.headers["content-disposition"] == 'attachment; filename="web.csr"'
    ca = make_ca()
    signed = pem(sign_csr(r.content, ca))
    r = client.post("/settings/certificates/install", data={"csrf_token": csrf},
                    files={"certificate": ("signed-web.crt", signed, "application/octet-stream")})
    assert r.status_code == 200 and "Installed signed-web." in r.text
    r = client.post("/settings/certificates/install", data={"csrf_token": csrf},
                    files={"certificate": ("again.crt", signed, "application/octet-stream")})
    assert r.status_code == 422 and "installed already, as &#39;signed-web&#39;" in r.text
    r = client.post(f"/settings/certificates/{web_id}/activate", data={"csrf_token": csrf})
    assert r.status_code == 200 and "New connections get this certificate." in r.text
    r = client.post(f"/settings/certificates/{web_id}/delete", data={"csrf_token": csrf})
    assert r.status_code == 409 and "cannot be deleted" in r.text


@pytest.mark.parametrize("days", ["\u0669\u0660", "9" * 5000, "-1", "90.5"])
def test_the_page_takes_days_as_plain_digits_in_range(logged_in: tuple[TestClient, str],
                                                      ctx: ControllerContext,
                                                      days: str) -> None:
    """Days arrive as form text: only ASCII digits in range count (int() would take the
    Arabic-Indic "٩٠" as 90, and thousands of digits make it raise)."""
    client, csrf = logged_in
    r = client.post("/settings/certificates", data={
        "csrf_token": csrf, "name": "web", "common_name": "manager.example.org",
        "hosts": "manager.example.org", "key_type": "ecdsa-p256", "days": days})
    assert r.status_code == 400 and f"from 1 to {service.DAYS_MAX} days" in r.text
    assert _count(ctx) == 1
