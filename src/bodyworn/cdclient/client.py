"""The async client of the Content Destination API (a subset of OpenStack Swift).

One `CDClient` per content destination: the API's calls here, on top of the session,
retries and error table of `CDTransport` (transport.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

import structlog

from bodyworn.cdclient.body import BytesBody, EncryptedBody, FileBody
from bodyworn.cdclient.capabilities import (
    STORE_BOOKMARKS,
    STORE_GNSS_TRACK,
    STORE_REJECTED_CONTENT,
    STORE_SIGNED_VIDEO,
    STORE_USER_ID_KEY,
    Capabilities,
)
from bodyworn.cdclient.errors import (
    CDForbidden,
    CDNotFound,
    CDProtocolError,
    ContentRejected,
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
    signature_metadata,
    user_metadata,
)
from bodyworn.cdclient.system import SystemClient
from bodyworn.cdclient.transport import (
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
    signatures_object_name,
)
from bodyworn.evidence.signing import signature_bundle

__all__ = ["CDClient", "DeliveryResult", "OnReject", "RejectedAs", "RetryPolicy", "Stored",
           "parse_retry_after"]

log = structlog.get_logger(__name__)

USERS = "Users"
DEVICES = "Devices"
_CLIP_CONTENT_TYPES = {"mkv": "video/x-matroska", "mp4": "video/mp4"}
# Small objects of one recording (track, signatures, bookmarks) sent at once.
_SMALL_UPLOADS = 4


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


class CDClient(SystemClient):
    """Talks to one content destination; use as an async context manager.

    The API's calls: users and devices, recordings (whole, or a clip ahead of the rest);
    capabilities, categories and the System container's objects are SystemClient's
    (system.py), the session underneath CDTransport's (transport.py).
    """

    # --- users, devices --------------------------------------------------------------------

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
        # Its signature goes with the recording's (one signatures object per recording).
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
        # Signatures are not among the spec's objects of a recording (nor of rejected
        # content): only a CD that says it takes signed video is sent them.
        signed = caps.supports(STORE_SIGNED_VIDEO) and rejected_from is None

        async def put_clip(clip: ClipFile) -> list[tuple[str, Stored]]:
            obj = clip_object_name(clip.start, rec.recording_id, ctype)
            names = [key_object_name(obj), obj] if self._public_key is not None else [obj]
            async with slots:
                if all(n in early for n in names):
                    held = await self._holds(container, {n: early[n] for n in names})
                    if held is not None:
                        return [(n, held[n]) for n in names]
                return await self._put_clip(container, rec, clip, extra)

        # The small objects (track, signatures, bookmarks) go while the clips do: each is
        # one short request, so signing adds no wait to a recording's delivery. Nothing
        # is Complete before all of them are stored.
        small = self._small_objects(container, rec, caps, extra, signed)
        few = asyncio.Semaphore(_SMALL_UPLOADS)

        async def put_small(put: Awaitable[list[tuple[str, Stored]]]
                            ) -> list[tuple[str, Stored]]:
            async with few:
                return await put

        try:
            # The first failure cancels the other uploads of the recording.
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(put_clip(clip)) for clip in rec.clips]
                others = [group.create_task(put_small(p)) for p in small]
        except BaseExceptionGroup as failed:
            for put in small:
                if asyncio.iscoroutine(put):
                    put.close()  # cancelled before it started: not "never awaited"
            raise failed.exceptions[0] from None
        stored = [pair for task in [*tasks, *others] for pair in task.result()]
        verified = {
            clip.path.name: all(st.confirmed for _, st in task.result())
            for clip, task in zip(rec.clips, tasks, strict=True)
        }
        return stored, verified

    def _small_objects(
        self,
        container: str,
        rec: RecordingUpload,
        caps: Capabilities,
        extra: Mapping[str, str | None],
        signed: bool,
    ) -> list[Awaitable[list[tuple[str, Stored]]]]:
        """The uploads of a recording's GNSS track, signatures (its statement and its
        clips', in one object) and bookmarks (none in rejected content, whose objects
        carry `extra`)."""
        ctype = self.connection.container_type
        small: list[Awaitable[list[tuple[str, Stored]]]] = []
        if rec.gnss_track and caps.supports(STORE_GNSS_TRACK):
            obj = gnss_object_name(rec.start_time, rec.recording_id, rec.bwc_serial)
            small.append(self._put_content(
                container,
                obj,
                BytesBody(gnss_body(rec)),
                {**gnss_metadata(), **extra},
                "application/json",
                rec.start_time,
                extra,
            ))
        clip_sigs = {clip_object_name(c.start, rec.recording_id, ctype): c.signature
                     for c in rec.clips if c.signature}
        if signed and (rec.signature or clip_sigs):
            # One object for all of them: every object costs the CD a request.
            small.append(self._put_one(
                container,
                signatures_object_name(rec.start_time, rec.recording_id),
                BytesBody(signature_bundle(rec.signature, clip_sigs)),
                signature_metadata(rec.start_time),
                "application/json",
            ))
        if caps.supports(STORE_BOOKMARKS) and not extra:
            for bm in rec.bookmarks:
                small.append(self._put_one(
                    container,
                    bookmark_object_name(bm.timestamp, bm.bookmark_id),
                    BytesBody(bm.note.encode("utf-8")),
                    bookmark_metadata(bm, rec),
                    "text/plain; charset=utf-8",
                ))
        return small

    async def _put_one(
        self,
        container: str,
        name: str,
        body: BytesBody,
        metadata: Mapping[str, str | None],
        content_type: str,
    ) -> list[tuple[str, Stored]]:
        return [(name, await self._put_object(container, name, body, metadata, content_type))]

    async def _put_clip(
        self,
        container: str,
        rec: RecordingUpload,
        clip: ClipFile,
        extra: Mapping[str, str | None] | None = None,
    ) -> list[tuple[str, Stored]]:
        """The clip (and its key)."""
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
