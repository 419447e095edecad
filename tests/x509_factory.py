"""Test certificate authorities and certificates made with `cryptography` (no fixtures on disk)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class Issued:
    """A certificate and its key."""

    cert: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def make_ca(common_name: str = "Test Root CA", *, parent: Issued | None = None,
            days: int = 365) -> Issued:
    """A CA certificate: a self-signed root, or an intermediate signed by `parent`."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    issuer = parent.cert.subject if parent else _name(common_name)
    cert = (
        x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(issuer)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(parent.key if parent else key, hashes.SHA256())
    )
    return Issued(cert, key)


def issue(public_key: CertificatePublicKeyTypes, ca: Issued, *, common_name: str,
          hosts: Sequence[str] = (), not_before: datetime | None = None,
          days: int = 90, server_auth: bool = True) -> x509.Certificate:
    """A leaf certificate for `public_key` signed by `ca`."""
    start = not_before or datetime.now(UTC) - timedelta(hours=1)
    builder = (
        x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca.cert.subject)
        .public_key(public_key).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH if server_auth else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False)
    )
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]),
                                        critical=False)
    return builder.sign(ca.key, hashes.SHA256())


def sign_csr(csr_pem: bytes, ca: Issued, **kwargs: object) -> x509.Certificate:
    """What a CA does with a signing request: a certificate for its key and its subject."""
    csr = x509.load_pem_x509_csr(csr_pem)
    assert csr.is_signature_valid
    cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        hosts = [str(v) for v in sans.get_values_for_type(x509.DNSName)] + \
                [str(v) for v in sans.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        hosts = []
    return issue(csr.public_key(), ca, common_name=str(cn[0].value) if cn else "x",
                 hosts=kwargs.pop("hosts", hosts), **kwargs)  # type: ignore[arg-type]


def server(ca: Issued, hosts: Sequence[str] = ("localhost", "127.0.0.1")) -> Issued:
    """A server certificate and key for loopback, signed by `ca`."""
    key = ec.generate_private_key(ec.SECP256R1())
    return Issued(issue(key.public_key(), ca, common_name=hosts[0], hosts=hosts), key)


def pem(*certs: x509.Certificate) -> bytes:
    """Certificates as one PEM file, in the order given."""
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
