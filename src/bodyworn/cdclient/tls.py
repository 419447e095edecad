"""TLS trust for a content destination: exactly the certificates its connection file names."""

from __future__ import annotations

import ssl
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from bodyworn.cdclient.config import CDConfigError


def certificate_der(cert: bytes) -> bytes:
    """Return one certificate as DER, accepting DER or PEM input; raises CDConfigError."""
    try:
        if cert.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(cert).public_bytes(Encoding.DER)
        return x509.load_der_x509_certificate(cert).public_bytes(Encoding.DER)
    except ValueError as exc:
        raise CDConfigError(f"not an X.509 certificate: {exc}") from exc


def pinned_ssl_context(certificates: Sequence[bytes]) -> ssl.SSLContext:
    """Build a client context that trusts only `certificates` (no system CAs)."""
    if not certificates:
        raise CDConfigError("no certificates to trust")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = True
    # A named leaf or intermediate must count as a trust anchor on its own: the file
    # pins certificates, it does not promise a chain up to a root.
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    ctx.load_verify_locations(cadata=b"".join(certificate_der(c) for c in certificates))
    return ctx
