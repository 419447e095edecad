"""Self-signed TLS server certificates: the controller's Default one and the embedded CD's.

Shared by both sides, so it sits low (beside `store` and `evidence`) and imports nothing
of ours.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

# Valid from a little before now, so a peer whose clock lags still accepts it.
NOT_BEFORE_MARGIN = timedelta(hours=1)


@dataclass(frozen=True)
class SelfSigned:
    """A certificate (PEM and DER) and its private key (PEM, PKCS#8, unencrypted)."""

    key_pem: bytes = field(repr=False)
    cert_pem: bytes
    cert_der: bytes


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def san_names(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    """The subject alternative names of host names and IP addresses."""
    return x509.SubjectAlternativeName([_san(h) for h in hosts])


def self_signed_certificate(
    hosts: Sequence[str],
    *,
    days: int = 825,
    common_name: str | None = None,
    organization: str | None = None,
    subject: x509.Name | None = None,
    key: PrivateKey | None = None,
    now: datetime | None = None,
) -> SelfSigned:
    """A server certificate for `hosts` (names or IP addresses), signed by itself.

    The key is a new P-256 one unless given (RSA or EC). The subject is `subject` when
    given, else the common name (the first host unless given) and `organization`.
    """
    if not hosts:
        raise ValueError("at least one host name or address is needed")
    key = key or ec.generate_private_key(ec.SECP256R1())
    if subject is None:
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name or hosts[0])]
        if organization:
            attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        subject = x509.Name(attributes)
    name = subject
    now = now or datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - NOT_BEFORE_MARGIN)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(san_names(hosts), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return SelfSigned(
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        cert_der=cert.public_bytes(serialization.Encoding.DER),
    )
