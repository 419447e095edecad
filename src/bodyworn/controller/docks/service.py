"""Docking stations: the dock port token, dock and undock events, the stations list."""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from bodyworn.docklink import wire as proto
from bodyworn.docklink.messages import StationEvent, StationListing
from bodyworn.domain.clock import Clock
from bodyworn.store.files import write_file_atomic

if TYPE_CHECKING:
    from bodyworn.controller.context import ControllerContext
from bodyworn.controller.docks.models import DockingStationRow

log = structlog.get_logger(__name__)
TOKEN_FILE = "dock_port_token"  # noqa: S105 - a file name, not a secret
_token_cache: dict[Path, str] = {}
_token_lock = threading.Lock()


def ensure_token(data_dir: Path) -> str:
    """The dock port token, created (mode 0600) the first time a controller starts.

    Written whole and durably (a power cut must not leave the stations' token lost or
    empty); a file left empty by an older version is replaced.
    """
    path = data_dir / TOKEN_FILE
    with _token_lock:
        cached = _token_cache.get(path)
        if cached is not None:
            return cached
        try:
            token = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            token = ""
        if not token:
            token = secrets.token_urlsafe(32)
            write_file_atomic(path, (token + "\n").encode("ascii"))
        _token_cache[path] = token
        return token


def token_matches(data_dir: Path, authorization: str | None) -> bool:
    """Whether an `Authorization: Bearer …` header carries the dock port token."""
    if not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip().encode(), ensure_token(data_dir).encode())


def station_facts(station_url: str) -> StationListing | None:
    """The station's own description (model, bays), or None when it does not answer."""
    try:
        response = httpx.get(f"{station_url}{proto.STATION_PATH}", timeout=5)
        response.raise_for_status()
        return StationListing.from_json(response.json())
    except (httpx.HTTPError, ValueError):
        return None


def record_station(session: Session, clock: Clock, event: StationEvent,
                   facts: StationListing | None) -> None:
    """Remember the station (made on its first event)."""
    now = clock.now()
    row = session.get(DockingStationRow, event.station_serial)
    bays = len(facts.bays) if facts else 0
    model = facts.model if facts else ""
    if row is None:
        session.add(DockingStationRow(
            serial=event.station_serial, model=model[:64], bays=max(bays, event.bay + 1),
            station_url=event.station_url, first_seen_at=now, last_event_at=now))
        return
    row.bays = max(bays or row.bays, event.bay + 1)
    row.model = model[:64] or row.model
    row.station_url = event.station_url
    row.last_event_at = now


@dataclass(frozen=True)
class BayView:
    """One bay and what sits in it."""

    bay: int
    camera_serial: str | None
    camera_state: str | None


@dataclass(frozen=True)
class StationView:
    """A docking station with its bays."""

    serial: str
    model: str
    station_url: str
    last_event_at: datetime
    bays: list[BayView] = field(default_factory=list)


def list_stations(session: Session) -> list[StationView]:
    """Every station with its bays and the camera docked in each."""
    from bodyworn.controller.cameras import service as cameras

    docked = cameras.docked_by_station(session)
    views = []
    for row in session.scalars(select(DockingStationRow).order_by(DockingStationRow.serial)):
        in_bays = docked.get(row.serial, {})
        bays = [BayView(i, *(in_bays.get(i) or (None, None))) for i in range(row.bays)]
        views.append(StationView(row.serial, row.model, row.station_url, row.last_event_at,
                                 bays))
    return views


# ---- what the controller does on an event --------------------------------------------

_workers: list[threading.Thread] = []
_workers_lock = threading.Lock()


def handle_event(ctx: ControllerContext, event: StationEvent) -> None:
    """Record an event, bring the camera's record up to date, start the on-dock work."""
    from bodyworn.controller.assignment import service as assignment
    from bodyworn.controller.cameras import service as cameras

    facts = station_facts(event.station_url)
    with ctx.factory() as session, session.begin():
        record_station(session, ctx.clock, event, facts)
        if event.docked:
            cameras.note_docked(session, ctx.clock, event.camera_serial, event.station_serial,
                                event.bay, event.camera_url)
        else:
            cameras.note_undocked(session, ctx.clock, event.camera_serial,
                                  event.station_serial, event.bay)
    if not event.docked:
        assignment.on_undock(ctx, event.camera_serial)
        return
    added = cameras.on_dock(ctx, event.camera_serial)
    if added:
        assignment.on_dock(ctx, event.camera_serial)
        _start_listeners(ctx, event.camera_serial, event.camera_url)


def _start_listeners(ctx: ControllerContext, serial: str, camera_url: str) -> None:
    if not ctx.dock_listeners:
        return

    def run() -> None:
        for listener in list(ctx.dock_listeners):
            try:
                with ctx.docklink(camera_url) as client:
                    listener(serial, client)
            except Exception:  # one listener's failure must not stop the next
                log.exception("dock listener failed", camera=serial)

    thread = threading.Thread(target=run, name=f"on-dock-{serial}", daemon=True)
    with _workers_lock:
        _workers[:] = [t for t in _workers if t.is_alive()]
        _workers.append(thread)
    thread.start()


def resync_stations(ctx: ControllerContext) -> list[str]:
    """After a restart: ask each known station what its bays hold, as if it docked them.

    A station reports a camera when it is docked, not again while it stays there, and an
    event sent while the controller was down is lost; without this a camera docked across
    a restart would keep its clips until it is taken out and put back. Each camera found
    goes through `handle_event` (the on-dock work is one at a time per camera, so an event
    arriving meanwhile is harmless). The serials found docked.
    """
    with ctx.factory() as session:
        stations = [(r.serial, r.station_url) for r in session.scalars(
            select(DockingStationRow).order_by(DockingStationRow.serial))]
    found = []
    for serial, station_url in stations:
        facts = station_facts(station_url)
        if not facts or facts.station_serial != serial:
            continue  # not answering (or another station at that address): its next event
        for bay in facts.bays:
            camera, url = bay.camera_serial, bay.camera_url
            if camera is None or url is None:
                continue
            try:
                handle_event(ctx, StationEvent(serial, bay.bay, "dock", camera, url))
            except Exception:  # one camera's trouble must not stop the others
                log.exception("resync failed", station=serial, camera=camera)
                continue
            found.append(camera)
    return found


def resync_in_background(ctx: ControllerContext) -> threading.Thread:
    """`resync_stations` on a thread of its own (stations may be slow to answer)."""
    thread = threading.Thread(target=resync_stations, args=(ctx,), name="dock-resync",
                              daemon=True)
    thread.start()
    return thread


def wait_for_listeners(timeout: float = 10.0) -> None:
    """Wait for on-dock work started so far (tests and an orderly shutdown)."""
    with _workers_lock:
        threads = list(_workers)
    for thread in threads:
        thread.join(timeout)
