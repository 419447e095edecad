"""The async client of the Content Destination API (a subset of OpenStack Swift).

One `CDClient` per content destination: the API's calls here, on top of the session,
retries and error table of `CDTransport` (transport.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, NamedTuple

import structlog

from bodyworn.cdclient.body import BytesBody, EncryptedBody, FileBody
from bodyworn.cdclient.capabilities import (
    DEFAULT_CATEGORIES,
    READ_CATEGORIES,
    STORE_BOOKMARKS,
    STORE_GNSS_TRACK,
    STORE_READ_SYSTEM_ID,
    STORE_REJECTED_CONTENT,
    STORE_USER_ID_KEY,
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
from bodyworn.cdclient.records import (
    CDDevice,
    CDUser,
    ClipFile,
    RecordingUpload,
    bookmark_metadata,
    clip_metadata,
    device_metadata,
    gnss_body,
    gnss_metadata,
    key_metadata,
    recording_metadata,
    user_metadata,
)
from bodyworn.cdclient.transport import (
    CDTransport,
    RetryPolicy,
    Stored,
    _object_path,
    parse_retry_after,
)
from bodyworn.evidence.crypto import new_object_encryption
from bodyworn.evidence.metadata import (
    bookmark_object_name,
    clip_object_name,
    gnss_object_name,
    key_object_name,
    meta_get,
    metadata_headers,
    recording_container_name,
    rejected_container_name,
    rfc3339,
)

__all__ = ["CDClient", "DeliveryResult", "OnReject", "RejectedAs", "RetryPolicy", "Stored",
           "parse_retry_after"]

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
_CLIP_CONTENT_TYPES = {"mkv": "video/x-matroska", "mp4": "video/mp4"}


class RejectedAs(NamedTuple):
    """The decision to store a recording as rejected content: when, and the upload's ID
    (together they name its RejectedContent container)."""

    when: datetime
    unique: str


OnReject = Callable[[RejectedAs], Awaitable[None]]


@dataclass(frozen=True)
class DeliveryResult:
    """Where a recording ended up and which objects were stored there."""

    outcome: Literal["delivered", "rejected_content", "not_transferred"]
    container: str
    objects: tuple[str, ...] = ()
    reason: str | None = None
    # Per clip file name (`ClipFile.path.name`), for the clips stored or checked by this
    # delivery: True when the CD confirmed every object of the clip by its ETag, False
    # when it stored them without saying (trusted on its 201: "unverified by the CD").
    verified: Mapping[str, bool] = field(default_factory=dict)
    # Objects of this delivery the CD did not confirm by an ETag.
    unverified: tuple[str, ...] = ()


class CDClient(CDTransport):
    """Talks to one content destination; use as an async context manager.

    The API's calls: capabilities, categories, the System binding, users and devices,
    recordings (whole, or a clip ahead of the rest). The session underneath is
    CDTransport's (transport.py).
    """

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
        self, system_id: str, connection_id: str, system_name: str, *, expect_existing: bool
    ) -> bool:
        """Write or check System/<SystemID>; False when the CD lacks StoreReadSystemID."""
        # Refused (SystemBindingError) when the CD holds this system under another
        # ConnectionId, or, with `expect_existing`, has no record of it at all: in both
        # cases it is not the CD this system was bound to.
        if not (await self.capabilities()).supports(STORE_READ_SYSTEM_ID):
            return False
        await self._ensure_container(SYSTEM)
        meta = {"ConnectionId": connection_id, "SystemName": system_name}
        found = await self.object_metadata(SYSTEM, system_id)
        if found is None:
            if expect_existing:
                raise SystemBindingError(
                    f"the CD has no System/{system_id}: it is not the CD this system is bound to"
                )
            await self._put_object(
                SYSTEM, system_id, BytesBody(b""), meta, "application/octet-stream"
            )
            found = await self.object_metadata(SYSTEM, system_id)
            if found is None or meta_get(found, "ConnectionId") != connection_id:
                raise SystemBindingError("System object did not read back as written")
            return True
        bound = meta_get(found, "ConnectionId")
        if bound != connection_id:
            raise SystemBindingError(
                f"the CD binds this system to connection {bound!r}, not {connection_id!r}"
            )
        if meta_get(found, "SystemName") != system_name:
            await self._request(
                "POST",
                _object_path(SYSTEM, system_id),
                ok=frozenset({202, 204}),
                headers=metadata_headers("object", meta),
            )
        return True

    async def _store_record(
        self, container: str, name: str, meta: Mapping[str, str | None], update: bool
    ) -> None:
        await self._ensure_container(container)
        if update:
            try:
                await self._request(
                    "POST",
                    _object_path(container, name),
                    ok=frozenset({202, 204}),
                    headers=metadata_headers("object", meta),
                )
                return
            except CDNotFound:
                pass
        await self._put_object(container, name, BytesBody(b""), meta, "application/octet-stream")

    async def put_user(self, user: CDUser, *, update: bool = False) -> None:
        """Create (PUT) or update (POST, PUT if missing) Users/<uuid>; 402 raises LicenceError."""
        caps = await self.capabilities()
        meta = user_metadata(user, caps.supports(STORE_USER_ID_KEY))
        await self._store_record(USERS, user.uuid, meta, update)

    async def put_device(self, device: CDDevice, *, update: bool = False) -> None:
        """Create or update Devices/<serial>; 402 raises LicenceError."""
        await self._store_record(DEVICES, device.serial, device_metadata(device), update)

    # --- recordings ---------------------------------------------------------------------------

    async def store_clip(self, rec: RecordingUpload, clip: ClipFile) -> dict[str, str]:
        """Store one clip of a recording ahead of the rest of it: {object name: md5}.

        For a recording still arriving: its container is made (`Transferring`) and the clip
        stored now, so `deliver_recording(rec, early=...)` later checks these objects with
        a HEAD instead of sending them again. Nothing is written into a Complete container.
        """
        name = recording_container_name(rec.user_uuid, rec.bwc_serial, rec.trigger_on_time)
        existing = await self.object_metadata(name)
        if existing is not None and meta_get(existing, "Status") == "Complete":
            return {}
        if existing is None:
            await self._ensure_container(name, recording_metadata(rec, name, "Transferring"))
        sent = await self._put_clip(name, rec, clip)
        self._confirmed.update((name, obj, st.md5) for obj, st in sent if st.confirmed)
        return {obj: st.md5 for obj, st in sent}

    async def deliver_recording(
        self, rec: RecordingUpload, *, early: Mapping[str, str] | None = None,
        rejected: RejectedAs | None = None, on_reject: OnReject | None = None,
    ) -> DeliveryResult:
        """Store a whole recording and mark it Complete; a 400 routes it per capabilities.

        `early`: objects `store_clip` already stored ({name: md5}); each is checked at the
        CD (present, and the same ETag when the CD gives one) and only sent again when it
        is not there as it was. `rejected`: the rejected-content container an earlier try
        decided on (kept by the caller); `on_reject` is awaited with a new decision before
        anything is stored under it, so a caller that keeps it finishes the same container
        after a restart instead of starting a second one.
        """
        # Safe to call again after a crash: objects are overwritten, and a container that
        # is already Complete is left alone (the controller never touches it again).
        if not rec.clips:
            raise ValueError("a recording has at least one clip")
        caps = await self.capabilities()
        name = recording_container_name(rec.user_uuid, rec.bwc_serial, rec.trigger_on_time)
        try:
            existing = await self.object_metadata(name)
        except (CDForbidden, ContentRejected, CDProtocolError):
            # A CD that will not answer HEAD on a container just gets the full delivery.
            existing = None
        if existing is not None and meta_get(existing, "Status") == "Complete":
            return DeliveryResult("delivered", name, reason="already Complete at the CD")
        try:
            stored, verified = await self._store_recording(
                name, recording_metadata(rec, name, "Transferring"), rec, caps, early or {}
            )
            await self._request(
                "POST",
                _object_path(name),
                ok=frozenset({202, 204}),
                headers=metadata_headers("container", recording_metadata(rec, name, "Complete")),
            )
        except ContentRejected as exc:
            result = await self._reject(rec, name, caps, str(exc), rejected, on_reject)
        else:
            result = _result("delivered", name, stored, verified)
        self._confirmed = {c for c in self._confirmed if c[0] != name}
        return result

    async def _reject(
        self, rec: RecordingUpload, name: str, caps: Capabilities, reason: str,
        decided_before: RejectedAs | None = None, on_reject: OnReject | None = None,
    ) -> DeliveryResult:
        if not caps.supports(STORE_REJECTED_CONTENT):
            return DeliveryResult("not_transferred", name, reason=reason)
        decided = self._rejected.get(name) or decided_before
        if decided is None:
            # Named after the decision to reject (now), with an ID made for this upload.
            decided = RejectedAs(self._clock.now(), str(uuid.uuid4()))
            if on_reject is not None:
                await on_reject(decided)
        self._rejected[name] = decided
        when, unique = decided
        rejected = rejected_container_name(when, unique)
        # Everything the recording container carries except Status; ContainerName is the
        # rejected-content container's own name.
        meta = recording_metadata(rec, rejected, None)
        meta["RejectedContentOriginalContainer"] = name
        meta["RejectedContentTime"] = rfc3339(when)
        meta["RejectedContentReason"] = reason
        try:
            stored, verified = await self._store_recording(
                rejected, meta, rec, caps, rejected_from=name
            )
        except ContentRejected as exc:
            self._rejected.pop(name, None)
            return DeliveryResult(
                "not_transferred", name, reason=f"{reason}; rejected content refused too: {exc}"
            )
        self._rejected.pop(name, None)
        return _result("rejected_content", rejected, stored, verified, reason)

    async def _store_recording(
        self,
        container: str,
        meta: Mapping[str, str | None],
        rec: RecordingUpload,
        caps: Capabilities,
        early: Mapping[str, str] | None = None,
        *,
        rejected_from: str | None = None,
    ) -> tuple[list[tuple[str, Stored]], dict[str, bool]]:
        """Store the objects of a recording: [(name, Stored)] and {clip file: verified}.

        `rejected_from`: the recording container a rejected-content container stands in
        for; its objects say so, and it holds clips, keys and the GNSS track only (the
        spec's rejected objects), no bookmarks.
        """
        await self._ensure_container(container, meta)
        ctype = self.connection.container_type
        slots = asyncio.Semaphore(self._clip_uploads)
        early = early or {}
        extra: dict[str, str | None] = (
            {"RejectedContentOriginalContainer": rejected_from} if rejected_from else {}
        )

        async def put_clip(clip: ClipFile) -> list[tuple[str, Stored]]:
            obj = clip_object_name(clip.start, rec.recording_id, ctype)
            names = [key_object_name(obj), obj] if self._public_key is not None else [obj]
            async with slots:
                if all(n in early for n in names):
                    held = await self._holds(container, {n: early[n] for n in names})
                    if held is not None:
                        return [(n, held[n]) for n in names]
                return await self._put_clip(container, rec, clip, extra)

        try:
            # The first failure cancels the other uploads of the recording.
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(put_clip(clip)) for clip in rec.clips]
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        stored = [pair for task in tasks for pair in task.result()]
        verified = {
            clip.path.name: all(st.confirmed for _, st in task.result())
            for clip, task in zip(rec.clips, tasks, strict=True)
        }
        if rec.gnss_track and caps.supports(STORE_GNSS_TRACK):
            obj = gnss_object_name(rec.start_time, rec.recording_id, rec.bwc_serial)
            stored += await self._put_content(
                container,
                obj,
                BytesBody(gnss_body(rec)),
                {**gnss_metadata(), **extra},
                "application/json",
                rec.start_time,
                extra,
            )
        if caps.supports(STORE_BOOKMARKS) and rejected_from is None:
            for bm in rec.bookmarks:
                obj = bookmark_object_name(bm.timestamp, bm.bookmark_id)
                put = await self._put_object(
                    container,
                    obj,
                    BytesBody(bm.note.encode("utf-8")),
                    bookmark_metadata(bm, rec),
                    "text/plain; charset=utf-8",
                )
                stored.append((obj, put))
        return stored, verified

    async def _put_clip(
        self,
        container: str,
        rec: RecordingUpload,
        clip: ClipFile,
        extra: Mapping[str, str | None] | None = None,
    ) -> list[tuple[str, Stored]]:
        ctype = self.connection.container_type
        body = FileBody(clip.path, self._chunk_bytes, md5=clip.md5, on_chunk=self._on_clip_bytes)
        return await self._put_content(
            container,
            clip_object_name(clip.start, rec.recording_id, ctype),
            body,
            {**clip_metadata(clip, ctype), **(extra or {})},
            _CLIP_CONTENT_TYPES[ctype],
            clip.start,
            extra,
        )

    async def _put_content(
        self,
        container: str,
        obj: str,
        plain: FileBody | BytesBody,
        meta: Mapping[str, str | None],
        content_type: str,
        start: datetime,
        extra: Mapping[str, str | None] | None = None,
    ) -> list[tuple[str, Stored]]:
        """PUT a clip or GNSS object, encrypted with its `.key` object when asked.

        [(object name, Stored)], the key object first. `extra` is added to the key
        object's metadata too.
        """
        if self._public_key is None:
            return [(obj, await self._put_object(container, obj, plain, meta, content_type))]
        enc = new_object_encryption(self._public_key, self.connection.public_key_id or "")
        key_name = key_object_name(obj)
        # Key first: a CD that processes a clip as soon as it lands finds its key there.
        key_put = await self._put_object(
            container,
            key_name,
            BytesBody(enc.key_file.to_bytes()),
            {**key_metadata(start), **(extra or {})},
            "application/json",
        )
        obj_put = await self._put_object(
            container, obj, EncryptedBody(plain, enc.content_key), meta, "application/octet-stream"
        )
        return [(key_name, key_put), (obj, obj_put)]


def _result(
    outcome: Literal["delivered", "rejected_content"],
    container: str,
    stored: list[tuple[str, Stored]],
    verified: Mapping[str, bool],
    reason: str | None = None,
) -> DeliveryResult:
    return DeliveryResult(
        outcome,
        container,
        tuple(name for name, _ in stored),
        reason,
        verified=dict(verified),
        unverified=tuple(name for name, st in stored if not st.confirmed),
    )
