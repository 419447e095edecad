"""Clips of a recording still arriving, sent to the CD ahead of the rest of it.

Only a shortcut: the recording's delivery checks each object at the CD (present, and
the same ETag when the CD gives one) and sends what is not there; a restart forgets.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import httpx
import structlog
from sqlalchemy.orm import Session

from bodyworn.cdclient.client import CDClient
from bodyworn.cdclient.errors import CDError
from bodyworn.cdclient.records import RecordingUpload
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.integrity import service as integrity
from bodyworn.controller.offload import states
from bodyworn.controller.offload.base import OffloadConfig, in_transaction
from bodyworn.controller.offload.cd_health import CdHealthTracker
from bodyworn.controller.offload.models import OffloadRecording
from bodyworn.controller.outbox import service as outbox
from bodyworn.evidence.metadata import MetadataError

log = structlog.get_logger(__name__)


class EarlyUploads:
    """Runs on the deliver loop's event loop; ingest threads hand clips over with `soon`."""

    def __init__(self, ctx: ControllerContext, config: OffloadConfig,
                 tracker: CdHealthTracker, client: Callable[[], Awaitable[CDClient]],
                 upload_of: Callable[[Session, int], RecordingUpload]) -> None:
        self.ctx = ctx
        self.config = config
        self._tracker = tracker
        self._client = client
        self._upload_of = upload_of
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        # Objects stored ahead of their recording ({recording key: {object: md5}}).
        self.sent: dict[int, dict[str, str]] = {}
        self._tasks: dict[int, set[asyncio.Future[None]]] = {}

    def bind(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """The deliver loop's event loop while it runs (None when it stops)."""
        self._loop = loop

    def soon(self, rec_pk: int, name: str) -> None:
        """From an ingest thread: have the loop send this clip ahead of its recording."""
        loop = self._loop
        if loop is None or self.config.early_uploads < 1 or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop stopped meanwhile
            loop.call_soon_threadsafe(self._start, rec_pk, name)

    async def settle(self, rec_pk: int) -> dict[str, str] | None:
        """Before a recording's delivery: let clips on their way land; what was sent."""
        running = self._tasks.get(rec_pk)
        if running:
            # Let clips already on their way land first rather than send them twice.
            await asyncio.gather(*running, return_exceptions=True)
        return self.sent.get(rec_pk)

    def forget(self, rec_pk: int) -> None:
        """The recording is delivered: nothing of it is early any more."""
        self.sent.pop(rec_pk, None)

    def cancel(self) -> None:
        """Stop every upload in flight (the loop stops)."""
        for running in list(self._tasks.values()):
            for task in list(running):
                task.cancel()

    def _start(self, rec_pk: int, name: str) -> None:
        task = asyncio.ensure_future(self._upload(rec_pk, name))
        running = self._tasks.setdefault(rec_pk, set())
        running.add(task)

        def done(t: asyncio.Future[None]) -> None:
            running.discard(t)
            if not running and self._tasks.get(rec_pk) is running:
                del self._tasks[rec_pk]

        task.add_done_callback(done)

    async def _upload(self, rec_pk: int, name: str) -> None:
        """Store one spooled clip of a recording still arriving; any trouble: leave it."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(max(1, self.config.early_uploads))
        async with self._slots:
            if self._tracker.down or not integrity.delivery_allowed(self.ctx):
                # The CD failed as a whole (its probe comes first), or holds us elsewhere.
                return
            try:
                sent = await self._store(rec_pk, name)
            except (CDError, MetadataError, ValueError, LookupError, OSError,
                    httpx.HTTPError) as exc:
                log.info("offload.early_upload_skipped", recording=rec_pk, clip=name,
                         error=str(exc))
                return
            if sent:
                self.sent.setdefault(rec_pk, {}).update(sent)

    async def _store(self, rec_pk: int, name: str) -> dict[str, str] | None:
        cd = await self._client()
        if await in_transaction(self.ctx.factory, lambda s: bool(outbox.pending(s))):
            return None  # users and devices go first; the delivery sends the clip
        upload = await in_transaction(self.ctx.factory, lambda s: self._held(s, rec_pk))
        if upload is None:
            return None
        clip = next((c for c in upload.clips if c.path.name == name), None)
        if clip is None:
            return None
        return await cd.store_clip(upload, clip)

    def _held(self, session: Session, rec_pk: int) -> RecordingUpload | None:
        rec = session.get(OffloadRecording, rec_pk)
        if rec is None or rec.state != states.ON_CAMERA:
            return None  # whole already (the delivery takes it) or done
        return self._upload_of(session, rec_pk)
