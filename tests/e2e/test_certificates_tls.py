"""Activating a certificate changes what a real controller process serves, without a restart:
read with real TLS handshakes (Python's ssl), before and after."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
from collections.abc import Callable

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.e2e.conftest import (
    OPS_PASSWORD,
    Controller,
    _wait_until_answering,
    bodyworn_command,
    free_port,
)
from tests.x509_factory import make_ca, pem, sign_csr

pytestmark = pytest.mark.e2e


def served(controller: Controller, server_name: str | None = None) -> x509.Certificate:
    """The certificate a new connection is handed (with or without SNI)."""
    host, port = controller.url.removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=server_name) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def api(controller: Controller) -> tuple[httpx.Client, dict[str, str]]:
    client = httpx.Client(base_url=controller.url, verify=False, timeout=30)
    r = client.post("/api/v1/session", json={"username": "root", "password": OPS_PASSWORD})
    assert r.status_code == 200, r.text
    return client, {"X-CSRF-Token": r.json()["csrf_token"]}


def test_activation_serves_the_new_certificate_on_new_connections(
        set_up_process: Callable[..., Controller]) -> None:
    controller = set_up_process(cloud=False)
    client, csrf = api(controller)
    certs = client.get("/api/v1/certificates").json()
    default = x509.load_pem_x509_certificate(certs[0]["chain_pem"].encode())
    assert served(controller) == default
    # A CA-signed certificate for "localhost", through a signing request made here.
    made = client.post("/api/v1/certificates", headers=csrf, json={
        "name": "web", "common_name": "localhost", "hosts": ["localhost", "127.0.0.1"],
        "key_type": "rsa-2048", "days": 30}).json()
    csr = client.post(f"/api/v1/certificates/{made['id']}/csr", headers=csrf,
                      json={}).json()["csr"].encode()
    root = make_ca("Harbour Root")
    issuing = make_ca("Harbour Issuing", parent=root)
    signed = sign_csr(csr, issuing)
    r = client.post("/api/v1/certificates/install", headers=csrf,
                    files={"certificate": ("localhost.crt", pem(signed, issuing.cert))})
    assert r.status_code == 201, r.text
    installed = r.json()
    # Before activation the Default one is still served, to an old connection and new ones.
    assert served(controller) == default
    r = client.post(f"/api/v1/certificates/{installed['id']}/activate", headers=csrf)
    assert r.status_code == 200 and r.json()["active"]
    for name in (None, "localhost", "other.example"):  # with and without SNI
        assert served(controller, name) == signed, name
    # A client that trusts only the root verifies the chain and the host name.
    trust = ssl.create_default_context(cadata=root.cert_pem.decode())
    port = controller.url.rsplit(":", 1)[1]
    with httpx.Client(verify=trust, timeout=30) as strict:
        assert strict.get(f"https://localhost:{port}/login").status_code == 200
    # The self-signed one next; then back to Default. The process never restarted.
    r = client.post(f"/api/v1/certificates/{made['id']}/activate", headers=csrf)
    assert r.status_code == 200
    got = served(controller)
    assert got.fingerprint(hashes.SHA256()).hex() == made["fingerprint_sha256"]
    client.post(f"/api/v1/certificates/{certs[0]['id']}/activate", headers=csrf)
    assert served(controller) == default
    assert controller.process.poll() is None
    client.close()


def test_the_active_certificate_is_served_after_a_restart(
        set_up_process: Callable[..., Controller]) -> None:
    controller = set_up_process(cloud=False)
    client, csrf = api(controller)
    made = client.post("/api/v1/certificates", headers=csrf, json={
        "name": "web", "common_name": "localhost", "hosts": ["localhost"],
        "key_type": "ecdsa-p256", "days": 30}).json()
    client.post(f"/api/v1/certificates/{made['id']}/activate", headers=csrf)
    client.close()
    os.killpg(controller.process.pid, signal.SIGTERM)
    controller.process.wait(timeout=10)
    port = free_port()
    with controller.log.open("ab") as out:
        process = subprocess.Popen(
            [*bodyworn_command(), "controller", "--data-dir", str(controller.data_dir),
             "--host", "127.0.0.1", "--port", str(port)], stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        restarted = Controller(f"https://127.0.0.1:{port}", controller.data_dir, process,
                               controller.log)
        _wait_until_answering(restarted.url + "/login", process, controller.log)
        got = served(restarted)
        assert got.fingerprint(hashes.SHA256()).hex() == made["fingerprint_sha256"]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
