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
from bodyworn.controller.health import legend
from bodyworn.controller.health.checklist import Checklist, checklist
from bodyworn.controller.integrity import service as integrity
from bodyworn.controller.system import service as system
from bodyworn.domain.assignment import Mode
from bodyworn.domain.led import AMBER, FLASHING_AMBER, GREEN, OFF, RED, LedState

# The manual's controller storage warning: amber below 8 % free.
LOW_STORAGE_FRACTION = 0.08

# What the issues say (msgids: %(name)s places are filled once translated).
LOW_STORAGE = "System controller storage space is low: %(free)s %% free"
CD_FAILED = "Lost connection to the content destination"
CD_FAILED_DETAIL = "Lost connection to the content destination: %(detail)s"
CAMERA_LOCKED = "Camera %(serial)s is locked: unlock it"
CAMERA_REMOVING = "Camera %(serial)s will be removed at its next docking"
NOT_ADDED = ("%(n)s docked camera is not added to this system: %(serials)s",
             "%(n)s docked cameras are not added to this system: %(serials)s")
NO_USER = ("%(n)s camera has no user: %(serials)s", "%(n)s cameras have no user: %(serials)s")
BACKUP_FAILED = "The system backup failed: %(detail)s"
MESSAGES = (LOW_STORAGE, CD_FAILED, CD_FAILED_DETAIL, CAMERA_LOCKED, CAMERA_REMOVING,
            BACKUP_FAILED)
PLURALS = (NOT_ADDED, NO_USER)

# Replaceable in tests: how full the data directory's disk is.
disk_usage: Callable[[Path], Any] = shutil.disk_usage


@dataclass(frozen=True)
class Lamp:
    """A status drawn like an LED: colour, pattern, and what it means (legend.py's words,
    translated when shown)."""

    colour: str
    pattern: str
    title: str

    @classmethod
    def of(cls, state: LedState, table: tuple[legend.Meaning, ...], title: str = "") -> Lamp:
        """A lamp in `state`, titled with what `table` says it means (or `title`)."""
        return cls(state.colour.value, state.pattern.value,
                   title or legend.meaning_of(table, state))


@dataclass(frozen=True)
class Issue:
    """Something that needs attention, and the page that fixes it.

    `message` is a msgid with %(name)s places filled from `params` once translated;
    with `plural`, the message is chosen by ngettext for `n` (params get n too).
    """

    kind: str
    message: str
    link: str
    params: dict[str, Any] = field(default_factory=dict)
    plural: str = ""
    n: int = 0

    def text(self, gettext: Callable[[str], str],
             ngettext: Callable[[str, str, int], str]) -> str:
        """The message in the page's language, its places filled."""
        if self.plural:
            return ngettext(self.message, self.plural, self.n) % {"n": self.n, **self.params}
        return gettext(self.message) % self.params if self.params else gettext(self.message)


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
    checklist: Checklist | None = None


def _led(text: str) -> LedState:
    """The state a camera reported ("pulsing amber", "off"); OFF when it makes no sense."""
    try:
        return LedState.parse(text)
    except ValueError:
        return OFF


def camera_lamp(view: cameras.CameraView) -> Lamp:
    """A camera's status lamp: its docking LED while docked, its operation LED out of it."""
    leds = view.info.get("leds") or {}
    if view.locked:
        return Lamp.of(FLASHING_AMBER, legend.CAMERA_DOCKED, "Locked")
    if view.state == CameraState.NEW:
        return Lamp.of(FLASHING_AMBER, legend.CAMERA_DOCKED, "Not added to this system yet")
    table = legend.CAMERA_DOCKED if view.docked else legend.CAMERA_OUT
    return Lamp.of(_led(str(leds.get("docking" if view.docked else "operation", "off"))), table)


def build(ctx: ControllerContext) -> Dashboard:
    """Gather the dashboard (it writes nothing; a storage change goes on the event bus)."""
    usage = disk_usage(ctx.data_dir)
    free = usage.free / usage.total if usage.total else 1.0
    ctx.health.note_storage(free, free < LOW_STORAGE_FRACTION)
    with ctx.factory() as session:
        s = system.current(session)
        board = Dashboard(s.system_name, s.system_id, s.timezone, s.camera_assignment,
                          s.power_line_frequency, s.cloud_extensions, s.cloud_location)
        views = cameras.list_cameras(session)
        stations = docks.list_stations(session)
        board.checklist = checklist(session, Mode(s.camera_assignment))
        backup_failed = backup.problem(session)
    _controller(ctx, board, free)
    if backup_failed is not None:
        board.issues.append(Issue("backup_failed", BACKUP_FAILED,
                                  "/settings/backup", params={"detail": backup_failed}))
    for kind, message, link in integrity.issues(ctx):
        board.issues.append(Issue(kind, message, link))
    _stations(board, stations)
    _cameras(board, views, Mode(s.camera_assignment))
    return board


def _controller(ctx: ControllerContext, board: Dashboard, free: float) -> None:
    cd = ctx.health.cd
    state = GREEN
    if free < LOW_STORAGE_FRACTION:
        state = AMBER
        board.issues.append(Issue(
            "low_storage", LOW_STORAGE,
            "/support/restore-key", params={"free": round(free * 100)}))
    if not cd.ok:
        state = RED
        board.issues.append(Issue(
            "cd_failed", CD_FAILED_DETAIL if cd.detail else CD_FAILED,
            "/settings/destination", params={"detail": cd.detail} if cd.detail else {}))
    board.controllers.append({
        "name": board.system_name, "role": "primary", "free_fraction": free,
        "lamp": Lamp.of(state, legend.CONTROLLER), "cd_ok": cd.ok,
    })


def _stations(board: Dashboard, stations: list[docks.StationView]) -> None:
    for station in stations:
        used = sum(1 for bay in station.bays if bay.camera_serial)
        board.stations.append({
            "serial": station.serial, "model": station.model, "bays": station.bays,
            "lamp": Lamp.of(GREEN, legend.STATION), "used": used,
            "last_event_at": station.last_event_at,
        })


def _cameras(board: Dashboard, views: list[cameras.CameraView], mode: Mode) -> None:
    new: list[str] = []
    unassigned: list[str] = []
    for view in views:
        board.cameras.append({"serial": view.serial, "state": view.state,
                              "user_name": view.user_name, "docked": view.docked,
                              "station": view.station_serial, "bay": view.bay,
                              "locked": view.locked, "lamp": camera_lamp(view)})
        if view.locked:
            board.issues.append(Issue("camera_locked", CAMERA_LOCKED,
                                      f"/cameras/{view.serial}", params={"serial": view.serial}))
        if view.state == CameraState.NEW and view.docked and not view.reclaim:
            new.append(view.serial)
        if view.state == CameraState.ADDED and not view.user_uuid and mode == Mode.FIXED:
            unassigned.append(view.serial)
        if view.state == CameraState.REMOVING:
            board.issues.append(Issue(
                "camera_removing", CAMERA_REMOVING,
                f"/cameras/{view.serial}", params={"serial": view.serial}))
    if new:
        board.issues.append(Issue(
            "camera_new", NOT_ADDED[0], "/devices/new", plural=NOT_ADDED[1], n=len(new),
            params={"serials": _some(new)}))
    if unassigned:
        first = unassigned[0]
        board.issues.append(Issue(
            "camera_unassigned", NO_USER[0],
            f"/cameras/{first}" if len(unassigned) == 1 else "/cameras",
            plural=NO_USER[1], n=len(unassigned),
            params={"serials": _some(unassigned)}))


def _some(serials: list[str], shown: int = 4) -> str:
    """A few serial numbers, and an ellipsis when there are more."""
    return ", ".join(serials[:shown]) + (", …" if len(serials) > shown else "")
