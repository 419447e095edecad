"""Running the embedded CD: what `bodyworn destination --data-dir D --port P [--https]` does."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from bodyworn.destination.config import DestinationConfig, build_site, init_destination
from bodyworn.destination.swift import DEFAULT_MAX_OBJECT_SIZE, CDMode, FaultRule
from bodyworn.store.private import secure_data_dir

# Only compared against, never bound to here.
WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # noqa: S104


def certificate_hosts(host: str) -> list[str]:
    """Names and addresses the TLS certificate should cover for a bind address."""
    if host in WILDCARD_HOSTS:
        return ["localhost", "127.0.0.1", socket.gethostname()]
    return [host]


def prepare(
    data_dir: Path, *, host: str, https: bool, encryption: bool, site_name: str
) -> DestinationConfig:
    """Set up (first run) or load the CD; refuses a data dir others can change (UnsafeDataDir)
    or a request it cannot meet; makes everything in it private (0700 folders, 0600 files)."""
    secure_data_dir(data_dir)
    config = init_destination(
        data_dir,
        site_name=site_name,
        https_hosts=certificate_hosts(host) if https else (),
        encryption=encryption,
    )
    # Settings are fixed at first run: silently serving plain HTTP when HTTPS was asked
    # for (or dropping encryption) would be worse than a clear error.
    if https and not config.https:
        raise ValueError(f"{data_dir} was set up without HTTPS; use a new data directory")
    if encryption and config.content_key_id is None:
        raise ValueError(f"{data_dir} was set up without encryption; use a new data directory")
    return config


async def make_server(
    data_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    https: bool = False,
    encryption: bool = False,
    site_name: str = "bodyworn",
    faults: Sequence[FaultRule] = (),
    log_level: str = "info",
    mode: CDMode = CDMode.SWIFT,
    max_object_size: int = DEFAULT_MAX_OBJECT_SIZE,
) -> uvicorn.Server:
    """Build (not start) the uvicorn server of the embedded CD (Swift subset and browser)."""
    config = prepare(data_dir, host=host, https=https, encryption=encryption, site_name=site_name)
    site = await build_site(config, data_dir, faults=faults, mode=mode,
                            max_object_size=max_object_size)
    cert = data_dir / config.tls_cert if config.tls_cert else None
    key = data_dir / config.tls_key if config.tls_key else None
    return uvicorn.Server(
        uvicorn.Config(
            site.app,
            host=host,
            port=port,
            lifespan="off",
            log_level=log_level,
            ssl_certfile=cert,
            ssl_keyfile=key,
            # Open browser or client connections must not keep the CD from stopping.
            timeout_graceful_shutdown=5,
        )
    )


async def serve(
    data_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    https: bool = False,
    encryption: bool = False,
    site_name: str = "bodyworn",
    sockets: Sequence[socket.socket] | None = None,
    faults: Sequence[FaultRule] = (),
    mode: CDMode = CDMode.SWIFT,
    max_object_size: int = DEFAULT_MAX_OBJECT_SIZE,
) -> None:
    """Run the embedded CD until stopped (Ctrl-C or SIGTERM)."""
    # Whatever this process creates (PyAV's output included) is its own only.
    os.umask(0o077)
    server = await make_server(
        data_dir,
        host=host,
        port=port,
        https=https,
        encryption=encryption,
        site_name=site_name,
        faults=faults,
        mode=mode,
        max_object_size=max_object_size,
    )
    await server.serve(sockets=list(sockets) if sockets else None)
