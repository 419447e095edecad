"""The embedded CD's own settings and secrets, kept in its data directory.

`init_destination` creates them once (login, optional TLS certificate, optional content
key pair) and is idempotent; `build_app` turns them into the running Swift subset with
its capabilities and categories published; `build_site` adds the evidence browser under
`/browser/`; `connection_file_for` renders what a controller needs. Secrets are files
readable by the owner only.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from starlette.applications import Starlette
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from bodyworn import webui
from bodyworn.cdclient.capabilities import (
    DEFAULT_CATEGORIES,
    KNOWN_CAPABILITIES,
    READ_CATEGORIES,
    STORE_BOOKMARKS,
    STORE_GNSS_TRACK,
    STORE_READ_AUDIT_ANCHOR,
    STORE_READ_SYSTEM_ID,
    STORE_REJECTED_CONTENT,
    STORE_SIGNED_VIDEO,
    STORE_USER_ID_KEY,
)
from bodyworn.destination.browser import BASE, EvidenceBrowser
from bodyworn.destination.connection import (
    ConnectionSettings,
    connection_file,
    generate_content_keypair,
    generate_tls_certificate,
)
from bodyworn.destination.publish import publish_capabilities, publish_categories
from bodyworn.destination.recordings import EvidenceReader
from bodyworn.destination.store import ObjectStore
from bodyworn.destination.swift import (
    DEFAULT_MAX_OBJECT_SIZE,
    CDMode,
    FaultRule,
    SwiftAccount,
    SwiftApp,
)
from bodyworn.domain.clock import Clock
from bodyworn.evidence.crypto import load_private_key
from bodyworn.store.files import make_dirs_durable, write_file_atomic

CONFIG_FILE = "destination.json"
# Everything this CD implements. StoreSignedVideo: it stores the cameras' signature
# objects and its evidence browser checks them; StoreReadAuditAnchor is ours, not the
# spec's (docs/integrity.md).
DEFAULT_CAPABILITIES: dict[str, list[str]] = {
    "Read": [READ_CATEGORIES],
    "Store": [STORE_USER_ID_KEY, STORE_BOOKMARKS, STORE_GNSS_TRACK, STORE_REJECTED_CONTENT,
              STORE_SIGNED_VIDEO],
    "StoreAndRead": [STORE_READ_SYSTEM_ID, STORE_READ_AUDIT_ANCHOR],
}


@dataclass(frozen=True)
class DestinationConfig:
    """Settings of one embedded CD (paths relative to its data directory)."""

    site_name: str
    account: str
    user: str
    key: str = field(repr=False)
    container_type: Literal["mkv", "mp4"] = "mkv"
    capabilities: dict[str, list[str]] = field(default_factory=lambda: dict(DEFAULT_CAPABILITIES))
    tls_hosts: tuple[str, ...] = ()
    tls_cert: str | None = None
    tls_key: str | None = None
    content_public_key: str | None = None
    content_private_key: str | None = None
    content_key_id: str | None = None

    @property
    def https(self) -> bool:
        """True when the CD serves HTTPS with its own certificate."""
        return self.tls_cert is not None


def _write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    # Whole, fsynced and named durably: a power cut must not leave a CD without its keys.
    make_dirs_durable(path.parent)
    write_file_atomic(path, data, mode)


def load_destination(data_dir: Path) -> DestinationConfig:
    """Read the settings; raises FileNotFoundError before `init_destination` ran."""
    doc: dict[str, Any] = json.loads((data_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    doc["tls_hosts"] = tuple(doc.get("tls_hosts", ()))
    return DestinationConfig(**doc)


def init_destination(
    data_dir: Path,
    *,
    site_name: str = "bodyworn",
    https_hosts: Sequence[str] = (),
    encryption: bool = False,
) -> DestinationConfig:
    """Create the settings and secrets once; later calls return what exists."""
    try:
        return load_destination(data_dir)
    except FileNotFoundError:
        pass
    make_dirs_durable(data_dir)
    extra: dict[str, Any] = {}
    if https_hosts:
        tls = generate_tls_certificate(list(https_hosts))
        _write_private(data_dir / "tls" / "key.pem", tls.private_pem)
        _write_private(data_dir / "tls" / "cert.pem", tls.public_pem)
        extra |= {
            "tls_hosts": tuple(https_hosts),
            "tls_cert": "tls/cert.pem",
            "tls_key": "tls/key.pem",
        }
    if encryption:
        pair = generate_content_keypair()
        _write_private(data_dir / "keys" / "content.private.pem", pair.private_pem)
        _write_private(data_dir / "keys" / "content.public.pem", pair.public_pem)
        extra |= {
            "content_public_key": "keys/content.public.pem",
            "content_private_key": "keys/content.private.pem",
            "content_key_id": f"{site_name}-content-key-1",
        }
    config = DestinationConfig(
        site_name=site_name,
        account="bodyworn",
        user="bodyworn",
        key=secrets.token_urlsafe(24),
        **extra,
    )
    doc = asdict(config)
    doc["tls_hosts"] = list(config.tls_hosts)
    _write_private(data_dir / CONFIG_FILE, (json.dumps(doc, indent=2) + "\n").encode("utf-8"))
    return config


async def build_app(
    config: DestinationConfig,
    data_dir: Path,
    *,
    clock: Clock | None = None,
    faults: Sequence[FaultRule] = (),
    mode: CDMode = CDMode.SWIFT,
    max_object_size: int = DEFAULT_MAX_OBJECT_SIZE,
) -> SwiftApp:
    """The Swift subset over `data_dir/store`, with capabilities and categories published."""
    store = ObjectStore(data_dir / "store")
    await publish_capabilities(store, config.account, config.capabilities)
    await publish_categories(store, config.account, DEFAULT_CATEGORIES)
    return SwiftApp(
        store,
        [SwiftAccount(config.user, config.key, config.account)],
        clock=clock,
        faults=faults,
        mode=mode,
        max_object_size=max_object_size,
    )


@dataclass(frozen=True)
class Site:
    """The whole embedded CD: the Swift subset at `/auth/v1.0` and `/v1/`, the browser."""

    swift: SwiftApp
    browser: EvidenceBrowser
    app: ASGIApp


async def build_site(
    config: DestinationConfig,
    data_dir: Path,
    *,
    clock: Clock | None = None,
    faults: Sequence[FaultRule] = (),
    mode: CDMode = CDMode.SWIFT,
    max_object_size: int = DEFAULT_MAX_OBJECT_SIZE,
) -> Site:
    """The Swift subset plus the evidence browser under `/browser/`, as one ASGI app."""
    swift = await build_app(config, data_dir, clock=clock, faults=faults, mode=mode,
                            max_object_size=max_object_size)
    private = (
        load_private_key((data_dir / config.content_private_key).read_bytes())
        if config.content_private_key is not None
        else None
    )
    reader = EvidenceReader(swift.store, config.account, private)
    browser = EvidenceBrowser(reader, data_dir, clock=clock, site=config.site_name)

    async def to_browser(_request: object) -> RedirectResponse:
        return RedirectResponse(f"{BASE}/", status_code=307)

    async def favicon(_request: object) -> Response:
        return Response(webui.favicon_ico(), media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=86400"})

    app = Starlette(
        routes=[
            Route(BASE, to_browser, methods=["GET"]),
            # Browsers ask the site for its icon by themselves.
            Route("/favicon.ico", favicon, methods=["GET"]),
            Mount(BASE, app=browser.app),
            # Everything else is the Swift subset, which answers its own 404s.
            Mount("", app=swift.app),
        ]
    )
    return Site(swift=swift, browser=browser, app=app)


def connection_file_for(
    config: DestinationConfig,
    data_dir: Path,
    base_urls: Sequence[str],
    *,
    full_store_and_read: bool = False,
) -> bytes:
    """The connection file for controllers reaching this CD at `base_urls` (scheme://host:port)."""
    certs: tuple[bytes, ...] = ()
    if config.tls_cert is not None:
        pem = (data_dir / config.tls_cert).read_bytes()
        certs = (x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER),)
    public = (
        (data_dir / config.content_public_key).read_bytes()
        if config.content_public_key is not None
        else None
    )
    return connection_file(
        ConnectionSettings(
            site_name=config.site_name,
            auth_uris=tuple(u.rstrip("/") + "/auth/v1.0" for u in base_urls),
            user=config.user,
            key=config.key,
            certificates_der=certs,
            container_type=config.container_type,
            public_key_pem=public,
            public_key_id=config.content_key_id,
            full_store_and_read=full_store_and_read,
        )
    )


def unpublished_capabilities(config: DestinationConfig) -> list[str]:
    """Known capabilities this CD does not publish (FullStoreAndReadSupport would overclaim)."""
    published = {name for names in config.capabilities.values() for name in names}
    return sorted(set(KNOWN_CAPABILITIES) - published)
