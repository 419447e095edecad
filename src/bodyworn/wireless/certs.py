"""Certificates of the wireless link: the system CA, camera certificates, and pinning.

The system identity key (Ed25519, made at setup) is the wireless link's certificate
authority: the controller signs each camera's wireless key at docking, and the app,
which took the identity key's fingerprint from the QR code, trusts exactly the cameras
that key certified. The CA certificate itself can be made again at any time from the
identity key (the app pins the key, not the certificate); a camera hands it out to an app
that has only the fingerprint.
"""

from __future__ import annotations

import hashlib
import ssl
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bodyworn.wireless.wire import camera_host

CA_VALIDITY = timedelta(days=20 * 365)
CAMERA_VALIDITY = timedelta(days=395)
# Valid from a day before now, so a phone whose clock lags still accepts the camera.
NOT_BEFORE_MARGIN = timedelta(days=1)


class UntrustedCamera(ValueError):
    """A certificate authority that is not the one the pairing names."""


def _identity_key(private_pem: bytes) -> ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(private_pem, password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError("the system identity key is Ed25519")
    return key


def _ca_name(system_id: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bodyworn"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"bodyworn system {system_id}"[:64]),
    ])


def system_ca(identity_private_pem: bytes, system_id: str, now: datetime) -> bytes:
    """The system's CA certificate (PEM), self-signed with the identity key."""
    key = _identity_key(identity_private_pem)
    name = _ca_name(system_id)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(1)
        .not_valid_before(now - NOT_BEFORE_MARGIN)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, None)
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def camera_certificate(identity_private_pem: bytes, system_id: str, camera_public_pem: str,
                       serial: str, now: datetime) -> bytes:
    """A camera's wireless server certificate (PEM) for its own key, issued by the system."""
    issuer_key = _identity_key(identity_private_pem)
    camera_key = serialization.load_pem_public_key(camera_public_pem.encode("ascii"))
    if not isinstance(camera_key, ec.EllipticCurvePublicKey):
        raise ValueError("a camera's wireless key is an elliptic curve key")
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, serial[:64])]))
        .issuer_name(_ca_name(system_id))
        .public_key(camera_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - NOT_BEFORE_MARGIN)
        .not_valid_after(now + CAMERA_VALIDITY)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(camera_host(serial))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), critical=False)
        .sign(issuer_key, None)
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def camera_keypair() -> tuple[bytes, str]:
    """A camera's wireless key pair (P-256): (private PKCS8 PEM, public SPKI PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public.decode("ascii")


def key_fingerprint(cert_pem: bytes) -> str:
    """Hex SHA-256 of a certificate's DER SubjectPublicKeyInfo (as the QR code carries it)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    der = cert.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def pinned_ca(ca_pem: bytes, fingerprint: str) -> bytes:
    """`ca_pem` when it is a CA certificate for the key the pairing names; else UntrustedCamera.

    The certificate may come from anyone (a camera hands it out): only its key's
    fingerprint decides, and then only as the issuer of the cameras the app will trust.
    """
    try:
        cert = x509.load_pem_x509_certificate(ca_pem)
    except ValueError as exc:
        raise UntrustedCamera("not a certificate") from exc
    if key_fingerprint(ca_pem) != fingerprint.lower():
        raise UntrustedCamera("the camera belongs to another system")
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound as exc:
        raise UntrustedCamera("not a certificate authority") from exc
    if not constraints.ca:
        raise UntrustedCamera("not a certificate authority")
    return cert.public_bytes(serialization.Encoding.PEM)


def client_context(ca_pem: bytes) -> ssl.SSLContext:
    """A TLS client context that trusts only cameras the pinned system CA issued."""
    context = ssl.create_default_context(cadata=ca_pem.decode("ascii"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def fingerprint_matches(cert_pem: bytes, fingerprint: str) -> bool:
    """Whether a certificate's key has the (hex SHA-256 SPKI) fingerprint."""
    return key_fingerprint(cert_pem) == fingerprint.lower()


def verify_issued(camera_pem: bytes, ca_pem: bytes) -> bool:
    """Whether the camera certificate was signed by the CA's key (a check for tests)."""
    camera = x509.load_pem_x509_certificate(camera_pem)
    ca = x509.load_pem_x509_certificate(ca_pem)
    try:
        camera.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
