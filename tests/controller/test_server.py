"""The controller process: HTTPS with its Default certificate by default, HTTP only when asked."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from fastapi.testclient import TestClient


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def controller(data_dir: Path, *extra: str) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bodyworn.cli", "controller", "--data-dir", str(data_dir),
         "--port", str(port), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, "controller exited"
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_https_by_default_with_the_default_certificate(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with controller(data) as port:
        served = ssl.get_server_certificate(("127.0.0.1", port)).encode()
        cert = tmp_path / "served.crt"
        cert.write_bytes(served)
        # The certificate is self-signed for this host: trusting exactly it verifies.
        trust = ssl.create_default_context(cafile=str(cert))
        r = httpx.get(f"https://127.0.0.1:{port}/", verify=trust)
        assert r.status_code == 303 and r.headers["location"] == "/setup"
        assert "max-age" in httpx.get(f"https://127.0.0.1:{port}/setup", verify=trust,
                                      follow_redirects=True).headers["strict-transport-security"]
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/")
    parsed = x509.load_pem_x509_certificate(served)
    names = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    # Its private key is sealed in the database: no key file anywhere in the data dir.
    assert not [p for p in data.rglob("*") if p.suffix in (".key", ".pem", ".crt")
                and p.name != "secrets.key"]
    from bodyworn.controller.app import build_context
    from bodyworn.controller.certificates import service
    from bodyworn.controller.settings import ControllerSettings

    ctx = build_context(ControllerSettings(data_dir=data))
    try:
        with ctx.factory() as session:
            (default,) = service.certificates(session)
            assert default.active and default.name == "Default"
            assert default.chain_pem.encode() == served.replace(b"\r\n", b"\n")
    finally:
        ctx.engine.dispose()


def test_an_older_default_certificate_kept_as_files_is_taken_over(tmp_path: Path) -> None:
    from bodyworn.controller.app import build_context
    from bodyworn.controller.certificates import service
    from bodyworn.controller.settings import ControllerSettings
    from bodyworn.tlsutil import self_signed_certificate

    data = tmp_path / "data"
    (data / "tls").mkdir(parents=True, mode=0o700)
    data.chmod(0o700)
    old = self_signed_certificate(["localhost"])
    (data / "tls" / "default.crt").write_bytes(old.cert_pem)
    (data / "tls" / "default.key").write_bytes(old.key_pem)
    (data / "tls" / "default.key").chmod(0o600)
    ctx = build_context(ControllerSettings(data_dir=data))
    try:
        with ctx.factory() as session:
            (default,) = service.certificates(session)
            assert default.chain_pem.encode() == old.cert_pem
            assert service.private_key_pem(session, default) == old.key_pem
    finally:
        ctx.engine.dispose()
    assert not (data / "tls" / "default.key").exists()


def test_plain_http_only_when_asked(tmp_path: Path) -> None:
    with controller(tmp_path / "data", "--insecure-http") as port:
        r = httpx.get(f"http://127.0.0.1:{port}/")
        assert r.status_code == 303 and r.headers["location"] == "/setup"
    assert not [p for p in (tmp_path / "data").rglob("*") if p.suffix == ".crt"]


def test_openapi_is_served_to_logged_in_users(ready: TestClient) -> None:
    assert ready.get("/api/v1/openapi.json").status_code == 401
    from tests.controller.conftest import login

    login(ready)
    spec = ready.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/session", "/api/v1/system", "/api/v1/audit"} <= set(spec["paths"])
