"""The connection file the embedded CD hands to controllers, and the keys it names.

The private content key and the TLS key stay with the CD; the file carries only the
certificate (base64 of DER) and the public key (base64 of PEM), as the spec's template
asks.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import bodyworn
from bodyworn.tlsutil import self_signed_certificate

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


def generate_tls_certificate(hosts: Sequence[str], days: int = 825) -> PemPair:
    """A self-signed server certificate for `hosts` (names or IPs); controllers pin it."""
    made = self_signed_certificate(hosts, days=days)
    return PemPair(private_pem=made.key_pem, public_pem=made.cert_pem, der=made.cert_der)
