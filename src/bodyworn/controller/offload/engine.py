"""The offload engine: on-dock work (sync, firmware, ingest) and the deliver loop.

Ingest, per clip: stream into the spool (sha256 checked, fsync, rename) → record it in the
database → only then send the camera the signed deletion confirmation. Deliver, per
recording: users and devices first, then the recording whole through `CDClient`
(idempotent: objects overwrite themselves and a `Complete` container is left alone) →
record the outcome → only then remove the spool files. Each arrow is a commit, so a crash
anywhere leaves a state from which the same step is simply done again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from bodyworn.cdclient.capabilities import STORE_BOOKMARKS, Category
from bodyworn.cdclient.client import CDClient, RetryPolicy
from bodyworn.cdclient.config import CDConnection
from bodyworn.cdclient.errors import CDError, ContentRejected, InsufficientStorage
from bodyworn.cdclient.records import (
    Bookmark,
    CDDevice,
    CDUser,
    ClipFile,
    GnssPoint,
    RecordingUpload,
)
from bodyworn.controller.assistant_pairing import service as assistant_pairing
from bodyworn.controller.offload import service, states
from bodyworn.controller.offload.slots import FairSlots
from bodyworn.controller.outbox import service as outbox
from bodyworn.docklink.client import DockLinkClient, DockLinkError
from bodyworn.docklink.messages import CameraInfo, ClipEntry, Position, RecordingEntry
from bodyworn.evidence.metadata import Location, MetadataError
from bodyworn.store.spool import RawStream, Spool, SpoolMismatch

if TYPE_CHECKING:
    from bodyworn.controller.context import ControllerContext

log = structlog.get_logger(__name__)

CDFactory = Callable[[], CDClient]


@dataclass(frozen=True)
class OffloadConfig:
    """Tunables of the engine (the defaults suit one controller with a few docks)."""

    max_ingests: int = 4
    # Clips of one camera in flight at once: while one is fsynced and confirmed, the next
    # one is already arriving.
    ingests_per_camera: int = 4
    max_deliveries: int = 4
    # Clips of a recording still arriving that may go to the CD at once ahead of the rest
    # (0: none; a recording is then sent once it is whole in the spool).
    early_uploads: int = 2
    interval_s: float = 2.0
    backoff_initial_s: float = 5.0
    backoff_max_s: float = 600.0
    categories_max_age: timedelta = timedelta(days=1)
    # A docked camera restarts before it can be offloaded (20 s of its time); wait this
    # long (real seconds) for it, asking every `ready_poll_s`.
    ready_timeout_s: float = 180.0
    ready_poll_s: float = 0.5
    # The client's own retries per request; the loop's back-off comes on top.
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(
        attempts=4, timeout=60.0, wait_initial=0.5, wait_max=5.0))


def _backoff(cfg: OffloadConfig, attempts: int) -> timedelta:
    seconds = cfg.backoff_initial_s * (2 ** max(0, min(attempts - 1, 16)))
    return timedelta(seconds=min(seconds, cfg.backoff_max_s))


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split("."))
    except ValueError:
        return ()


def _md5_of(clip: ClipEntry) -> str | None:
    """The camera's md5 of a clip when its manifest gives a well-formed one."""
    value = clip.md5
    if isinstance(value, str) and len(value) == 32 and all(
            c in "0123456789abcdef" for c in value):
        return value
    return None


def _location(fix: Position | None) -> Location | None:
    if fix is None:
        return None
    # The camera reports no accuracy with a fix; 0 says "not given" in the CD's string.
    return Location(fix.latitude, fix.longitude, 0.0, fix.at)


class OffloadEngine:
    """One per controller: handles docked cameras and delivers the spool to the CD."""

    def __init__(
        self,
        ctx: ControllerContext,
        *,
        config: OffloadConfig | None = None,
        spool: Spool | None = None,
        cd_factory: CDFactory | None = None,
        autostart: bool = True,
    ) -> None:
        self.ctx = ctx
        self.config = config or OffloadConfig()
        self.spool = spool or Spool(ctx.data_dir / "spool")
        self.firmware_dir = ctx.data_dir / "firmware"
        self.autostart = autostart
        self._cd_factory = cd_factory
        self._cd: CDClient | None = None
        self._cd_source: str | None = None
        self._ingest_slots = FairSlots(self.config.max_ingests)
        self._categories: tuple[tuple[Category, ...], datetime] | None = None
        self._categories_lock = threading.Lock()
        self._dock_locks: dict[str, threading.Lock] = {}
        self._dock_locks_guard = threading.Lock()
        self._categories_failed_at: datetime | None = None
        # Whether the CD stores bookmarks (categories and notes), read with its categories;
        # the Assistant offers categories and notes only then.
        self.stores_bookmarks = False
        self._cd_backoff_until: datetime | None = None
        self._cd_failures = 0
        # Set while the CD answers 507, cleared by the first delivery it accepts again
        # (health.service.set_cd_health is told too, for the dashboard).
        self.cd_storage_full: str | None = None
        # Set while the spool cannot be written (disk full or failing): ingest pauses and
        # cameras keep their clips; for the dashboard's issues.
        self.spool_trouble: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        # Set (from any thread, via `wake`) when a recording is ready: the loop starts its
        # next pass at once instead of after `interval_s`.
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Objects stored ahead of their recording ({recording key: {object: md5}}); only a
        # shortcut: the delivery checks each at the CD, and after a restart sends them again.
        self._early: dict[int, dict[str, str]] = {}
        self._early_slots: asyncio.Semaphore | None = None
        self._early_tasks: dict[int, set[asyncio.Future[None]]] = {}

    # ---- the content destination -------------------------------------------------------

    def _session(self) -> Session:
        return self.ctx.factory()

    async def _client(self) -> CDClient:
        if self._cd_factory is not None:
            if self._cd is None:
                self._cd = self._cd_factory()
            return self._cd
        from bodyworn.controller.destinations.service import current_file

        def read() -> Any:
            with self._session() as session:
                return current_file(session)

        parsed = await asyncio.to_thread(read)
        source = parsed.raw.decode("utf-8", "replace")
        if self._cd is None or self._cd_source != source:
            if self._cd is not None:
                await self._cd.aclose()
            self._cd = CDClient(
                CDConnection.from_parsed(parsed), retry=self.config.retry, clock=self.ctx.clock
            )
            self._cd_source = source
        return self._cd

    async def aclose(self) -> None:
        """Close the CD client."""
        if self._cd is not None:
            await self._cd.aclose()
            self._cd = None

    def categories(self) -> tuple[Category, ...]:
        """The CD's categories, read at most daily (from a worker thread: no event loop).

        Cameras docked together ask at once: one of them reads, the others wait for it.
        """
        with self._categories_lock:
            now = self.ctx.clock.now()
            cached = self._categories
            if cached is not None and now - cached[1] < self.config.categories_max_age:
                return cached[0]
            failed = self._categories_failed_at
            if failed is not None and now - failed < timedelta(minutes=1):
                # The CD just failed us: the cameras behind this one do not wait for it too.
                return cached[0] if cached else ()
            try:
                found = asyncio.run(self._fetch_categories_once())
            except (CDError, LookupError, httpx.HTTPError, RuntimeError) as exc:
                # RuntimeError: called on a thread that runs an event loop; keep what we have.
                log.info("offload.categories_unavailable", error=str(exc))
                self._categories_failed_at = now
                return cached[0] if cached else ()
            self._categories, self._categories_failed_at = (found, now), None
            return found

    async def _fetch_categories_once(self) -> tuple[Category, ...]:
        # A client of its own: the loop's client belongs to the loop's event loop.
        if self._cd_factory is not None:
            cd = self._cd_factory()
        else:
            from bodyworn.controller.destinations.service import current_file

            with self._session() as session:
                parsed = current_file(session)
            cd = CDClient(CDConnection.from_parsed(parsed), retry=self.config.retry,
                          clock=self.ctx.clock)
        async with cd:
            self.stores_bookmarks = (await cd.capabilities()).supports(STORE_BOOKMARKS)
            return (await cd.categories()).categories

    # ---- on dock -------------------------------------------------------------------------

    def on_dock(self, serial: str, camera: DockLinkClient) -> None:
        """The dock listener: bring the camera up to date, then offload it.

        One at a time per camera: a repeated dock event (or a restart's resume racing a new
        event) waits for the work under way and then finds it done.
        """
        with self._dock_locks_guard:
            lock = self._dock_locks.setdefault(serial, threading.Lock())
        with lock:
            self._on_dock(serial, camera)

    def _on_dock(self, serial: str, camera: DockLinkClient) -> None:
        try:
            info = self.wait_ready(camera)
            if info is None:
                log.info("offload.camera_not_ready", camera=serial)
                return
            info = self.sync_camera(serial, camera, info)
            self.ingest(serial, camera, info)
        except (DockLinkError, httpx.HTTPError) as exc:
            # Undocked or refused mid-way: what was confirmed stays confirmed; the next
            # dock (any bay) carries on from the tables and the spool.
            log.info("offload.dock_interrupted", camera=serial, error=str(exc))

    def _user_and_profile(self, session: Session, user_ref: str | None) -> tuple[Any, Any]:
        from bodyworn.controller.profiles.models import ProfileRow
        from bodyworn.controller.profiles.service import load
        from bodyworn.controller.users.models import BodyWornUser

        if not user_ref:
            return None, None
        user = session.scalar(select(BodyWornUser).where(
            (BodyWornUser.uuid == user_ref) | (BodyWornUser.user_id == user_ref)))
        if user is None:
            return None, None
        row = session.get(ProfileRow, user.profile_id)
        return user, load(row) if row is not None else None

    def wait_ready(self, camera: DockLinkClient) -> CameraInfo | None:
        """The camera's info once it can be offloaded (or is locked); None on time-out."""
        deadline = time.monotonic() + self.config.ready_timeout_s
        while True:
            info = camera.info()
            if info.offload_ready or info.locked:
                return info
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.config.ready_poll_s)

    def sync_camera(self, serial: str, camera: DockLinkClient,
                    info: CameraInfo | None = None) -> CameraInfo:
        """Push time, time zone, the user's profile and categories; firmware when newer."""
        from bodyworn.controller.setup.models import SystemSettings

        info = info if info is not None else camera.info()
        if info.locked:
            return info
        with self._session() as session:
            system = session.get(SystemSettings, 1)
            timezone = system.timezone if system is not None else None
            _, profile = self._user_and_profile(session, info.user_id)
        names = [c.name for c in self.categories()]
        info = camera.configure(
            time=self.ctx.clock.now(), timezone=timezone, profile=profile,
            categories=names or None,
        )
        # The Assistant: the camera's certificate and its user's pairings (one step of its own).
        assistant_pairing.sync_camera(self.ctx, serial, camera, info,
                                      annotations=self.stores_bookmarks)
        newest = self.newest_firmware()
        if newest is not None and _version(newest[0]) > _version(info.firmware):
            camera.push_firmware(newest[0], newest[1].read_bytes())
            log.info("offload.firmware_pushed", camera=serial, version=newest[0])
        return info

    def newest_firmware(self) -> tuple[str, Path] | None:
        """The newest image in the firmware folder (`<version>.bin`), if any."""
        if not self.firmware_dir.is_dir():
            return None
        found = [(p.stem, p) for p in self.firmware_dir.glob("*.bin") if _version(p.stem)]
        return max(found, key=lambda f: _version(f[0])) if found else None

    def ingest(self, serial: str, camera: DockLinkClient, info: CameraInfo | None = None
               ) -> None:
        """Offload every clip the camera lists: spool, record, then confirm its deletion."""
        manifest = camera.manifest()
        model = info.model if info is not None else ""
        work: list[ClipEntry] = []
        with self._session() as session, session.begin():
            for rec in manifest.recordings:
                service.record_manifest(session, self.ctx.clock, serial, rec,
                                        {"bwc_model": model})
                work.extend(rec.clips)
            service.note_gone(session, self.ctx.clock, serial, {c.name for c in work})
        if self.config.ingests_per_camera <= 1 or len(work) <= 1:
            for clip in work:
                self.ingest_clip(serial, camera, clip, self._ingest_slots.slot(serial))
            return
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
                    self.ingest_clip(serial, camera, clip, self._ingest_slots.slot(serial))
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
        name = clip.name
        with self._session() as session:
            row = service.clip(session, name)
            state = row.state if row is not None else None
            released = row is not None and row.released_at is not None
            other = row is not None and row.sha256 != clip.sha256
        if other:
            # Same name, other bytes: never confirm a clip we do not hold; it stays put.
            log.error("offload.clip_name_clash", camera=serial, clip=name)
            return
        if released:
            return
        if state == states.ON_CAMERA:
            try:
                with slot or contextlib.nullcontext():
                    entry = self.spool.ingest(
                        serial, name, clip.size, clip.sha256,
                        lambda have: self._stream(camera, name, have), md5=_md5_of(clip))
            except SpoolMismatch as exc:
                with self._session() as session, session.begin():
                    service.note_ingest_error(session, self.ctx.clock, name, str(exc))
                return
            except OSError as exc:
                # The controller's disk (full or failing): the camera keeps its clip.
                self.spool_trouble = str(exc)
                with self._session() as session, session.begin():
                    service.note_ingest_error(session, self.ctx.clock, name, f"spool: {exc}")
                log.warning("offload.spool_error", camera=serial, clip=name, error=str(exc))
                return
            self.spool_trouble = None
            with self._session() as session, session.begin():
                rec_pk, whole = service.mark_in_spool(session, self.ctx.clock, name, entry.md5)
            if whole:
                self.wake()
            else:
                self._upload_early_soon(rec_pk, name)
        self.confirm(serial, camera, name, clip.sha256)

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
        from urllib.parse import quote

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
        with self._session() as session:
            row = service.clip(session, name)
            if row is None or row.state not in states.HELD:
                raise AssertionError(f"{name} is not held durably; refusing to confirm")
        try:
            camera.delete_clip(name, sha256)
        except DockLinkError as exc:
            if exc.reason != "no_clip":
                raise
            # Gone already: our earlier confirmation landed but its reply was lost.
        with self._session() as session, session.begin():
            service.mark_released(session, self.ctx.clock, name)

    # ---- delivery --------------------------------------------------------------------------

    def _user_uuid(self, session: Session, ref: str | None) -> str:
        user, _ = self._user_and_profile(session, ref)
        return str(user.uuid) if user is not None else (ref or "")

    def _scu_serial(self, session: Session) -> str:
        from bodyworn.controller.identity.service import signing_identity

        try:
            return signing_identity(session).system_id[:32]
        except LookupError:
            return ""

    def build_upload(self, session: Session, rec_pk: int, *, held_only: bool = False
                     ) -> RecordingUpload:
        """The CD upload of a recording from its manifest entry and its spooled clips.

        `held_only`: just the clips in the spool so far (a recording still arriving).
        """
        import json

        from bodyworn.controller.offload.models import OffloadRecording

        rec = session.get(OffloadRecording, rec_pk)
        assert rec is not None
        doc = json.loads(rec.manifest_json)
        entry = RecordingEntry.from_json(doc, clips=False)
        serial = rec.camera_serial
        clips = tuple(
            ClipFile(self.spool.path(serial, c.name), c.start, c.end, md5=c.md5)
            for c in service.clips_of(session, rec.id)
            if not held_only or c.state == states.IN_SPOOL
        )
        if not clips:
            raise LookupError(f"recording {rec.recording_id} has no clip in the spool")
        trigger_on = entry.trigger_on
        stopped = entry.stopped_at or clips[-1].stop
        trigger_off = entry.trigger_off or stopped
        by_name = {c.name: c for c in (self._categories[0] if self._categories else ())}
        bookmarks: list[Bookmark] = []
        for i, name in enumerate(entry.categories):
            category = by_name.get(name) or Category(id=name[:32], name=name)
            bookmarks.append(Bookmark(self._bookmark_id(rec.recording_id, "c", i), trigger_on,
                                      category=category))
        for i, note in enumerate(entry.notes):
            bookmarks.append(Bookmark(self._bookmark_id(rec.recording_id, "n", i), trigger_on,
                                      note=note))
        return RecordingUpload(
            recording_id=rec.recording_id,
            user_uuid=self._user_uuid(session, entry.user_id),
            bwc_serial=serial,
            scu_serial=self._scu_serial(session),
            bwc_model=str(doc.get("bwc_model") or ""),
            firmware_version=entry.firmware,
            trigger_on=entry.trigger,
            trigger_off=entry.stop_reason or "",
            trigger_on_time=trigger_on,
            trigger_off_time=trigger_off,
            start_time=entry.started_at,
            stop_time=stopped,
            clips=clips,
            time_zone=entry.timezone or "UTC",
            trigger_on_location=_location(entry.trigger_on_location),
            trigger_off_location=_location(entry.trigger_off_location),
            gnss_track=tuple(
                GnssPoint(p.latitude, p.longitude, p.at) for p in entry.gnss_track
            ),
            bookmarks=tuple(bookmarks),
        )

    @staticmethod
    def _bookmark_id(recording_id: str, kind: str, index: int) -> str:
        # Derived, not random: a repeated delivery overwrites the same bookmark object.
        return uuid.uuid5(uuid.NAMESPACE_URL, f"bodyworn:{recording_id}:{kind}{index}").hex

    async def _db(self, fn: Callable[[Session], Any]) -> Any:
        def run() -> Any:
            with self._session() as session, session.begin():
                return fn(session)

        return await asyncio.to_thread(run)

    async def deliver_outbox(self, cd: CDClient) -> None:
        """Write queued users and devices to the CD, oldest first, before any recording."""
        def queued(s: Session) -> list[tuple[int, str, str, str, dict[str, Any], bool]]:
            rows = outbox.pending(s)
            # A new object is created with one PUT; only a later change is a POST.
            first = outbox.first_writes(s, rows)
            return [(r.id, r.kind, r.ref, r.action, outbox.payload_of(r), r.id not in first)
                    for r in rows]

        for row_id, kind, ref, action, payload, update in await self._db(queued):
            active = action != "deactivate"
            try:
                if kind == "user":
                    await cd.put_user(CDUser(ref, str(payload.get("name", "")),
                                             payload.get("user_id"), active=active),
                                      update=update)
                else:
                    await cd.put_device(CDDevice(ref, str(payload.get("name", ref)),
                                                 str(payload.get("model", "")), active=active),
                                        update=update)
            except ContentRejected as exc:
                # Never storable as it is: holding the queue for it would hold every
                # recording too; its recordings then follow the rejected-content rules.
                log.warning("offload.object_rejected", kind=kind, ref=ref, error=str(exc))
            await self._db(partial(outbox.mark_delivered, clock=self.ctx.clock, ids=[row_id]))

    async def deliver_recording(self, cd: CDClient, rec_pk: int) -> None:
        """Deliver one recording and record the outcome; the spool is cleaned afterwards."""
        clock = self.ctx.clock

        def start(session: Session) -> RecordingUpload | str:
            service.mark_delivering(session, clock, rec_pk)
            return self._safe_upload(session, rec_pk)

        upload = await self._db(start)
        if isinstance(upload, str):
            await self._db(lambda s: service.mark_outcome(
                s, clock, rec_pk, states.NOT_TRANSFERRED, None, upload))
            return
        running = self._early_tasks.get(rec_pk)
        if running:
            # Let clips already on their way land first rather than send them twice.
            await asyncio.gather(*running, return_exceptions=True)
        try:
            result = await cd.deliver_recording(upload, early=self._early.get(rec_pk))
        except (MetadataError, ValueError) as exc:
            # What the CD API cannot express (a name or value out of its rules) will never
            # be storable: kept here, downloadable, like a 400 without rejected content.
            reason = f"not describable to the CD: {exc}"
            await self._db(lambda s: service.mark_outcome(
                s, clock, rec_pk, states.NOT_TRANSFERRED, None, reason))
            return
        state = {"delivered": states.AT_CD, "rejected_content": states.REJECTED,
                 "not_transferred": states.NOT_TRANSFERRED}[result.outcome]
        await self._db(lambda s: service.mark_outcome(
            s, clock, rec_pk, state, result.container, result.reason, result.verified))
        self._early.pop(rec_pk, None)
        log.info("offload.delivered", recording=upload.recording_id, outcome=result.outcome,
                 container=result.container)

    def _safe_upload(self, session: Session, rec_pk: int) -> RecordingUpload | str:
        try:
            return self.build_upload(session, rec_pk)
        except (MetadataError, ValueError, KeyError) as exc:
            # Metadata the CD API cannot carry: it will never be storable as it is.
            return f"cannot describe the recording to the CD: {exc}"

    async def remove_delivered_spool(self) -> None:
        """Remove spool files of clips the CD holds (after the outcome was committed)."""
        rows = await self._db(lambda s: [(c.id, c.camera_serial, c.name)
                                         for c in service.spool_to_remove(s)])
        for _, serial, name in rows:
            self.spool.remove(serial, name)
        if rows:
            await self._db(lambda s: service.mark_spool_removed(
                s, self.ctx.clock, [r[0] for r in rows]))

    async def run_once(self) -> None:
        """One pass: outbox, due recordings (fair, limited), spool clean-up, pruning."""
        clock = self.ctx.clock
        now = clock.now()
        if self._cd_backoff_until is not None and now < self._cd_backoff_until:
            return
        try:
            cd = await self._client()
            await self.deliver_outbox(cd)
            # Bookmarks name categories by the CD's IDs (the client re-reads them daily).
            self._categories = ((await cd.categories()).categories, now)
            self.stores_bookmarks = (await cd.capabilities()).supports(STORE_BOOKMARKS)
        except LookupError:
            return  # not set up yet
        except CDError as exc:
            self._cd_trouble(exc)
            return
        due = await self._db(lambda s: [r.id for r in service.deliverable(
            s, now, self.config.max_deliveries * 4)])
        slots = asyncio.Semaphore(self.config.max_deliveries)
        full: list[InsufficientStorage] = []
        failures: list[CDError] = []

        async def one(rec_pk: int) -> None:
            async with slots:
                if full:
                    return
                try:
                    await self.deliver_recording(cd, rec_pk)
                except InsufficientStorage as exc:
                    full.append(exc)
                    await self._failed(rec_pk, f"CD out of storage: {exc}", retry=False)
                except CDError as exc:
                    failures.append(exc)
                    await self._failed(rec_pk, str(exc), retry=True)
                    log.info("offload.delivery_failed", recording=rec_pk, error=str(exc))
                except OSError as exc:
                    # The spool cannot be read (a file gone or a failing disk): this
                    # recording waits its back-off; the others go on.
                    await self._failed(rec_pk, f"spool: {exc}", retry=True)
                    log.error("offload.spool_unreadable", recording=rec_pk, error=str(exc))

        await asyncio.gather(*(one(pk) for pk in due))
        if full:
            self._cd_trouble(full[0])
        elif len(failures) < len(due):
            self.cd_storage_full = None
            self._cd_failures = 0
            self._health(True)
        elif failures:
            self._health(False, str(failures[0]))
        elif self.cd_storage_full is None:
            # Nothing was due, but users, devices and categories went through: the CD
            # answers again (a full CD stays flagged until it accepts a recording).
            self._cd_failures = 0
            self._health(True)
        await self.remove_delivered_spool()
        await self._db(lambda s: service.prune(s, clock.now()))

    async def _failed(self, rec_pk: int, error: str, *, retry: bool) -> None:
        from bodyworn.controller.offload.models import OffloadRecording

        def note(session: Session) -> None:
            rec = session.get(OffloadRecording, rec_pk)
            attempts = rec.attempts if rec is not None else 1
            # A full CD is retried by the loop's pause, not per recording.
            wait = _backoff(self.config, attempts) if retry else timedelta(0)
            service.mark_failed(session, self.ctx.clock, rec_pk, error, wait)

        await self._db(note)

    def _cd_trouble(self, exc: CDError) -> None:
        self._cd_failures += 1
        if isinstance(exc, InsufficientStorage):
            self.cd_storage_full = str(exc)
        wait = _backoff(self.config, self._cd_failures)
        self._cd_backoff_until = self.ctx.clock.now() + wait
        self._health(False, str(exc))
        log.warning("offload.cd_paused", error=str(exc), seconds=wait.total_seconds())

    def _health(self, ok: bool, detail: str = "") -> None:
        from bodyworn.controller.health.service import set_cd_health

        if self.cd_storage_full:
            detail = f"out of storage: {detail}"
        set_cd_health(self.ctx, ok, detail[:300])

    def _upload_early_soon(self, rec_pk: int, name: str) -> None:
        """From an ingest thread: have the loop send this clip ahead of its recording."""
        loop = self._loop
        if loop is None or self.config.early_uploads < 1 or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop stopped meanwhile
            loop.call_soon_threadsafe(self._start_early, rec_pk, name)

    def _start_early(self, rec_pk: int, name: str) -> None:
        task = asyncio.ensure_future(self._upload_early(rec_pk, name))
        running = self._early_tasks.setdefault(rec_pk, set())
        running.add(task)

        def done(t: asyncio.Future[None]) -> None:
            running.discard(t)
            if not running and self._early_tasks.get(rec_pk) is running:
                del self._early_tasks[rec_pk]

        task.add_done_callback(done)

    async def _upload_early(self, rec_pk: int, name: str) -> None:
        """Store one spooled clip of a recording still arriving; any trouble: leave it.

        Never needed for correctness: the recording's delivery sends what is not at the CD.
        """
        if self._early_slots is None:
            self._early_slots = asyncio.Semaphore(max(1, self.config.early_uploads))
        async with self._early_slots:
            now = self.ctx.clock.now()
            if self.cd_storage_full or (
                    self._cd_backoff_until is not None and now < self._cd_backoff_until):
                return
            try:
                cd = await self._client()
                if await self._db(lambda s: bool(outbox.pending(s))):
                    return  # users and devices go first; the delivery sends the clip
                upload = await self._db(lambda s: self._early_upload_of(s, rec_pk))
                if upload is None:
                    return
                clip = next((c for c in upload.clips if c.path.name == name), None)
                if clip is None:
                    return
                sent = await cd.store_clip(upload, clip)
            except (CDError, MetadataError, ValueError, LookupError, OSError,
                    httpx.HTTPError) as exc:
                log.info("offload.early_upload_skipped", recording=rec_pk, clip=name,
                         error=str(exc))
                return
            self._early.setdefault(rec_pk, {}).update(sent)

    def _early_upload_of(self, session: Session, rec_pk: int) -> RecordingUpload | None:
        from bodyworn.controller.offload.models import OffloadRecording

        rec = session.get(OffloadRecording, rec_pk)
        if rec is None or rec.state != states.ON_CAMERA:
            return None  # whole already (the delivery takes it) or done
        return self.build_upload(session, rec_pk, held_only=True)

    def wake(self) -> None:
        """Start the deliver loop's next pass now (safe from any thread)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop stopped meanwhile
                loop.call_soon_threadsafe(wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        """The deliver loop: a pass, then a pause (or a wake-up), until `stop` is set."""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        wake = self._wake
        while not stop.is_set():
            wake.clear()
            try:
                await self.run_once()
            except Exception:
                # The loop outlives any one bad pass; the tables say what to redo.
                log.exception("offload.pass_failed")
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
            try:
                await asyncio.wait(waits, timeout=self.config.interval_s,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
        self._loop = self._wake = None
        for running in list(self._early_tasks.values()):
            for task in list(running):
                task.cancel()
        await self.aclose()

    def start(self) -> None:
        """Start the deliver loop on the running event loop (the app's lifespan)."""
        if self._task is None and self.autostart:
            self._stop = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self.run(self._stop))

    async def stop(self) -> None:
        """Stop the deliver loop and wait for it (an upload in flight is abandoned)."""
        if self._task is None or self._stop is None:
            return
        self._stop.set()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        await self.aclose()
