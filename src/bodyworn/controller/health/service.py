"""The dashboard: controllers, docking stations and cameras in LED colours, and issues."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bodyworn.controller.backup import service as backup
from bodyworn.controller.cameras import service as cameras
from bodyworn.controller.cameras.states import CameraState
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.docks import service as docks
from bodyworn.controller.integrity import service as integrity
from bodyworn.controller.system import service as system
from bodyworn.domain.led import Colour, Pattern

# The manual's controller storage warning: amber below 8 % free.
LOW_STORAGE_FRACTION = 0.08

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


def _led(text: str) -> tuple[str, str]:
    """("pulsing amber" | "green" | "off") -> (colour, pattern)."""
    words = text.split()
    colour = next((w for w in words if w in {c.value for c in Colour}), Colour.OFF.value)
    pattern = next((w for w in words if w in {p.value for p in Pattern}), Pattern.STEADY.value)
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
        views = cameras.list_cameras(session)
        stations = docks.list_stations(session)
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
        colour, why = Colour.RED.value, "content destination connection failed"
        board.issues.append(Issue("cd_failed", "Lost connection to content destination"
                                  + (f": {cd.detail}" if cd.detail else ""),
                                  "/settings/destination"))
    if backup_failed is not None:
        board.issues.append(Issue("backup_failed", f"The system backup failed: {backup_failed}",
                                  "/settings/backup"))
    for kind, message, link in integrity.issues(ctx):
        board.issues.append(Issue(kind, message, link))
    board.controllers.append({
        "name": s.system_name, "role": "primary", "free_fraction": free,
        "lamp": Lamp(colour, Pattern.STEADY.value, why), "cd_ok": cd.ok,
    })
    for station in stations:
        used = sum(1 for bay in station.bays if bay.camera_serial)
        board.stations.append({
            "serial": station.serial, "model": station.model, "bays": station.bays,
            "lamp": Lamp(Colour.GREEN.value, Pattern.STEADY.value,
                         f"{used} of {len(station.bays)} bays in use"),
            "last_event_at": station.last_event_at,
        })
    for view in views:
        lamp = camera_lamp(view)
        board.cameras.append({"serial": view.serial, "state": view.state,
                              "user_name": view.user_name, "docked": view.docked,
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
    return board
