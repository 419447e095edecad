"""Build connection files for tests: valid by default, any attribute overridden or omitted."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

OMIT: Any = object()
"""Pass as an override to leave the attribute out of the file."""

HTTPS_URI = "https://cd.example.test:8443/auth/v1.0"
HTTP_URI = "http://cd.example.test:8080/auth/v1.0"


def rsa_private_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """Return an RSA key pair of the given size, made once per test run."""
    return _rsa_private_key(bits)


@functools.cache
def _rsa_private_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def public_key_pem(bits: int = 2048) -> bytes:
    """Return the PEM (SubjectPublicKeyInfo) of rsa_private_key(bits)."""
    return (
        rsa_private_key(bits)
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )


def public_key_b64(bits: int = 2048) -> str:
    """Return the PublicKey value for a connection file: base64 of the PEM."""
    return base64.b64encode(public_key_pem(bits)).decode()


def certificate(common_name: str = "cd.example.test") -> x509.Certificate:
    """Return a self-signed server certificate, made once per name per test run."""
    return _certificate(common_name)


@functools.cache
def _certificate(common_name: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .sign(key, hashes.SHA256())
    )


def certificate_b64(common_name: str = "cd.example.test", *, pem: bool = False) -> str:
    """Return an HTTPSCertificate entry: base64 of the DER (or of the PEM) certificate."""
    encoding = Encoding.PEM if pem else Encoding.DER
    return base64.b64encode(certificate(common_name).public_bytes(encoding)).decode()


def make_connection_file(**overrides: Any) -> dict[str, Any]:
    """Return a valid connection file as a dict, with attributes overridden (OMIT drops one).

    With ``WantEncryption=True`` and no PublicKey/PublicKeyId given, a fresh test key and
    an id are filled in.
    """
    data: dict[str, Any] = {
        "ConnectionFileVersion": "1.0",
        "SiteName": "Test site",
        "ApplicationName": "bodyworn test destination",
        "ApplicationVersion": "1.0.0",
        "ContentDestinationAsNTPServer": False,
        "AuthenticationTokenURI": [HTTPS_URI],
        "HTTPSCertificate": [certificate_b64()],
        "BlobAPIKey": "secret-key",
        "BlobAPIUserName": "bodyworn",
        "ContainerType": "mkv",
        "FullStoreAndReadSupport": False,
        "WantEncryption": False,
    }
    if overrides.get("WantEncryption") is True:
        data["PublicKey"] = public_key_b64()
        data["PublicKeyId"] = "test-key-1"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not OMIT}


def encode(data: object) -> bytes:
    """Serialise a connection file dict to the bytes an upload would carry."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates can only travel as \u escapes
        return json.dumps(data, indent=2).encode("ascii")


def connection_file_bytes(**overrides: Any) -> bytes:
    """Return make_connection_file(**overrides) as uploadable bytes."""
    return encode(make_connection_file(**overrides))
