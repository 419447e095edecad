"""The dashboard: controllers, docking stations and cameras in LED colours, and issues."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bodyworn.controller.backup import service as backup
from bodyworn.controller.cameras import service as cameras
from bodyworn.controller.cameras.states import CameraState
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.docks import service as docks
from bodyworn.controller.events import CdState
from bodyworn.controller.health_state import CdHealth, StationHealth
from bodyworn.controller.integrity import service as integrity
from bodyworn.controller.system import service as system
from bodyworn.domain.led import Colour, Pattern

# The manual's controller storage warning: amber below 8 % free.
LOW_STORAGE_FRACTION = 0.08

# At most this many cameras and docking stations (each with all its bays) on the
# dashboard, those that need care chosen first: its cost stays flat however large the
# system. The Cameras and Docking stations pages list them all.
DASHBOARD_ROWS = 25
DASHBOARD_STATIONS = 10

# Replaceable in tests: how full the data directory's disk is.
disk_usage: Callable[[Path], Any] = shutil.disk_usage


@dataclass(frozen=True)
class Lamp:
    """A status drawn like an LED: colour, pattern, and words for the hover title."""

    colour: str
    pattern: str
    title: str


@dataclass(frozen=True)
class Issue:
    """Something that needs attention, and the page that fixes it."""

    kind: str
    message: str
    link: str


@dataclass
class Dashboard:
    """Everything the dashboard shows."""

    system_name: str
    system_id: str
    timezone: str
    camera_assignment: str
    power_line_frequency: int
    cloud_extensions: bool
    cloud_location: str | None
    controllers: list[dict[str, Any]] = field(default_factory=list)
    stations: list[dict[str, Any]] = field(default_factory=list)
    cameras: list[dict[str, Any]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    station_total: int = 0
    camera_total: int = 0


_COLOURS = frozenset(c.value for c in Colour)
_PATTERNS = frozenset(p.value for p in Pattern)


def _led(text: str) -> tuple[str, str]:
    """("pulsing amber" | "green" | "off") -> (colour, pattern)."""
    words = text.split()
    colour = next((w for w in words if w in _COLOURS), Colour.OFF.value)
    pattern = next((w for w in words if w in _PATTERNS), Pattern.STEADY.value)
    return colour, Pattern.OFF.value if colour == Colour.OFF.value else pattern


def camera_lamp(view: cameras.CameraView) -> Lamp:
    """A camera's status lamp: its docking LED while docked, its operation LED out of it."""
    leds = view.info.get("leds") or {}
    if view.locked:
        return Lamp(Colour.AMBER.value, Pattern.FLASHING.value, "locked")
    if view.state == CameraState.NEW:
        return Lamp(Colour.AMBER.value, Pattern.FLASHING.value, "not added")
    led = leds.get("docking" if view.docked else "operation", "off")
    colour, pattern = _led(str(led))
    return Lamp(colour, pattern, str(led))


def station_lamp(checked: StationHealth | None, station: docks.StationView, zone: ZoneInfo
                 ) -> tuple[Lamp, StationHealth | None]:
    """A station's lamp from the last check of it: green while it answers, red when it
    does not, off until it was first asked."""
    if checked is None:
        return Lamp(Colour.OFF.value, Pattern.OFF.value, "not checked yet"), None
    if not checked.answering:
        return Lamp(Colour.RED.value, Pattern.STEADY.value,
                    f"not answering since {checked.since.astimezone(zone):%H:%M}"), checked
    used = sum(1 for bay in station.bays if bay.camera_serial)
    return Lamp(Colour.GREEN.value, Pattern.STEADY.value,
                f"{used} of {len(station.bays)} bays in use"), checked


def _silent_station(serial: str, checked: StationHealth, zone: ZoneInfo) -> Issue:
    return Issue(
        "station_not_answering",
        f"Docking station {serial} has not answered since"
        f" {checked.since.astimezone(zone):%H:%M} ({checked.detail}). Check that it has"
        " power, that its network cable is in, and that it can reach this controller;"
        " where its cameras are is unknown until it answers.", "/docks")


def _cd_trouble(cd: CdHealth, zone: ZoneInfo) -> tuple[str, str, Issue]:
    """The controller's lamp and the issue while the CD fails: what its last error was
    (out of storage is not a lost connection), and when it is tried again."""
    if cd.state is CdState.OUT_OF_STORAGE:
        why = "content destination out of storage"
        issue = Issue("cd_out_of_storage", "Content destination is out of storage", "/transfers")
    else:
        why = "content destination connection failed"
        issue = Issue("cd_failed", "Lost connection to content destination",
                      "/settings/destination")
    message = issue.message + (f": {cd.detail}" if cd.detail else "")
    if cd.retry_at is not None:
        message += f" (next try at {cd.retry_at.astimezone(zone):%H:%M})"
    return Colour.RED.value, why, Issue(issue.kind, message, issue.link)
def time_issues(ctx: ControllerContext) -> list[Issue]:
    """The clock: the CD's differs from ours beyond the threshold, or NTP did not answer."""
    issues = []
    seen = ctx.health.cd_clock
    limit = ctx.settings.clock_skew_warn_s
    if seen is not None and abs(seen.skew_s) > limit:
        way = "ahead of" if seen.skew_s > 0 else "behind"
        issues.append(Issue(
            "clock_skew", f"The content destination's clock is {abs(seen.skew_s):.0f} s {way}"
            f" this controller's (more than {limit:.0f} s): recordings need both to show the"
            " same time", "/settings/time"))
    ntp = ctx.health.ntp
    if ntp is not None and not ntp.ok:
        issues.append(Issue("ntp_failed", f"The time server did not answer: {ntp.error}",
                            "/settings/time"))
    return issues


def build(ctx: ControllerContext) -> Dashboard:
    """Gather the dashboard (it writes nothing; a storage change goes on the event bus)."""
    usage = disk_usage(ctx.data_dir)
    free = usage.free / usage.total if usage.total else 1.0
    ctx.health.note_storage(free, free < LOW_STORAGE_FRACTION)
    cd = ctx.health.cd
    with ctx.factory() as session:
        s = system.current(session)
        board = Dashboard(s.system_name, s.system_id, s.timezone, s.camera_assignment,
                          s.power_line_frequency, s.cloud_extensions, s.cloud_location)
        silent: dict[str, StationHealth] = {}
        for serial in docks.serials(session):
            checked = ctx.health.station(serial)
            if checked is not None and not checked.answering:
                silent[serial] = checked
        stations, board.station_total = docks.overview(session, DASHBOARD_STATIONS, silent)
        views, board.camera_total, caring = cameras.overview(session, DASHBOARD_ROWS, silent)
        backup_failed = backup.problem(session)
    colour, why = Colour.GREEN.value, "running"
    if free < LOW_STORAGE_FRACTION:
        colour, why = Colour.AMBER.value, "storage space is low"
        board.issues.append(Issue("low_storage", f"System controller storage space is low:"
                                  f" {free:.0%} free", "/support/restore-key"))
    for issue in time_issues(ctx):
        board.issues.append(issue)
        if colour == Colour.GREEN.value:
            colour, why = Colour.AMBER.value, issue.message
    if not cd.ok:
        colour, why, issue = _cd_trouble(cd, ZoneInfo(s.timezone))
        board.issues.append(issue)
    if backup_failed is not None:
        board.issues.append(Issue("backup_failed", f"The system backup failed: {backup_failed}",
                                  "/settings/backup"))
    for kind, message, link in integrity.issues(ctx):
        board.issues.append(Issue(kind, message, link))
    board.controllers.append({
        "name": s.system_name, "role": "primary", "free_fraction": free,
        "lamp": Lamp(colour, Pattern.STEADY.value, why), "cd_ok": cd.ok,
    })
    zone = ZoneInfo(s.timezone)
    for serial in sorted(silent)[:DASHBOARD_STATIONS]:
        board.issues.append(_silent_station(serial, silent[serial], zone))
    if len(silent) > DASHBOARD_STATIONS:
        board.issues.append(Issue("stations_more", f"{len(silent) - DASHBOARD_STATIONS} more"
                                  " docking stations do not answer", "/docks"))
    for station in stations:
        lamp, checked = station_lamp(ctx.health.station(station.serial), station, zone)
        board.stations.append({
            "serial": station.serial, "model": station.model, "bays": station.bays,
            "lamp": lamp, "last_event_at": station.last_event_at,
            "answering": checked.answering if checked is not None else None,
            "checked_at": checked.checked_at if checked is not None else None,
        })
    for view in views:
        lamp, dock_state = camera_lamp(view), "docked" if view.docked else "undocked"
        if view.docked and view.station_serial in silent:
            # Its station does not answer: where the camera is, nobody can tell now.
            dock_state = "unknown"
            lamp = Lamp(Colour.OFF.value, Pattern.OFF.value,
                        f"dock state unknown: docking station {view.station_serial}"
                        " does not answer")
        board.cameras.append({"serial": view.serial, "state": view.state,
                              "user_name": view.user_name, "docked": view.docked,
                              "dock_state": dock_state,
                              "station": view.station_serial, "bay": view.bay,
                              "locked": view.locked, "lamp": lamp})
        if view.locked:
            board.issues.append(Issue("camera_locked", f"Camera {view.serial} is locked",
                                      f"/cameras/{view.serial}"))
        if view.state == CameraState.NEW and view.docked and not view.reclaim:
            board.issues.append(Issue("camera_new", f"Camera {view.serial} is not added",
                                      "/devices/new"))
        if view.state == CameraState.REMOVING:
            board.issues.append(Issue("camera_removing", f"Camera {view.serial} will be"
                                      " removed at its next docking", f"/cameras/{view.serial}"))
    if caring > DASHBOARD_ROWS:
        board.issues.append(Issue("cameras_more", f"{caring - DASHBOARD_ROWS} more cameras"
                                  " need attention", "/cameras"))
    return board
