"""The on-dock sequence and the undock, in one place.

A station's event (or, after a restart, what a station says its bays hold):

1. record the station and note where the camera is (docks/, cameras/);
2. read the camera over the dock link and settle its record: a camera reset behind our
   back is new again, a pending removal is tried until it can finish (cameras/);
3. assignment: holster pairings the camera reports, a self-assigned camera back in the
   pool, its user, profile and holster sensor pushed (assignment/);
4. `CameraDocked` on the event bus;
5. on a worker thread, one at a time per camera: wait for the camera's restart, sync
   time, time zone, profile, categories and firmware (sync.py), then ingest (offload/).

An undock notes the camera gone and ends or lapses its self-assignment, in one
transaction; `CameraUndocked` follows the commit. Steps 1-4 run in the caller's thread
(the station's request), so the station hears back once the camera is known.
"""

from __future__ import annotations

import threading

import httpx
import structlog

from bodyworn.controller.assignment import service as assignment
from bodyworn.controller.cameras import service as cameras
from bodyworn.controller.cameras.states import CameraState
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.docking.sync import ReadyWait, sync_camera, wait_ready
from bodyworn.controller.docks import service as docks
from bodyworn.controller.events import CameraDocked, CameraUndocked, emit
from bodyworn.controller.identity import service as identity
from bodyworn.controller.ports import CameraOffload
from bodyworn.docklink.client import DockLinkClient, DockLinkError
from bodyworn.docklink.messages import StationEvent

log = structlog.get_logger(__name__)


class Docking:
    """One per controller (ports.DockEvents); `offload` None: no offload on dock."""

    def __init__(self, ctx: ControllerContext, offload: CameraOffload | None,
                 ready: ReadyWait | None = None) -> None:
        self.ctx = ctx
        self.offload = offload
        self.ready = ready or ReadyWait()
        self._workers: list[threading.Thread] = []
        self._workers_lock = threading.Lock()
        self._camera_locks: dict[str, threading.Lock] = {}

    # ---- events ------------------------------------------------------------------------

    def handle(self, event: StationEvent) -> None:
        """Record an event and run the camera's dock or undock work."""
        facts = docks.station_facts(event.station_url)
        ctx = self.ctx
        if facts is not None and facts.station_serial == event.station_serial:
            ctx.health.note_station(event.station_serial, True)  # it just spoke to us
        with ctx.factory() as session, session.begin():
            docks.record_station(session, ctx.clock, event, facts)
            if not event.docked:
                cameras.note_undocked(session, ctx.clock, event.camera_serial,
                                      event.station_serial, event.bay)
                assignment.on_undock(session, ctx.clock, event.camera_serial)
                emit(session, CameraUndocked(event.camera_serial, event.station_serial,
                                             event.bay))
                return
            cameras.note_docked(session, ctx.clock, event.camera_serial,
                                event.station_serial, event.bay, event.camera_url)
        if self._settle(event.camera_serial):
            ctx.events.publish(CameraDocked(event.camera_serial, event.station_serial,
                                            event.bay))
            self._start_offload(event.camera_serial, event.camera_url)

    def _settle(self, serial: str) -> bool:
        """Steps 2 and 3: the camera's record and its assignment. True: an added camera."""
        ctx = self.ctx
        view = cameras.refresh(ctx, serial)
        if not view.live:
            added = view.state == CameraState.ADDED
        else:
            with ctx.factory() as session, session.begin():
                system_id = identity.signing_identity(session).system_id
                added = cameras.settle_docked(session, ctx.clock, serial, system_id)
            if added and view.state == CameraState.REMOVING:
                # Just docked, the camera restarts before it shows its recordings.
                cameras.watch_removal(ctx, serial)
        if not added:
            return False
        with ctx.factory() as session, session.begin():
            assignment.on_dock(session, ctx.clock, serial, view.info.get("holster") or {})
        try:
            assignment.push_user(ctx, serial)
        except cameras.LINK_ERRORS as exc:
            log.info("configuration push on dock failed", camera=serial, error=str(exc))
        return True

    # ---- step 5: sync and ingest ---------------------------------------------------------

    def _start_offload(self, serial: str, camera_url: str) -> None:
        if self.offload is None:
            return

        def run() -> None:
            try:
                with self.ctx.docklink(camera_url) as client:
                    self.sync_and_ingest(serial, client)
            except Exception:  # a worker's failure must not take the controller down
                log.exception("on-dock work failed", camera=serial)

        thread = threading.Thread(target=run, name=f"on-dock-{serial}", daemon=True)
        with self._workers_lock:
            self._workers[:] = [t for t in self._workers if t.is_alive()]
            self._workers.append(thread)
        thread.start()

    def sync_and_ingest(self, serial: str, camera: DockLinkClient) -> None:
        """Bring the camera up to date, then offload it.

        One at a time per camera: a repeated dock event (or a restart's resync racing a
        new event) waits for the work under way and then finds it done.
        """
        with self._workers_lock:
            lock = self._camera_locks.setdefault(serial, threading.Lock())
        with lock:
            self._sync_and_ingest(serial, camera)

    def _sync_and_ingest(self, serial: str, camera: DockLinkClient) -> None:
        offload = self.offload
        assert offload is not None
        try:
            info = wait_ready(camera, self.ready)
            if info is None:
                log.info("offload.camera_not_ready", camera=serial)
                return
            info = sync_camera(self.ctx, serial, camera, info, offload)
            offload.ingest(serial, camera, info)
        except (DockLinkError, httpx.HTTPError) as exc:
            # Undocked or refused mid-way: what was confirmed stays confirmed; the next
            # dock (any bay) carries on from the tables and the spool.
            log.info("offload.dock_interrupted", camera=serial, error=str(exc))

    def wait(self, timeout: float = 10.0) -> None:
        """Wait for on-dock work started so far (tests and an orderly shutdown)."""
        with self._workers_lock:
            threads = list(self._workers)
        for thread in threads:
            thread.join(timeout)

    # ---- after a restart -----------------------------------------------------------------

    def resync(self) -> list[str]:
        """Ask each known station what its bays hold, and handle each as if it docked.

        A station reports a camera when it is docked, not again while it stays there, and
        an event sent while the controller was down is lost; without this a camera docked
        across a restart would keep its clips until it is taken out and put back. The
        on-dock work is one at a time per camera, so an event arriving meanwhile is
        harmless. The serials found docked.
        """
        with self.ctx.factory() as session:
            stations = docks.known_stations(session)
        found = []
        for serial, station_url in stations:
            facts = docks.station_facts(station_url)
            if not facts or facts.station_serial != serial:
                continue  # not answering (or another station at that address): its next event
            for bay in facts.bays:
                camera, url = bay.camera_serial, bay.camera_url
                if camera is None or url is None:
                    continue
                try:
                    self.handle(StationEvent(serial, bay.bay, "dock", camera, url))
                except Exception:  # one camera's trouble must not stop the others
                    log.exception("resync failed", station=serial, camera=camera)
                    continue
                found.append(camera)
        return found
