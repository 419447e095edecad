"""`bodyworn assistant`: serve the app on this device and print the link that opens it."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import uvicorn
from rich.console import Console

from bodyworn.assistant.app import AssistantSettings, build_context, create_app
from bodyworn.store.files import write_file_atomic
from bodyworn.tlsutil import self_signed_certificate

SHUTDOWN_GRACE = 3


def is_loopback(host: str) -> bool:
    """Whether `host` only this device can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _certificate(data_dir: Path, host: str) -> tuple[Path, Path]:
    """A self-signed certificate for serving beyond loopback (made once)."""
    folder = data_dir / "tls"
    cert, key = folder / "assistant.crt", folder / "assistant.key"
    if not cert.exists() or not key.exists():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        made = self_signed_certificate([host], common_name="bodyworn assistant")
        write_file_atomic(key, made.key_pem, mode=0o600)
        write_file_atomic(cert, made.cert_pem, mode=0o600)
    return cert, key


def serve(settings: AssistantSettings, console: Console) -> None:
    """Run until Ctrl-C. On loopback plain HTTP (the page and the service are the same
    device, and a loopback origin is a secure context); any other address gets HTTPS."""
    ctx = build_context(settings)
    app = create_app(ctx)
    options: dict[str, object] = {}
    scheme = "http"
    if not is_loopback(settings.host):
        cert, key = _certificate(ctx.store.data_dir, settings.host)
        options = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        scheme = "https"
    base = f"{scheme}://{settings.host}:{settings.port}"
    console.print("Body Worn Assistant", style="bold")
    console.print(f"  Open this link in the device's browser: {ctx.open_url(base)}",
                  markup=False, highlight=False)
    console.print(f"  Cameras are looked for on the air at {settings.air_url}",
                  markup=False, highlight=False)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                            proxy_headers=False, timeout_graceful_shutdown=SHUTDOWN_GRACE,
                            **options)  # type: ignore[arg-type]
    uvicorn.Server(config).run()
