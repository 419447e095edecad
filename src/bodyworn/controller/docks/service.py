"""Docking stations: the dock port token, what stations say, the stations list.

What a dock or undock event sets off is docking/'s work.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bodyworn.controller.audit.service import record
from bodyworn.controller.cameras import service as cameras
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.docks.models import DockingStationRow
from bodyworn.controller.identity import service as identity
from bodyworn.controller.refusals import Refused
from bodyworn.docklink import wire as proto
from bodyworn.docklink.messages import StationEvent, StationListing
from bodyworn.domain.clock import Clock
from bodyworn.store.files import write_file_atomic

log = structlog.get_logger(__name__)
# How often every known station is asked whether it is there, and how long it may take.
STATION_CHECK_S = 15.0
CHECK_TIMEOUT_S = 3.0
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


class TokenRefused(Refused):
    """The super admin passphrase given to see the dock port token was wrong."""

    status = 403


def reveal_token(session: Session, clock: Clock, data_dir: Path, passphrase: str, *,
                 actor: str, source: str) -> str:
    """The dock port token, for the one who gave the super admin passphrase (audited
    either way; a wrong passphrase is refused and its entry kept)."""
    if not identity.passphrase_matches(session, passphrase):
        record(session, clock, actor=actor, action="dock.token.reveal", outcome="denied",
               detail="wrong super admin passphrase", source=source)
        raise TokenRefused("The Super admin passphrase is wrong.", keep=True)
    record(session, clock, actor=actor, action="dock.token.reveal", source=source)
    return ensure_token(data_dir)


def read_station(station_url: str, timeout: float = 5.0) -> StationListing | str:
    """The station's own description (model, bays), or why it gave none."""
    try:
        response = httpx.get(f"{station_url}{proto.STATION_PATH}", timeout=timeout)
        response.raise_for_status()
        return StationListing.from_json(response.json())
    except httpx.HTTPStatusError as exc:
        return f"it answered HTTP {exc.response.status_code}"
    except httpx.TimeoutException:
        return "no answer in time"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return f"cannot reach it: {exc}"
    except ValueError as exc:
        return f"its answer makes no sense: {exc}"


def station_facts(station_url: str) -> StationListing | None:
    """The station's own description (model, bays), or None when it does not answer."""
    found = read_station(station_url)
    return found if isinstance(found, StationListing) else None


def check_stations(ctx: ControllerContext, timeout: float = CHECK_TIMEOUT_S) -> None:
    """Ask every known station for its listing; HealthState says which answer.

    A station that stops answering (power, cable, network) sends no event to say so:
    only asking finds out. Run by a loop in app.py every STATION_CHECK_S seconds.
    """
    with ctx.factory() as session:
        stations = known_stations(session)
    for serial, url in stations:
        found = read_station(url, timeout)
        if isinstance(found, StationListing) and found.station_serial != serial:
            found = f"another station ({found.station_serial}) answers at its address"
        if isinstance(found, str):
            log.info("docks.station_not_answering", station=serial, url=url, error=found)
            ctx.health.note_station(serial, False, found)
        else:
            ctx.health.note_station(serial, True)


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
    docked = cameras.docked_by_station(session)
    views = []
    for row in session.scalars(select(DockingStationRow).order_by(DockingStationRow.serial)):
        in_bays = docked.get(row.serial, {})
        bays = [BayView(i, *(in_bays.get(i) or (None, None))) for i in range(row.bays)]
        views.append(StationView(row.serial, row.model, row.station_url, row.last_event_at,
                                 bays))
    return views


def overview(session: Session, limit: int, first: Collection[str] = ()
             ) -> tuple[list[StationView], int]:
    """At most `limit` stations for the dashboard, by serial, those in `first` (not
    answering) chosen before the others, with the cameras in their bays; and how many
    there are.
    Only the stations shown and their cameras are read."""
    serial = DockingStationRow.serial
    chosen = list(session.scalars(select(DockingStationRow).where(serial.in_(sorted(first)))
                                  .order_by(serial).limit(limit))) if first else []
    if len(chosen) < limit:
        chosen += session.scalars(select(DockingStationRow).where(
            serial.not_in([r.serial for r in chosen])).order_by(serial)
            .limit(limit - len(chosen)))
    total = session.scalar(select(func.count()).select_from(DockingStationRow)) or 0
    chosen.sort(key=lambda r: r.serial)
    docked = cameras.docked_in(session, [r.serial for r in chosen])
    return [StationView(r.serial, r.model, r.station_url, r.last_event_at,
                        [BayView(i, *(docked.get(r.serial, {}).get(i) or (None, None)))
                         for i in range(r.bays)]) for r in chosen], total


def serials(session: Session) -> list[str]:
    """Every station's serial."""
    return list(session.scalars(select(DockingStationRow.serial)))


def known_stations(session: Session) -> list[tuple[str, str]]:
    """(serial, station URL) of every station that ever reported, by serial."""
    return [(r.serial, r.station_url) for r in session.scalars(
        select(DockingStationRow).order_by(DockingStationRow.serial))]
