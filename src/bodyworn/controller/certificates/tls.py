"""The controller's own HTTPS certificate: a self-signed "Default" made at first start."""

from __future__ import annotations

import socket
from pathlib import Path

from bodyworn.store.files import write_file_atomic
from bodyworn.tlsutil import self_signed_certificate


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
    hostname = socket.gethostname()
    dns_names = sorted({"localhost", hostname, *(extra_names or [])})
    made = self_signed_certificate(
        [*dns_names, "127.0.0.1", "::1"], days=3 * 365,
        common_name=hostname[:64] or "localhost", organization="bodyworn Default",
    )
    write_file_atomic(key_path, made.key_pem)
    write_file_atomic(cert_path, made.cert_pem)
    return cert_path, key_path
