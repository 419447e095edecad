"""The connection file the embedded CD hands to controllers, and the keys it names.

The private content key and the TLS key stay with the CD; the file carries only the
certificate (base64 of DER) and the public key (base64 of PEM), as the spec's template
asks.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import bodyworn

CONTENT_KEY_BITS = 3072


@dataclass(frozen=True)
class ConnectionSettings:
    """What goes into a connection file."""

    site_name: str
    auth_uris: tuple[str, ...]
    user: str
    key: str = field(repr=False)
    certificates_der: tuple[bytes, ...] = ()
    container_type: Literal["mkv", "mp4"] = "mkv"
    full_store_and_read: bool = False
    public_key_pem: bytes | None = None
    public_key_id: str | None = None
    ntp: bool = False


def connection_file(settings: ConnectionSettings) -> bytes:
    """Render a connection file (JSON, UTF-8) from `settings`."""
    doc: dict[str, object] = {
        "ConnectionFileVersion": "1.0",
        "SiteName": settings.site_name,
        "ApplicationName": "bodyworn destination",
        "ApplicationVersion": bodyworn.__version__,
        "ContentDestinationAsNTPServer": settings.ntp,
        "AuthenticationTokenURI": list(settings.auth_uris),
        "BlobAPIKey": settings.key,
        "BlobAPIUserName": settings.user,
        "ContainerType": settings.container_type,
        "FullStoreAndReadSupport": settings.full_store_and_read,
        "WantEncryption": settings.public_key_pem is not None,
    }
    if settings.certificates_der:
        doc["HTTPSCertificate"] = [
            base64.b64encode(der).decode("ascii") for der in settings.certificates_der
        ]
    if settings.public_key_pem is not None:
        doc["PublicKey"] = base64.b64encode(settings.public_key_pem).decode("ascii")
        doc["PublicKeyId"] = settings.public_key_id or "content-key"
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass(frozen=True)
class PemPair:
    """A private key (PEM, stays with the CD) and its public half (certificate or key)."""

    private_pem: bytes = field(repr=False)
    public_pem: bytes
    der: bytes = b""


def generate_content_keypair(bits: int = CONTENT_KEY_BITS) -> PemPair:
    """A fresh RSA key pair for end-to-end content encryption."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return PemPair(
        private_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        public_pem=key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def generate_tls_certificate(hosts: Sequence[str], days: int = 825) -> PemPair:
    """A self-signed server certificate for `hosts` (names or IPs); controllers pin it."""
    if not hosts:
        raise ValueError("at least one host name or address is needed")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return PemPair(
        private_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        public_pem=cert.public_bytes(serialization.Encoding.PEM),
        der=cert.public_bytes(serialization.Encoding.DER),
    )
