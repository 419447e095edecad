"""Ingest: every clip a docked camera lists into the spool and the tables, then released.

Per clip: stream into the spool (sha256 checked, fsync, rename) → record it in the
database → only then send the camera the signed deletion confirmation. Each arrow is a
commit, so a crash anywhere leaves a state from which the same step is simply done again.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Generator, Iterable
from contextlib import AbstractContextManager
from urllib.parse import quote

import structlog
from sqlalchemy.orm import Session

from bodyworn.controller.context import ControllerContext
from bodyworn.controller.integrity import service as integrity
from bodyworn.controller.offload import service, states
from bodyworn.controller.offload.base import OffloadConfig
from bodyworn.controller.offload.models import OffloadRecording
from bodyworn.controller.offload.slots import FairSlots
from bodyworn.docklink.client import DockLinkClient, DockLinkError
from bodyworn.docklink.messages import CameraInfo, ClipEntry
from bodyworn.store.spool import RawStream, Spool, SpoolMismatch

log = structlog.get_logger(__name__)

# Told (recording key, clip name, recording whole in the spool) after each spooled clip.
Spooled = Callable[[int, str, bool], None]


def _md5_of(clip: ClipEntry) -> str | None:
    """The camera's md5 of a clip when its manifest gives a well-formed one."""
    value = clip.md5
    if isinstance(value, str) and len(value) == 32 and all(
            c in "0123456789abcdef" for c in value):
        return value
    return None


def _audit_received(session: Session, ctx: ControllerContext, rec_pk: int, serial: str
                    ) -> None:
    """Custody: the recording is whole in the spool, each clip with its sha256."""
    rec = session.get(OffloadRecording, rec_pk)
    assert rec is not None
    held = [(c.name, c.sha256) for c in service.clips_of(session, rec_pk)]
    integrity.audit_received(session, ctx.clock, rec.recording_id, serial, held)


class Ingester:
    """Offloads docked cameras into the spool, a few clips at a time in fair slots."""

    def __init__(self, ctx: ControllerContext, config: OffloadConfig, spool: Spool,
                 spooled: Spooled) -> None:
        self.ctx = ctx
        self.config = config
        self.spool = spool
        self.slots = FairSlots(config.max_ingests)
        self._spooled = spooled

    def ingest(self, serial: str, camera: DockLinkClient, info: CameraInfo | None = None
               ) -> None:
        """Offload every clip the camera lists: spool, record, then confirm its deletion."""
        manifest = camera.manifest()
        model = info.model if info is not None else ""
        work: list[ClipEntry] = []
        with self.ctx.factory() as session, session.begin():
            for rec in manifest.recordings:
                service.record_manifest(session, self.ctx.clock, serial, rec, {
                    "bwc_model": model,
                    # The camera's signature of each clip, carried to the CD with it.
                    "clip_signatures": {c.name: c.signature for c in rec.clips
                                        if c.signature},
                })
                work.extend(rec.clips)
            service.note_gone(session, self.ctx.clock, serial, {c.name for c in work})
        if self.config.ingests_per_camera <= 1 or len(work) <= 1:
            for clip in work:
                self.ingest_clip(serial, camera, clip, self.slots.slot(serial))
            return
        self._ingest_together(serial, camera, work)

    def _ingest_together(self, serial: str, camera: DockLinkClient,
                         work: list[ClipEntry]) -> None:
        # A few clips at a time, each in a fair slot; the first error ends the dock's work
        # (the rest stays on the camera for the next dock), as it does one at a time.
        todo = iter(work)
        lock = threading.Lock()
        errors: list[BaseException] = []

        def worker() -> None:
            while not errors:
                with lock:
                    clip = next(todo, None)
                if clip is None:
                    return
                try:
                    self.ingest_clip(serial, camera, clip, self.slots.slot(serial))
                except BaseException as exc:
                    errors.append(exc)

        threads = [threading.Thread(target=worker, name=f"ingest-{serial}-{i}", daemon=True)
                   for i in range(min(self.config.ingests_per_camera, len(work)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def ingest_clip(self, serial: str, camera: DockLinkClient, clip: ClipEntry,
                    slot: AbstractContextManager[None] | None = None) -> None:
        """One clip: into the spool and the tables unless already there, then released.

        `slot` (an ingest slot) is held while the clip is received and made durable only:
        recording it and the camera's confirmation do not keep another clip waiting.
        """
        with self.ctx.factory() as session:
            row = service.clip(session, clip.name)
            state = row.state if row is not None else None
            released = row is not None and row.released_at is not None
            other = row is not None and row.sha256 != clip.sha256
        if other:
            # Same name, other bytes: never confirm a clip we do not hold; it stays put.
            log.error("offload.clip_name_clash", camera=serial, clip=clip.name)
            return
        if released:
            return
        if state == states.ON_CAMERA and not self._spool_clip(serial, camera, clip, slot):
            return
        self.confirm(serial, camera, clip.name, clip.sha256)

    def _spool_clip(self, serial: str, camera: DockLinkClient, clip: ClipEntry,
                    slot: AbstractContextManager[None] | None) -> bool:
        """Receive a clip into the spool and record it; False when it stays on the camera."""
        name, clock = clip.name, self.ctx.clock
        try:
            with slot or contextlib.nullcontext():
                entry = self.spool.ingest(
                    serial, name, clip.size, clip.sha256,
                    lambda have: self._stream(camera, name, have), md5=_md5_of(clip))
        except SpoolMismatch as exc:
            with self.ctx.factory() as session, session.begin():
                service.note_ingest_error(session, clock, name, str(exc))
            return False
        except OSError as exc:
            # The controller's disk (full or failing): the camera keeps its clip.
            self.ctx.health.spool_trouble = str(exc)
            with self.ctx.factory() as session, session.begin():
                service.note_ingest_error(session, clock, name, f"spool: {exc}")
            log.warning("offload.spool_error", camera=serial, clip=name, error=str(exc))
            return False
        self.ctx.health.spool_trouble = None
        with self.ctx.factory() as session, session.begin():
            rec_pk, whole = service.mark_in_spool(session, clock, name, entry.md5)
            if whole:
                _audit_received(session, self.ctx, rec_pk, serial)
        self._spooled(rec_pk, name, whole)
        return True

    def _stream(
        self, camera: DockLinkClient, name: str, have: int
    ) -> Iterable[bytes] | RawStream:
        """The clip from byte `have` on: straight into the spool's buffers over http."""
        if camera.camera_url.startswith("http://"):
            return camera.open_clip(name, have)
        return self._stream_blocks(camera, name, have)

    def _stream_blocks(
        self, camera: DockLinkClient, name: str, have: int
    ) -> Generator[bytes, None, None]:
        headers = {"Range": f"bytes={have}-"} if have else {}
        response = camera.send("GET", f"/clips/{quote(name, safe='')}", headers=headers,
                               stream=True)
        try:
            skip = have if have and response.status_code != 206 else 0
            for block in response.iter_bytes(1 << 20):
                if skip:
                    # The camera sent the whole clip: drop what the spool already holds.
                    cut = min(skip, len(block))
                    block, skip = block[cut:], skip - cut
                if block:
                    yield block
        finally:
            response.close()

    def confirm(self, serial: str, camera: DockLinkClient, name: str, sha256: str) -> None:
        """Send the signed deletion confirmation of a clip held durably, and note it."""
        with self.ctx.factory() as session:
            row = service.clip(session, name)
            if row is None or row.state not in states.HELD:
                raise AssertionError(f"{name} is not held durably; refusing to confirm")
        try:
            camera.delete_clip(name, sha256)
        except DockLinkError as exc:
            if exc.reason != "no_clip":
                raise
            # Gone already: our earlier confirmation landed but its reply was lost.
        with self.ctx.factory() as session, session.begin():
            service.mark_released(session, self.ctx.clock, name)
