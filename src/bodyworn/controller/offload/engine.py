"""The offload engine: ingest from docked cameras, and the deliver loop to the CD.

Its jobs live in their own modules: ingest.py (camera → spool → tables → confirmation),
deliver.py (a recording whole to the CD, outcome, spool clean-up), early.py (clips of a
recording still arriving sent ahead), outbox_delivery.py (users and devices first),
cd_health.py (the CD down, its probe, recovery) and categories.py (the CD's categories for docking
cameras). This class assembles them and runs the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

import structlog
from sqlalchemy.orm import Session

from bodyworn.cdclient.capabilities import STORE_BOOKMARKS, Category
from bodyworn.cdclient.client import CDClient
from bodyworn.cdclient.errors import CDError
from bodyworn.cdclient.records import RecordingUpload
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.integrity import service as integrity
from bodyworn.controller.offload import service
from bodyworn.controller.offload.base import OffloadConfig, in_transaction
from bodyworn.controller.offload.categories import CategoriesCache
from bodyworn.controller.offload.cd_health import CdHealthTracker, is_cd_down
from bodyworn.controller.offload.cdlink import CdLink, FixedClients
from bodyworn.controller.offload.deliver import Deliverer
from bodyworn.controller.offload.early import EarlyUploads
from bodyworn.controller.offload.ingest import Ingester
from bodyworn.controller.offload.outbox_delivery import deliver_outbox
from bodyworn.controller.offload.upload import build_upload
from bodyworn.docklink.client import DockLinkClient
from bodyworn.docklink.messages import CameraInfo
from bodyworn.evidence.metadata import recording_container_name
from bodyworn.store.spool import Spool

log = structlog.get_logger(__name__)

CDFactory = Callable[[], CDClient]
# Probed when the recording that waits cannot be described (its delivery will say why).
SYSTEM_CONTAINER = "System"
PruneHook = Callable[[Session, Sequence[int]], None]

__all__ = ["CDFactory", "OffloadConfig", "OffloadEngine"]


class OffloadEngine:
    """One per controller: ingests docked cameras and delivers the spool to the CD."""

    def __init__(
        self,
        ctx: ControllerContext,
        *,
        config: OffloadConfig | None = None,
        spool: Spool | None = None,
        cd_factory: CDFactory | None = None,
        autostart: bool = True,
        before_prune: PruneHook | None = None,
    ) -> None:
        self.ctx = ctx
        self.config = config or OffloadConfig()
        self.spool = spool or ctx.spool
        self._autostart = autostart
        # Whether the CD stores bookmarks (categories and notes), read with its categories;
        # the Assistant offers categories and notes only then.
        self.stores_bookmarks = False
        # Runs in the pruning transaction before history rows go (metrics keeps totals).
        self.before_prune = before_prune
        clients = FixedClients(cd_factory) if cd_factory is not None else ctx.cd_clients
        self.link = CdLink(clients, self.config.retry)
        self.tracker = CdHealthTracker(self.config, ctx.clock, ctx.health)
        self.categories = CategoriesCache(ctx.clock, self.config.categories_max_age,
                                          self.config.categories_wait_s,
                                          lambda: self.read_categories())
        self.ingester = Ingester(ctx, self.config, self.spool, self._spooled)
        self.early = EarlyUploads(ctx, self.config, self.tracker, self.link.client,
                                  lambda s, pk: self.build_upload(s, pk, held_only=True))
        self.deliverer = Deliverer(ctx, self.config, self.spool, self.early,
                                   self.build_upload)
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        # Set (from any thread, via `wake`) when a recording is ready: the loop starts its
        # next pass at once instead of after `interval_s`.
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def autostart(self) -> bool:
        """Whether the loop starts with the app (tests drive it by hand)."""
        return self._autostart

    # ---- what docking asks for ---------------------------------------------------------

    def ingest(self, serial: str, camera: DockLinkClient, info: CameraInfo | None = None
               ) -> None:
        """Offload every clip the camera lists (ingest.py)."""
        self.ingester.ingest(serial, camera, info)

    def category_names(self) -> list[str]:
        """The CD's category names for a docking camera (categories.py)."""
        return [c.name for c in self.categories.get()]

    async def read_categories(self) -> tuple[Category, ...]:
        """Read the CD's categories with the loop's client (the client keeps them a day)."""
        cd = await self.link.client()
        self.stores_bookmarks = (await cd.capabilities()).supports(STORE_BOOKMARKS)
        return (await cd.categories()).categories

    def build_upload(self, session: Session, rec_pk: int, *, held_only: bool = False
                     ) -> RecordingUpload:
        """The CD upload of a recording (upload.py), bookmarks by the CD's category IDs."""
        return build_upload(session, self.spool, self.categories.current(), rec_pk,
                            held_only=held_only)

    def _spooled(self, rec_pk: int, name: str, whole: bool) -> None:
        if whole:
            self.wake()
        else:
            self.early.soon(rec_pk, name)

    # ---- the deliver loop --------------------------------------------------------------

    async def run_once(self) -> None:
        """One pass: outbox, due recordings (fair, limited), spool clean-up, pruning.

        While the CD is down (cd_health.py) a pass waits for its probe; when the probe
        is answered every waiting recording is due again and one goes first.
        """
        clock = self.ctx.clock
        now = clock.now()
        if self.tracker.paused(now):
            return
        canary: list[int] | None = None
        try:
            cd = await self.link.client()
            # Nothing, not even users and cameras, goes to a CD that holds this system
            # under another connection (checked at the first pass, then hourly).
            if not await integrity.ensure_bound(self.ctx, cd):
                self.tracker.answered(waiting=False)  # it answers; integrity says why not
                return
            await deliver_outbox(self.ctx, cd)
            # Bookmarks name categories by the CD's IDs (the client re-reads them daily).
            await self.categories.refresh()
            if self.tracker.down:
                canary = await self._probe(cd)
        except LookupError:
            return  # not set up yet
        except CDError as exc:
            await self._cd_down(exc)
            return
        due = canary if canary is not None else await in_transaction(
            self.ctx.factory, lambda s: [r.id for r in service.deliverable(
                s, clock.now(), self.config.max_deliveries * 4)])
        await self._deliver_due(cd, due)
        await self.deliverer.remove_delivered_spool()
        await in_transaction(self.ctx.factory, lambda s: service.prune(
            s, clock.now(), self.before_prune))
        try:
            await integrity.anchor_if_due(self.ctx, cd)
        except CDError as exc:
            log.info("offload.anchor_deferred", error=str(exc))

    async def _probe(self, cd: CDClient) -> list[int]:
        """The CD is down: one cheap request where deliveries failed (a CDError: still
        down). Answered: every waiting recording is due again, its back-off reset, and
        the one tried least recently goes first (the canary: one recording that keeps
        failing does not hold the others back)."""
        target = await in_transaction(self.ctx.factory, self._probe_target)
        if target is not None:
            await cd.probe(target[1])
        reset = await in_transaction(self.ctx.factory, service.reset_backoff)
        log.info("offload.cd_answers", probed=target, recordings_due_again=reset)
        return [target[0]] if target is not None else []

    def _probe_target(self, session: Session) -> tuple[int, str] | None:
        """The recording waiting that was tried least recently, and its container."""
        rec = service.first_waiting(session)
        if rec is None:
            return None
        try:
            upload = self.build_upload(session, rec.id)
        except (LookupError, ValueError):
            return rec.id, SYSTEM_CONTAINER
        return rec.id, recording_container_name(upload.user_uuid, upload.bwc_serial,
                                                upload.trigger_on_time)

    async def _cd_down(self, exc: CDError, *, recordings: bool = False,
                       stopped: dict[int, str] | None = None) -> None:
        """The CD failed as a whole: down until the next probe; recordings that were
        waiting (and those this pass stopped) wait for it, their back-off unchanged."""
        until = self.tracker.trouble(exc, recordings=recordings)
        await self.deliverer.wait_for_cd(stopped or {}, until)
        await in_transaction(self.ctx.factory, lambda s: service.hold_waiting(s, until))

    async def _deliver_due(self, cd: CDClient, due: list[int]) -> None:
        result = await self.deliverer.deliver_pass(cd, due, self.config.max_deliveries)
        trouble = result.cd_trouble()
        own = dict(result.spool)
        if trouble is not None:
            # Not a failure of each recording: they wait for the CD, back-off unchanged.
            stopped = {pk: str(e) for pk, e in result.failed.items() if is_cd_down(e)}
            stopped |= {pk: str(trouble) for pk in result.stopped}
            own |= {pk: str(e) for pk, e in result.failed.items() if pk not in stopped}
            await self._cd_down(trouble, recordings=True, stopped=stopped)
        else:
            own |= {pk: str(e) for pk, e in result.failed.items()}
        await self.deliverer.failed(own)
        if result.delivered:
            if self.tracker.accepted():
                self.wake()  # it was down: the rest need not wait for the next interval
        elif trouble is None and result.failed:
            until = self.tracker.refused(next(iter(result.failed.values())))
            if until is not None:
                await in_transaction(self.ctx.factory, lambda s: service.hold_waiting(s, until))
        elif not due:
            waiting = self.tracker.recordings_failing and await in_transaction(
                self.ctx.factory, lambda s: service.first_waiting(s) is not None)
            self.tracker.answered(waiting=waiting)

    def wake(self) -> None:
        """Start the deliver loop's next pass now (safe from any thread)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop stopped meanwhile
                loop.call_soon_threadsafe(wake.set)

    def _bind(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop
        self._wake = asyncio.Event() if loop is not None else None
        self.categories.bind(loop)
        self.early.bind(loop)

    async def run(self, stop: asyncio.Event) -> None:
        """The deliver loop: a pass, then a pause (or a wake-up), until `stop` is set."""
        self._bind(asyncio.get_running_loop())
        wake = self._wake
        assert wake is not None
        try:
            while not stop.is_set():
                wake.clear()
                try:
                    await self.run_once()
                except Exception:
                    # The loop outlives any one bad pass; the tables say what to redo.
                    log.exception("offload.pass_failed")
                await _first_of(stop, wake, self.config.interval_s)
        finally:
            self._bind(None)
            self.early.cancel()
            await self.aclose()

    async def aclose(self) -> None:
        """Close the CD client."""
        await self.link.aclose()

    def start(self) -> None:
        """Start the deliver loop on the running event loop (the app's lifespan)."""
        if self._task is None and self._autostart:
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


async def _first_of(stop: asyncio.Event, wake: asyncio.Event, timeout: float) -> None:
    """Wait until `stop` or `wake` is set, or `timeout` seconds passed."""
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
