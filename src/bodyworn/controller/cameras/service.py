"""Cameras: the registry, adding over the dock link, assigning, removing, unlocking.

Dock link calls happen outside database transactions: a camera that is slow to answer
must not hold SQLite's one writer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import structlog
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from bodyworn.controller.audit.service import record
from bodyworn.controller.cameras.models import CameraRow
from bodyworn.controller.cameras.states import CameraState
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.identity import service as identity
from bodyworn.controller.integrity import service as integrity
from bodyworn.controller.offload import service as offload_service
from bodyworn.controller.outbox import service as outbox
from bodyworn.controller.refusals import Refused
from bodyworn.controller.system import service as system
from bodyworn.controller.users import service as users
from bodyworn.docklink.client import DockLinkClient, DockLinkError
from bodyworn.docklink.messages import CameraInfo, CameraLog, StationEvent
from bodyworn.domain import assignment as rules
from bodyworn.domain.clock import Clock
from bodyworn.logs import LOG_DIR
from bodyworn.store.files import make_dirs_durable, write_file_atomic

log = structlog.get_logger(__name__)
LINK_ERRORS = (DockLinkError, httpx.HTTPError, ValueError)


class CameraRefused(Refused):
    """What the rules or the camera refused; nothing was changed."""


class PassphraseWrong(CameraRefused):
    """The super admin passphrase did not match."""

    def __init__(self) -> None:
        super().__init__("The Super admin passphrase is wrong.", 403)


@dataclass(frozen=True)
class CameraView:
    """A camera as the manager shows it."""

    serial: str
    state: CameraState
    model: str
    firmware: str
    user_uuid: str | None
    user_name: str
    profile_name: str
    docked: bool
    station_serial: str | None
    bay: int | None
    locked: bool
    info: dict[str, Any]
    seen_at: datetime
    added_at: datetime | None
    live: bool = False
    # A camera of this system that this controller does not know (a restored controller):
    # shown locked until it is unlocked with the super admin passphrase.
    reclaim: bool = False

    @property
    def battery_charge(self) -> float | None:
        """Charge 0..1 (None: not known yet)."""
        value = (self.info.get("battery") or {}).get("charge")
        return float(value) if value is not None else None

    @property
    def battery_hours(self) -> float:
        """Hours of recording the battery holds."""
        return float((self.info.get("battery") or {}).get("hours_left") or 0.0)

    @property
    def storage_hours(self) -> float:
        """Hours of recording the free storage holds."""
        return float((self.info.get("storage") or {}).get("hours_left") or 0.0)

    @property
    def storage_used_fraction(self) -> float | None:
        """Used share of the camera's storage."""
        storage = self.info.get("storage") or {}
        capacity = storage.get("capacity_bytes")
        return float(storage.get("used_bytes", 0)) / capacity if capacity else None

    @property
    def other_system(self) -> bool:
        """Whether the camera says it belongs to another system."""
        return (not self.info.get("shipping_mode", True) and self.state == CameraState.NEW
                and not self.reclaim)

    def facts(self) -> rules.CameraFacts:
        """What the assignment rules need."""
        return rules.CameraFacts(
            serial=self.serial, added=self.state != CameraState.NEW, locked=self.locked,
            docked=self.docked, firmware=self.firmware, battery_hours=self.battery_hours,
            storage_hours=self.storage_hours,
            user=self.user_uuid or (self.info.get("user_id") or None),
            removal_pending=self.state == CameraState.REMOVING)


def _info(row: CameraRow) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(row.info_json or "{}")
    return data


_UNSET: Any = object()


def _view(session: Session, row: CameraRow, live: bool = False, *,
          names: dict[str, tuple[str, str]] | None = None,
          settings: Any = _UNSET) -> CameraView:
    """A camera as shown; `names` (users.names_of) and `settings` (the system's) when
    many are viewed at once, so that each does not ask the database again."""
    user_name = profile_name = ""
    if row.user_uuid:
        if names is None:
            names = users.names_of(session, [row.user_uuid])
        # A user removed in between is left out: the foreign key clears it.
        user_name, profile_name = names.get(row.user_uuid, ("", ""))
    info = _info(row)
    reclaim = _ours_unknown(session, row.state, info, settings)
    return CameraView(row.serial, CameraState(row.state), row.model, row.firmware,
                      row.user_uuid, user_name, profile_name, row.docked, row.station_serial,
                      row.bay, row.locked or reclaim, info, row.seen_at, row.added_at, live,
                      reclaim)


def _ours_unknown(session: Session, state: str, info: dict[str, Any],
                  settings: Any = _UNSET) -> bool:
    """A camera not added here that says it belongs to this system: it was added before
    this controller was restored from the System restore key or a system backup."""
    if state != CameraState.NEW or info.get("shipping_mode", True):
        return False
    if settings is _UNSET:
        settings = system.settings_if_set_up(session)
    return settings is not None and info.get("system_id") == settings.system_id


def _row(session: Session, serial: str) -> CameraRow:
    row = session.get(CameraRow, serial)
    if row is None:
        raise LookupError(f"no camera {serial}")
    return row


def get(session: Session, serial: str) -> CameraView:
    """One camera as last known; LookupError when there is none."""
    return _view(session, _row(session, serial))


def list_cameras(session: Session, state: CameraState | str | None = None) -> list[CameraView]:
    """Cameras by serial (only those in `state` when given)."""
    stmt = select(CameraRow).order_by(CameraRow.serial)
    if state is not None:
        stmt = stmt.where(CameraRow.state == state)
    rows = list(session.scalars(stmt))
    names = users.names_of(session, [r.user_uuid for r in rows if r.user_uuid])
    settings = system.settings_if_set_up(session) if rows else None
    return [_view(session, row, names=names, settings=settings) for row in rows]


def _needs_care(stations: Collection[str]) -> ColumnElement[bool]:
    """Cameras the dashboard shows first: locked, not added, being removed, or docked in
    one of `stations` (those that do not answer)."""
    care = or_(CameraRow.locked.is_(True), CameraRow.state != CameraState.ADDED)
    if stations:
        care = or_(care, and_(CameraRow.docked.is_(True),
                              CameraRow.station_serial.in_(sorted(stations))))
    return care


def overview(session: Session, limit: int, stations: Collection[str] = ()
             ) -> tuple[list[CameraView], int, int]:
    """At most `limit` cameras for the dashboard, by serial: those that need care chosen
    first, then the others; how many cameras there are, and how many need care.

    The database picks and counts them, so the dashboard costs the same with 10 cameras or
    10 000 (only the cameras shown are read)."""
    care = _needs_care(stations)
    first = list(session.scalars(select(CameraRow).where(care)
                                 .order_by(CameraRow.serial).limit(limit)))
    rows = first
    if len(first) < limit:
        rows += session.scalars(
            select(CameraRow).where(CameraRow.serial.not_in([r.serial for r in first]))
            .order_by(CameraRow.serial).limit(limit - len(first)))
    total = session.scalar(select(func.count()).select_from(CameraRow)) or 0
    caring = (session.scalar(select(func.count()).select_from(CameraRow).where(care)) or 0
              if len(first) == limit else len(first))
    rows.sort(key=lambda r: r.serial)
    names = users.names_of(session, [r.user_uuid for r in rows if r.user_uuid])
    settings = system.settings_if_set_up(session) if rows else None
    return [_view(session, r, names=names, settings=settings) for r in rows], total, caring


def without_user(session: Session, shown: int = 5) -> tuple[list[str], int]:
    """Added cameras nobody holds: the first few serials, and how many there are."""
    lonely = and_(CameraRow.state == CameraState.ADDED, CameraRow.user_uuid.is_(None))
    first = list(session.scalars(select(CameraRow.serial).where(lonely)
                                 .order_by(CameraRow.serial).limit(shown)))
    count = len(first) if len(first) < shown else (
        session.scalar(select(func.count()).select_from(CameraRow).where(lonely)) or 0)
    return first, count


def registered(session: Session) -> list[CameraView]:
    """The cameras added to this system (removals pending too), by serial."""
    return [c for c in list_cameras(session) if c.state != CameraState.NEW]


def docked_new(session: Session) -> list[CameraView]:
    """Docked cameras not added to this system yet (Devices → New)."""
    return [c for c in list_cameras(session, CameraState.NEW) if c.docked]


def docked_by_station(session: Session) -> dict[str, dict[int, tuple[str, str]]]:
    """station serial -> bay -> (camera serial, camera state) for docked cameras."""
    found: dict[str, dict[int, tuple[str, str]]] = {}
    for row in session.scalars(select(CameraRow).where(CameraRow.docked.is_(True))):
        if row.station_serial is not None and row.bay is not None:
            found.setdefault(row.station_serial, {})[row.bay] = (row.serial, row.state)
    return found


def docked_in(session: Session, stations: Collection[str]
              ) -> dict[str, dict[int, tuple[str, str]]]:
    """station serial -> bay -> (camera serial, camera state), for these stations only."""
    found: dict[str, dict[int, tuple[str, str]]] = {}
    wanted = sorted(stations)
    for lo in range(0, len(wanted), 500):
        stmt = select(CameraRow.serial, CameraRow.state, CameraRow.station_serial,
                      CameraRow.bay).where(CameraRow.docked.is_(True),
                                           CameraRow.station_serial.in_(wanted[lo:lo + 500]))
        for serial, state, station, bay in session.execute(stmt):
            if station is not None and bay is not None:
                found.setdefault(station, {})[bay] = (serial, state)
    return found


def note_docked(session: Session, clock: Clock, serial: str, station: str, bay: int,
                camera_url: str) -> None:
    """A station reported the camera docked (a camera never seen before is new)."""
    now = clock.now()
    # A bay holds one camera: whatever the controller thought sat there has left.
    for other in session.scalars(select(CameraRow).where(
            CameraRow.station_serial == station, CameraRow.bay == bay,
            CameraRow.serial != serial, CameraRow.docked.is_(True))):
        other.docked = False
    row = session.get(CameraRow, serial)
    if row is None:
        row = CameraRow(serial=serial, state=CameraState.NEW, model="", firmware="", user_uuid=None,
                        locked=False, info_json="{}", added_at=None, seen_at=now,
                        docked=True)
        session.add(row)
    row.docked, row.station_serial, row.bay, row.camera_url = True, station, bay, camera_url
    row.seen_at = now


def note_undocked(session: Session, clock: Clock, serial: str, station: str, bay: int) -> None:
    """A station reported the camera undocked; a new camera leaves the New list."""
    row = session.get(CameraRow, serial)
    if row is None:
        return
    if row.state == CameraState.NEW and row.user_uuid is None:
        session.delete(row)  # a camera restored with its user is kept until it is unlocked
        return
    row.docked = False
    row.seen_at = clock.now()


def store_info(session: Session, clock: Clock, serial: str, info: CameraInfo) -> None:
    """Keep what the camera said about itself (shown while it is undocked)."""
    row = session.get(CameraRow, serial)
    if row is None:
        return
    row.info_json = json.dumps(info.to_json(), sort_keys=True)
    row.model = (info.model or row.model)[:64]
    row.firmware = (info.firmware or row.firmware)[:32]
    row.locked = info.locked
    row.seen_at = clock.now()


# ---- the cameras' own logs ------------------------------------------------------------


def log_path(data_dir: Path, serial: str) -> Path:
    """Where the last log read from a camera is kept: <data>/logs/cameras/<serial>.log."""
    return data_dir / LOG_DIR / "cameras" / f"{re.sub(r'[^A-Za-z0-9_-]', '_', serial)}.log"


def save_log(ctx: ControllerContext, serial: str, client: DockLinkClient) -> CameraLog | None:
    """Read a docked camera's log and keep it (JSON lines), replacing the last one; what
    was read, or None when the camera did not give it (logged, never raised)."""
    try:
        camera_log = client.log()
    except LINK_ERRORS as exc:
        log.info("camera.log_unread", camera=serial, error=str(exc))
        return None
    path = log_path(ctx.data_dir, serial)
    make_dirs_durable(path.parent, ctx.data_dir)
    lines = "".join(json.dumps(entry.to_json()) + "\n" for entry in camera_log.entries)
    write_file_atomic(path, lines.encode("utf-8"))
    return camera_log


def client_for(ctx: ControllerContext, serial: str) -> tuple[DockLinkClient, CameraRow]:
    """A dock link client for a docked camera (CameraRefused when it is not docked)."""
    with ctx.factory() as session:
        row = _row(session, serial)
        session.expunge(row)
    if not row.docked or not row.camera_url:
        raise CameraRefused(f"camera {serial} is not docked", 409)
    return ctx.docklink(row.camera_url), row


def refresh(ctx: ControllerContext, serial: str) -> CameraView:
    """The camera read live over the dock link when docked; last known otherwise."""
    with ctx.factory() as session:
        row = _row(session, serial)
        docked, url = row.docked, row.camera_url
    info = None
    if docked and url:
        try:
            with ctx.docklink(url) as client:
                info = client.info()
        except LINK_ERRORS as exc:
            log.info("camera did not answer", camera=serial, error=str(exc))
    with ctx.factory() as session, session.begin():
        if info is not None:
            store_info(session, ctx.clock, serial, info)
        return _view(session, _row(session, serial), live=info is not None)


def settle_docked(session: Session, clock: Clock, serial: str, system_id: str) -> bool:
    """After a docked camera was read: whether it is added here (removals pending too).

    A camera in shipping mode that we had added was reset behind our back (or by a
    removal that finished): it is new again. A camera of another system is not ours.
    """
    row = _row(session, serial)
    info = _info(row)
    if info.get("shipping_mode") and row.state != CameraState.NEW:
        row.state, row.user_uuid, row.added_at = CameraState.NEW, None, None
        return False
    return row.state != CameraState.NEW and info.get("system_id") == system_id


REMOVAL_WATCH_SECONDS = 300.0
_watching: set[tuple[int, str]] = set()
_watch_lock = threading.Lock()


def cancel_removal_watches(ctx: ControllerContext) -> None:
    """Stop every removal watch of this controller (shutdown, tests)."""
    ctx.closing.set()


def watch_removal(ctx: ControllerContext, serial: str, *, interval: float = 0.5,
                  limit: float = REMOVAL_WATCH_SECONDS) -> None:
    """Try to finish a pending removal until it succeeds, the camera leaves, or time is up."""
    key = (id(ctx), serial)
    with _watch_lock:
        if key in _watching:
            return
        _watching.add(key)

    def run() -> None:
        deadline = time.monotonic() + limit
        try:
            while time.monotonic() < deadline:
                if ctx.closing.is_set():
                    return
                with ctx.factory() as session:
                    row = session.get(CameraRow, serial)
                    if row is None or row.state != CameraState.REMOVING or not row.docked:
                        return
                try:
                    finish_removal(ctx, serial, actor="system", source="dock")
                    return
                except CameraRefused as exc:
                    log.debug("removal still waits", camera=serial, reason=exc.message)
                except Exception:  # a broken watch must not take the controller down
                    log.exception("removal watch failed", camera=serial)
                    return
                time.sleep(interval)
        finally:
            with _watch_lock:
                _watching.discard(key)

    threading.Thread(target=run, name=f"removal-{serial}", daemon=True).start()


def device_payload(view: CameraView, active: bool = True) -> dict[str, Any]:
    """What the CD is told about a camera (outbox)."""
    return outbox.device_payload(serial=view.serial, model=view.model, firmware=view.firmware,
                                 user_uuid=view.user_uuid, active=active)


def add(ctx: ControllerContext, serial: str, *, actor: str, source: str) -> CameraView:
    """Add a new docked camera to this system: it will trust only this system's key, and
    takes the system's time and time zone at once (its first recordings carry the zone,
    burned in and in their metadata, before it ever docks again)."""
    with ctx.factory() as session:
        row = _row(session, serial)
        if row.state != CameraState.NEW:
            raise CameraRefused(f"camera {serial} is already added")
        system_id = identity.signing_identity(session).system_id
        public_pem = identity.public_key_pem(session)
        zone = system.current(session).timezone
    client, _ = client_for(ctx, serial)
    try:
        with client:
            client.add_to_system(system_id, public_pem)
            info = client.configure(time=ctx.clock.now(), timezone=zone)
            info = _certify(ctx, serial, client, info, actor=actor, source=source)
    except LINK_ERRORS as exc:
        with ctx.factory() as session, session.begin():
            record(session, ctx.clock, actor=actor, action="camera.add", outcome="failure",
                   detail=f"{serial}: {exc}", source=source)
        raise CameraRefused(f"the camera refused to be added: {exc}") from exc
    with ctx.factory() as session, session.begin():
        store_info(session, ctx.clock, serial, info)
        row = _row(session, serial)
        row.state, row.added_at = CameraState.ADDED, ctx.clock.now()
        view = _view(session, row, live=True)
        outbox.enqueue(session, ctx.clock, "device", serial, "upsert", device_payload(view))
        record(session, ctx.clock, actor=actor, action="camera.add",
               detail=f"{serial} ({view.model}, {view.firmware})", source=source)
        return view


def _certify(ctx: ControllerContext, serial: str, client: DockLinkClient, info: CameraInfo,
             *, actor: str, source: str) -> CameraInfo:
    """Give a just-added camera its device certificate; a refusal is retried at its next
    docking (the camera is added either way)."""
    try:
        if integrity.enrol_camera(ctx, serial, client, info, actor=actor, source=source):
            return client.info()
    except LINK_ERRORS as exc:
        log.warning("camera not certified yet", camera=serial, error=str(exc))
    return info


def assignment_mode(session: Session) -> rules.Mode:
    """Fixed or self-assign, as setup decided."""
    return rules.Mode(system.current(session).camera_assignment)


def assign_choices(session: Session, limit: int) -> tuple[rules.Mode, list[users.UserView]]:
    """What the assign form offers: the assignment mode and up to `limit` users by name."""
    return assignment_mode(session), users.list_users(session, "", limit, 0)[0]


def removal_blocked_reason(session: Session, serial: str,
                           client: DockLinkClient | None = None) -> str | None:
    """Why a camera cannot be factory reset yet (None: everything is at the CD).

    Both must hold: nothing of the camera's evidence is pending in the offload engine
    (in the spool, or not yet at the CD), and the camera's own manifest is empty.
    """
    pending = offload_service.pending_for_camera(session, serial)
    if pending:
        return "evidence is not at the content destination yet: " + "; ".join(pending)
    if client is None:
        return "the camera is not docked"
    try:
        manifest = client.manifest()
    except LINK_ERRORS as exc:
        return f"the camera's recordings could not be read: {exc}"
    left = len(manifest.recordings)
    if not left:
        return None
    return f"{left} recording is not offloaded yet" if left == 1 else (
        f"{left} recordings are not offloaded yet")


def finish_removal(ctx: ControllerContext, serial: str, *, actor: str, source: str) -> None:
    """Factory reset a docked camera that has nothing left to offload, and forget it."""
    client, _ = client_for(ctx, serial)
    with client:
        with ctx.factory() as session:
            reason = removal_blocked_reason(session, serial, client)
        if reason is not None:
            raise CameraRefused(reason)
        try:
            client.factory_reset()
        except LINK_ERRORS as exc:
            raise CameraRefused(f"the camera refused the reset: {exc}") from exc
    with ctx.factory() as session, session.begin():
        view = get(session, serial)
        session.delete(_row(session, serial))
        outbox.enqueue(session, ctx.clock, "device", serial, "deactivate",
                       device_payload(view, active=False))
        record(session, ctx.clock, actor=actor, action="camera.remove",
               detail=f"{serial}: factory reset, back in shipping mode", source=source)


def remove(ctx: ControllerContext, serial: str, *, actor: str, source: str) -> str:
    """Remove a camera: now when docked and offloaded, else pending until its next docking.

    Returns "removed" or "pending".
    """
    with ctx.factory() as session, session.begin():
        row = _row(session, serial)
        if row.state == CameraState.NEW:
            raise CameraRefused("a camera that was never added has nothing to remove")
        if row.state != CameraState.REMOVING:
            row.state = CameraState.REMOVING
            record(session, ctx.clock, actor=actor, action="camera.remove.request",
                   detail=serial, source=source)
        docked = row.docked
    if docked:
        try:
            finish_removal(ctx, serial, actor=actor, source=source)
            return "removed"
        except CameraRefused as exc:
            log.info("removal waits", camera=serial, reason=exc.message)
            watch_removal(ctx, serial)
    return "pending"


def unlock(ctx: ControllerContext, serial: str, passphrase: str, *, actor: str,
           source: str) -> CameraView:
    """Unlock a locked docked camera after the super admin passphrase was given.

    A camera of this system that this controller does not know yet (after a restore) is
    taken back: added again, with the user a system backup gave it. Then the camera's
    on-dock work runs again, so it syncs and offloads without being docked anew.
    """
    view: CameraView | None
    with ctx.factory() as session, session.begin():
        view = get(session, serial)
        if not identity.passphrase_matches(session, passphrase):
            record(session, ctx.clock, actor=actor, action="camera.unlock", outcome="denied",
                   detail=f"{serial}: wrong super admin passphrase", source=source)
            view = None
    if view is None:
        raise PassphraseWrong()
    client, row = client_for(ctx, serial)
    try:
        with client:
            # A camera taken back may not be locked itself: a signed read it answers
            # proves it trusts this system's identity.
            info = client.unlock() if row.locked or not view.reclaim else client.info()
    except LINK_ERRORS as exc:
        with ctx.factory() as session, session.begin():
            record(session, ctx.clock, actor=actor, action="camera.unlock", outcome="failure",
                   detail=f"{serial}: {exc}", source=source)
        raise CameraRefused(f"the camera refused to unlock: {exc}") from exc
    with ctx.factory() as session, session.begin():
        store_info(session, ctx.clock, serial, info)
        row = _row(session, serial)
        detail = serial
        if view.reclaim and _ours_unknown(session, row.state, _info(row)):
            row.state, row.added_at = CameraState.ADDED, ctx.clock.now()
            outbox.enqueue(session, ctx.clock, "device", serial, "upsert",
                           device_payload(_view(session, row)))
            detail = f"{serial}: taken back into the system after a restore"
        record(session, ctx.clock, actor=actor, action="camera.unlock", detail=detail,
               source=source)
        station, bay, url = row.station_serial, row.bay, row.camera_url
    if ctx.docking is not None and station is not None and bay is not None and url:
        ctx.docking.handle(StationEvent(station, bay, "dock", serial, url))
    with ctx.factory() as session:
        return get(session, serial)


def camera_url(session: Session, serial: str) -> str | None:
    """Where a docked camera answers (None while it is not docked)."""
    row = _row(session, serial)
    return row.camera_url if row.docked and row.camera_url else None


def set_user(session: Session, serial: str, user_uuid: str | None) -> None:
    """Record who holds a camera (self-assign does it on a tap and when it lapses)."""
    _row(session, serial).user_uuid = user_uuid


# ---- the system backup (backup/) -------------------------------------------------------


def export_assignments(session: Session) -> list[dict[str, Any]]:
    """The cameras added to this system and who holds each (the fixed assignments)."""
    return [{"firmware": c.firmware, "model": c.model, "serial": c.serial,
             "user_uuid": c.user_uuid}
            for c in session.scalars(select(CameraRow).where(CameraRow.state == CameraState.ADDED)
                                     .order_by(CameraRow.serial))]


def import_assignments(session: Session, clock: Clock, rows: list[dict[str, Any]],
                       system_id: str) -> None:
    """Cameras of a system backup, known again but not added: each is taken back, with its
    user, when it docks and is unlocked with the super admin passphrase."""
    now = clock.now()
    for item in rows:
        info = {"serial": item["serial"], "model": item["model"], "firmware": item["firmware"],
                "system_id": system_id, "shipping_mode": False, "locked": True}
        session.add(CameraRow(serial=item["serial"], state=CameraState.NEW, model=item["model"],
                              firmware=item["firmware"], user_uuid=item["user_uuid"],
                              docked=False, locked=False, info_json=json.dumps(info),
                              seen_at=now, added_at=None))
    session.flush()
