"""Serving one controller with uvicorn: HTTPS with the active certificate unless told not to."""

from __future__ import annotations

import os

import uvicorn
from rich.console import Console

from bodyworn.controller.app import build_context, create_app, default_ntp
from bodyworn.controller.certificates.service import active_pair
from bodyworn.controller.certificates.serving import CertificateSwitch
from bodyworn.controller.settings import ControllerSettings
from bodyworn.controller.system.service import settings_if_set_up
from bodyworn.logs import LOG_DIR, log_to_file


def serve(
    settings: ControllerSettings,
    *,
    explicit_host: bool = True,
    explicit_port: bool = True,
    console: Console | None = None,
) -> None:
    """Run until interrupted. Address and port come from the flags, else from setup."""
    # Whatever this process creates (a library's temporary file included) is its own only.
    os.umask(0o077)
    ctx = build_context(settings, ntp=default_ntp())
    log_to_file(settings.data_dir / LOG_DIR, settings.log_file_bytes, settings.log_file_backups)
    host, port = settings.host, settings.port
    if ctx.set_up:
        with ctx.factory() as session:
            row = settings_if_set_up(session)
            if row is not None:
                host = host if explicit_host else row.listen_host
                port = port if explicit_port else row.listen_port
    app = create_app(ctx)
    ssl: dict[str, object] = {}
    if not settings.insecure_http:
        with ctx.factory() as session:
            switch = CertificateSwitch(active_pair(session))
        app.state.tls = switch  # Settings → Certificates switches it on activation
        ssl = {"ssl_context_factory": switch.uvicorn_factory}
    scheme = "http" if settings.insecure_http else "https"
    if console is not None:
        state = "ready" if ctx.set_up else "not set up yet: open it to run the setup wizard"
        console.print(f"Controller on {scheme}://{host}:{port}/ ({state})", markup=False)
    # A browser holding keep-alive connections must not keep the controller from stopping.
    # log_config=None: uvicorn's loggers stay as logs.py set them (JSON lines on stderr and
    # in the log file) instead of getting handlers of their own that bypass the file.
    uvicorn.run(app, host=host, port=port, log_level="warning", log_config=None,
                proxy_headers=False, timeout_graceful_shutdown=10, **ssl)  # type: ignore[arg-type]
