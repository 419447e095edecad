"""The System container of a content destination: capabilities, categories, the binding.

`SystemClient` is the part of `CDClient` (client.py) that reads and writes `System/`: the
CD's capabilities and categories (cached), the system binding `System/<SystemID>`, and
objects written once and never overwritten (audit anchors, docs/integrity.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Literal

import structlog

from bodyworn.cdclient.body import BytesBody
from bodyworn.cdclient.capabilities import (
    DEFAULT_CATEGORIES,
    READ_CATEGORIES,
    STORE_READ_SYSTEM_ID,
    Capabilities,
    CategoriesError,
    CategoryList,
    parse_capabilities,
    parse_categories,
)
from bodyworn.cdclient.errors import (
    CDForbidden,
    CDNotFound,
    CDProtocolError,
    ContentRejected,
    SystemBindingError,
)
from bodyworn.cdclient.transport import CDTransport, _etag, _object_path
from bodyworn.evidence.metadata import meta_get, metadata_headers, parse_metadata

log = structlog.get_logger(__name__)

SYSTEM = "System"
USERS = "Users"
DEVICES = "Devices"
# Older copies of the spec named it Capability.json in places; since v1.6.9 the spec,
# its tree and the reference server all say Capabilities.json, the only name read (the
# reference server answers 403 to a GET of any other System object).
CAPABILITIES_OBJECT = "Capabilities.json"
CATEGORIES_OBJECT = "Categories.json"

CAPABILITIES_MAX_AGE = timedelta(hours=1)
CATEGORIES_MAX_AGE = timedelta(days=1)


def _md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class SystemClient(CDTransport):
    """The System container's calls (the base of CDClient)."""

    # --- capabilities and categories ------------------------------------------------------

    async def capabilities(self, *, refresh: bool = False) -> Capabilities:
        """Read System/Capabilities.json (cached); corrupt or missing means nothing."""
        if self.connection.full_store_and_read:
            return Capabilities.everything()
        now = self._clock.now()
        if (
            self._caps is not None
            and self._caps_at is not None
            and not refresh
            and now - self._caps_at < CAPABILITIES_MAX_AGE
        ):
            return self._caps
        try:
            resp = await self._request(
                "GET", _object_path(SYSTEM, CAPABILITIES_OBJECT), ok=frozenset({200})
            )
        except CDNotFound:
            caps = Capabilities.nothing(f"missing: no {SYSTEM}/{CAPABILITIES_OBJECT}")
        except (CDForbidden, ContentRejected, CDProtocolError) as exc:
            caps = Capabilities.nothing(f"unreadable: {exc}")
        else:
            caps = parse_capabilities(resp.content, resp.headers.get("Etag"))
        if caps.problem:
            log.info("cd.capabilities_unusable", problem=caps.problem)
        self._caps, self._caps_at = caps, now
        return caps

    async def categories(self, *, refresh: bool = False) -> CategoryList:
        """The CD's categories (ReadCategories; re-read daily or on `refresh`), else defaults."""
        now = self._clock.now()
        if (
            self._categories is not None
            and self._categories_at is not None
            and not refresh
            and now - self._categories_at < CATEGORIES_MAX_AGE
        ):
            return self._categories
        self._categories = await self._read_categories(refresh)
        self._categories_at = now
        return self._categories

    async def _read_categories(self, refresh: bool) -> CategoryList:
        caps = await self.capabilities(refresh=refresh)
        if not caps.supports(READ_CATEGORIES):
            return CategoryList(DEFAULT_CATEGORIES, from_cd=False)
        resp = await self._get_small(SYSTEM, CATEGORIES_OBJECT)
        if resp is None:
            return CategoryList(DEFAULT_CATEGORIES, from_cd=False, problem="missing or unreadable")
        try:
            found = parse_categories(resp.content, resp.headers.get("Etag"))
        except CategoriesError as exc:
            return CategoryList(DEFAULT_CATEGORIES, from_cd=False, problem=str(exc))
        return CategoryList(found, from_cd=True)

    # --- system, users, devices ------------------------------------------------------------

    async def bind_system(
        self,
        system_id: str,
        connection_id: str,
        system_name: str,
        *,
        expect_existing: bool,
        certificate_pem: bytes | None = None,
    ) -> bool:
        """Write or check System/<SystemID>; False when the CD lacks StoreReadSystemID.

        `certificate_pem`: the system identity's certificate, kept as the object's body
        (the spec names only its metadata), so the CD can check what the system's cameras
        sign. It is written with the object, and again when the CD's ETag shows another
        body (a CD that answers HEAD without an ETag keeps the body first written).
        """
        # Refused (SystemBindingError) when the CD holds this system under another
        # ConnectionId, or, with `expect_existing`, has no record of it at all: in both
        # cases it is not the CD this system was bound to.
        if not (await self.capabilities()).supports(STORE_READ_SYSTEM_ID):
            return False
        meta = {"ConnectionId": connection_id, "SystemName": system_name}
        body = certificate_pem or b""
        # A check is one HEAD; the container is made only for the first write.
        found = await self._system_object(system_id)
        if found is None:
            if expect_existing:
                raise SystemBindingError(
                    f"the CD has no System/{system_id}: it is not the CD this system is bound to"
                )
            await self._ensure_container(SYSTEM)
            await self._put_object(
                SYSTEM, system_id, BytesBody(body), meta, "application/octet-stream"
            )
            found = await self._system_object(system_id)
            if found is None or meta_get(found[0], "ConnectionId") != connection_id:
                raise SystemBindingError("System object did not read back as written")
            return True
        stored, etag = found
        bound = meta_get(stored, "ConnectionId")
        if bound != connection_id:
            raise SystemBindingError(
                f"the CD binds this system to connection {bound!r}, not {connection_id!r}"
            )
        if certificate_pem is not None and etag is not None and etag != _md5_hex(body):
            # Same ConnectionId and name, now with the certificate: the binding stays.
            await self._put_object(
                SYSTEM, system_id, BytesBody(body), meta, "application/octet-stream"
            )
        elif meta_get(stored, "SystemName") != system_name:
            await self._request(
                "POST",
                _object_path(SYSTEM, system_id),
                ok=frozenset({202, 204}),
                headers=metadata_headers("object", meta),
            )
        return True

    async def _system_object(self, name: str) -> tuple[dict[str, str], str | None] | None:
        """HEAD System/<name>: its metadata and ETag (None without one), None when missing."""
        try:
            resp = await self._request(
                "HEAD", _object_path(SYSTEM, name), ok=frozenset({200, 204})
            )
        except CDNotFound:
            return None
        return parse_metadata("object", resp.headers.multi_items()), _etag(resp)

    async def put_system_object_once(
        self, name: str, body: bytes, metadata: Mapping[str, str | None], content_type: str
    ) -> Literal["created", "same", "different"]:
        """Create System/<name> unless it exists (If-None-Match: *); never overwrite it.

        "same" when the CD already holds these very bytes (a retry whose answer was lost),
        "different" when it holds other bytes under that name.
        """
        await self._ensure_container(SYSTEM)
        headers = metadata_headers("object", metadata)
        headers["Content-Type"] = content_type
        headers["If-None-Match"] = "*"
        path = _object_path(SYSTEM, name)
        resp = await self._request(
            "PUT", path, ok=frozenset({201, 409, 412}), headers=headers, body=BytesBody(body)
        )
        if resp.status_code == 201:
            return "created"
        held = await self.get_system_object(name)
        return "same" if held == body else "different"

    async def get_system_object(self, name: str) -> bytes | None:
        """GET System/<name> (the spec's one readable container), None when it is missing."""
        try:
            resp = await self._request("GET", _object_path(SYSTEM, name), ok=frozenset({200}))
        except CDNotFound:
            return None
        return resp.content
