"""The controller's own HTTPS certificate: a self-signed "Default" made at first start."""

from __future__ import annotations

import ipaddress
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bodyworn.store.files import write_file_atomic


def default_certificate_paths(data_dir: Path) -> tuple[Path, Path]:
    """Where the Default certificate and its key live in a data directory."""
    tls = data_dir / "tls"
    return tls / "default.crt", tls / "default.key"


def ensure_default_certificate(
    data_dir: Path, extra_names: list[str] | None = None
) -> tuple[Path, Path]:
    """Create the self-signed Default certificate unless it exists; return (cert, key) paths."""
    cert_path, key_path = default_certificate_paths(data_dir)
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    cert_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    hostname = socket.gethostname()
    dns_names = sorted({"localhost", hostname, *(extra_names or [])})
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "::1")]
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, hostname[:64] or "localhost"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bodyworn Default"),
    ])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3 * 365))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    write_file_atomic(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    write_file_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
