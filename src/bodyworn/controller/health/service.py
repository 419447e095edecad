"""The dashboard: controllers, docking stations and cameras in LED colours, and issues.

Every lamp's colour comes from a measured state (the disk, the CD's last answer, the
clock, each station's last check, each camera's last report), never a constant.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bodyworn.controller.backup import service as backup
from bodyworn.controller.cameras import service as cameras
from bodyworn.controller.cameras.states import CameraState
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.docks import service as docks
from bodyworn.controller.events import CdState
from bodyworn.controller.health import legend
from bodyworn.controller.health.checklist import Checklist, checklist
from bodyworn.controller.health_state import CdHealth, StationHealth
from bodyworn.controller.integrity import service as integrity
from bodyworn.controller.system import service as system
from bodyworn.domain.assignment import Mode
from bodyworn.domain.led import AMBER, FLASHING_AMBER, GREEN, OFF, RED, LedState
from bodyworn.webui import local_time

# The manual's controller storage warning: amber below 8 % free.
LOW_STORAGE_FRACTION = 0.08

# At most this many cameras and docking stations (each with all its bays) on the
# dashboard, those that need care chosen first: its cost stays flat however large the
# system. The Cameras and Docking stations pages list them all.
DASHBOARD_ROWS = 25
DASHBOARD_STATIONS = 10

# What the issues say (msgids: %(name)s places are filled once translated).
LOW_STORAGE = "System controller storage space is low: %(free)s %% free"
CD_FAILED = "Lost connection to content destination"
CD_FAILED_DETAIL = "Lost connection to content destination: %(detail)s"
CD_FULL = "Content destination is out of storage"
CD_FULL_DETAIL = "Content destination is out of storage: %(detail)s"
NEXT_TRY = "(next try at %(time)s)"
STATION_SILENT = ("Docking station %(serial)s has not answered since %(time)s (%(detail)s)."
                  " Check that it has power, that its network cable is in, and that it can"
                  " reach this controller; where its cameras are is unknown until it answers.")
CLOCK_AHEAD = ("The content destination's clock is %(skew)s s ahead of this controller's"
               " (more than %(limit)s s): recordings need both to show the same time")
CLOCK_BEHIND = ("The content destination's clock is %(skew)s s behind this controller's"
                " (more than %(limit)s s): recordings need both to show the same time")
NTP_FAILED = "The time server did not answer: %(error)s"
CAMERA_LOCKED = "Camera %(serial)s is locked: unlock it"
CAMERA_REMOVING = "Camera %(serial)s will be removed at its next docking"
NOT_ADDED = ("%(n)s docked camera is not added to this system: %(serials)s",
             "%(n)s docked cameras are not added to this system: %(serials)s")
NO_USER = ("%(n)s camera has no user: %(serials)s", "%(n)s cameras have no user: %(serials)s")
BACKUP_FAILED = "The system backup failed: %(detail)s"
# What the lamps say beyond their legend's meaning (msgids too).
BAYS_IN_USE = "%(used)s of %(total)s bays in use"
STATION_SINCE = "Not answering since %(time)s"
DOCK_UNKNOWN = "Dock state unknown: docking station %(station)s does not answer"
CD_FULL_LAMP = "The content destination is out of storage"
TIME_LAMP = "The time needs attention"
MESSAGES = (LOW_STORAGE, CD_FAILED, CD_FAILED_DETAIL, CD_FULL, CD_FULL_DETAIL, NEXT_TRY,
            STATION_SILENT, CLOCK_AHEAD, CLOCK_BEHIND, NTP_FAILED, CAMERA_LOCKED,
            CAMERA_REMOVING, BACKUP_FAILED, BAYS_IN_USE, STATION_SINCE, DOCK_UNKNOWN,
            CD_FULL_LAMP, TIME_LAMP)
STATIONS_MORE = ("%(n)s more docking station does not answer",
                 "%(n)s more docking stations do not answer")
CAMERAS_MORE = ("%(n)s more camera needs attention", "%(n)s more cameras need attention")
PLURALS = (NOT_ADDED, NO_USER, STATIONS_MORE, CAMERAS_MORE)

# Replaceable in tests: how full the data directory's disk is.
disk_usage: Callable[[Path], Any] = shutil.disk_usage


@dataclass(frozen=True)
class Lamp:
    """A status drawn like an LED: colour, pattern, and what it means (legend.py's words
    or a msgid of its own with `params`, translated when shown)."""

    colour: str
    pattern: str
    title: str
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, state: LedState, table: tuple[legend.Meaning, ...], title: str = "",
           **params: Any) -> Lamp:
        """A lamp in `state`, titled with what `table` says it means (or `title`)."""
        return cls(state.colour.value, state.pattern.value,
                   title or legend.meaning_of(table, state), params)

    def said(self, gettext: Callable[[str], str]) -> str:
        """What it means, in the page's language."""
        return gettext(self.title) % self.params if self.params else gettext(self.title)


@dataclass(frozen=True)
class Issue:
    """Something that needs attention, and the page that fixes it.

    `message` is a msgid with %(name)s places filled from `params` once translated;
    with `plural`, the message is chosen by ngettext for `n` (params get n too); `more`
    is a msgid said after it (with the same params).
    """

    kind: str
    message: str
    link: str
    params: dict[str, Any] = field(default_factory=dict)
    plural: str = ""
    n: int = 0
    more: str = ""

    def text(self, gettext: Callable[[str], str],
             ngettext: Callable[[str, str, int], str]) -> str:
        """The message in the page's language, its places filled."""
        if self.plural:
            said = ngettext(self.message, self.plural, self.n) % {"n": self.n, **self.params}
        else:
            said = gettext(self.message) % self.params if self.params else gettext(
                self.message)
        return f"{said} {gettext(self.more) % self.params}" if self.more else said

    def english(self) -> str:
        """The message in English (the API's and the system report's words)."""
        return self.text(str, lambda one, many, n: one if n == 1 else many)


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
    station_total: int = 0
    camera_total: int = 0


def in_words(board: Dashboard) -> dict[str, Any]:
    """The dashboard as plain data, its issues and lamps said in English with their places
    filled (the API's answer and the system report's dashboard.json)."""
    shown = asdict(board)
    shown["issues"] = [{"kind": i.kind, "message": i.english(), "link": i.link}
                       for i in board.issues]
    for group in ("controllers", "stations", "cameras"):
        for row, device in zip(shown[group], getattr(board, group), strict=True):
            lamp = device["lamp"]
            row["lamp"] = {"colour": lamp.colour, "pattern": lamp.pattern,
                           "title": lamp.said(str)}
    return shown


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


def station_lamp(checked: StationHealth | None, station: docks.StationView, zone: str
                 ) -> Lamp:
    """A station's lamp from the last check of it: green while it answers, red when it
    does not, off until it was first asked."""
    if checked is None:
        return Lamp.of(OFF, legend.STATION)
    if not checked.answering:
        return Lamp.of(RED, legend.STATION, STATION_SINCE, time=local_time(checked.since, zone))
    used = sum(1 for bay in station.bays if bay.camera_serial)
    return Lamp.of(GREEN, legend.STATION, BAYS_IN_USE, used=used, total=len(station.bays))


def time_issues(ctx: ControllerContext) -> list[Issue]:
    """The clock: the CD's differs from ours beyond the threshold, or NTP did not answer."""
    issues = []
    seen = ctx.health.cd_clock
    limit = ctx.settings.clock_skew_warn_s
    if seen is not None and abs(seen.skew_s) > limit:
        issues.append(Issue(
            "clock_skew", CLOCK_AHEAD if seen.skew_s > 0 else CLOCK_BEHIND, "/settings/time",
            params={"skew": f"{abs(seen.skew_s):.0f}", "limit": f"{limit:.0f}"}))
    ntp = ctx.health.ntp
    if ntp is not None and not ntp.ok:
        issues.append(Issue("ntp_failed", NTP_FAILED, "/settings/time",
                            params={"error": ntp.error}))
    return issues


def build(ctx: ControllerContext) -> Dashboard:
    """Gather the dashboard (it writes nothing; a storage change goes on the event bus)."""
    usage = disk_usage(ctx.data_dir)
    free = usage.free / usage.total if usage.total else 1.0
    ctx.health.note_storage(free, free < LOW_STORAGE_FRACTION)
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
        unassigned = cameras.without_user(session)
        board.checklist = checklist(session, Mode(s.camera_assignment))
        backup_failed = backup.problem(session)
    _controller(ctx, board, free)
    if backup_failed is not None:
        board.issues.append(Issue("backup_failed", BACKUP_FAILED,
                                  "/settings/backup", params={"detail": backup_failed}))
    for kind, message, link in integrity.issues(ctx):
        board.issues.append(Issue(kind, message, link))
    _stations(ctx, board, stations, silent)
    _cameras(board, views, Mode(s.camera_assignment), set(silent), unassigned)
    if caring > DASHBOARD_ROWS:
        board.issues.append(Issue(
            "cameras_more", CAMERAS_MORE[0], "/cameras", plural=CAMERAS_MORE[1],
            n=caring - DASHBOARD_ROWS))
    return board


def _controller(ctx: ControllerContext, board: Dashboard, free: float) -> None:
    cd = ctx.health.cd
    lamp = Lamp.of(GREEN, legend.CONTROLLER)
    if free < LOW_STORAGE_FRACTION:
        lamp = Lamp.of(AMBER, legend.CONTROLLER)
        board.issues.append(Issue(
            "low_storage", LOW_STORAGE,
            "/support/restore-key", params={"free": round(free * 100)}))
    for issue in time_issues(ctx):
        board.issues.append(issue)
        if lamp.colour == GREEN.colour.value:
            lamp = Lamp.of(AMBER, legend.CONTROLLER, TIME_LAMP)
    if not cd.ok:
        lamp, issue = _cd_trouble(cd, board.timezone)
        board.issues.append(issue)
    board.controllers.append({
        "name": board.system_name, "role": "primary", "free_fraction": free,
        "lamp": lamp, "cd_ok": cd.ok,
    })


def _cd_trouble(cd: CdHealth, zone: str) -> tuple[Lamp, Issue]:
    """The controller's lamp and the issue while the CD fails: what its last error was
    (out of storage is not a lost connection), and when it is tried again."""
    params: dict[str, Any] = {"detail": cd.detail} if cd.detail else {}
    more = ""
    if cd.retry_at is not None:
        params["time"] = local_time(cd.retry_at, zone, date=False)
        more = NEXT_TRY
    if cd.state is CdState.OUT_OF_STORAGE:
        return Lamp.of(RED, legend.CONTROLLER, CD_FULL_LAMP), Issue(
            "cd_out_of_storage", CD_FULL_DETAIL if cd.detail else CD_FULL, "/transfers",
            params=params, more=more)
    return Lamp.of(RED, legend.CONTROLLER), Issue(
        "cd_failed", CD_FAILED_DETAIL if cd.detail else CD_FAILED, "/settings/destination",
        params=params, more=more)


def _stations(ctx: ControllerContext, board: Dashboard, stations: list[docks.StationView],
              silent: dict[str, StationHealth]) -> None:
    """The stations' lamps, and an issue for each that does not answer (the first
    DASHBOARD_STATIONS of them, the rest counted in one)."""
    for serial in sorted(silent)[:DASHBOARD_STATIONS]:
        board.issues.append(Issue(
            "station_not_answering", STATION_SILENT, "/docks", params={
                "serial": serial, "detail": silent[serial].detail,
                "time": local_time(silent[serial].since, board.timezone)}))
    if len(silent) > DASHBOARD_STATIONS:
        board.issues.append(Issue(
            "stations_more", STATIONS_MORE[0], "/docks", plural=STATIONS_MORE[1],
            n=len(silent) - DASHBOARD_STATIONS))
    for station in stations:
        checked = ctx.health.station(station.serial)
        board.stations.append({
            "serial": station.serial, "model": station.model, "bays": station.bays,
            "lamp": station_lamp(checked, station, board.timezone),
            "used": sum(1 for bay in station.bays if bay.camera_serial),
            "last_event_at": station.last_event_at,
            "answering": checked.answering if checked is not None else None,
            "checked_at": checked.checked_at if checked is not None else None,
        })


def _cameras(board: Dashboard, views: list[cameras.CameraView], mode: Mode,
             silent: set[str], unassigned: tuple[list[str], int]) -> None:
    """The cameras shown (those that need care first), their issues, and one issue for
    the added cameras without a user (counted by the database: they may not be shown)."""
    new: list[str] = []
    for view in views:
        lamp, dock_state = camera_lamp(view), "docked" if view.docked else "undocked"
        if view.docked and view.station_serial in silent:
            # Its station does not answer: where the camera is, nobody can tell now.
            dock_state = "unknown"
            lamp = Lamp.of(OFF, legend.CAMERA_DOCKED, DOCK_UNKNOWN, station=view.station_serial)
        board.cameras.append({"serial": view.serial, "state": view.state,
                              "user_name": view.user_name, "docked": view.docked,
                              "dock_state": dock_state,
                              "station": view.station_serial, "bay": view.bay,
                              "locked": view.locked, "lamp": lamp})
        if view.locked:
            board.issues.append(Issue("camera_locked", CAMERA_LOCKED,
                                      f"/cameras/{view.serial}", params={"serial": view.serial}))
        if view.state == CameraState.NEW and view.docked and not view.reclaim:
            new.append(view.serial)
        if view.state == CameraState.REMOVING:
            board.issues.append(Issue(
                "camera_removing", CAMERA_REMOVING,
                f"/cameras/{view.serial}", params={"serial": view.serial}))
    if new:
        board.issues.append(Issue(
            "camera_new", NOT_ADDED[0], "/devices/new", plural=NOT_ADDED[1], n=len(new),
            params={"serials": _some(new)}))
    some, count = unassigned
    if count and mode == Mode.FIXED:
        board.issues.append(Issue(
            "camera_unassigned", NO_USER[0],
            f"/cameras/{some[0]}" if count == 1 else "/cameras",
            plural=NO_USER[1], n=count,
            params={"serials": _some(some, total=count)}))


def _some(serials: list[str], shown: int = 4, total: int | None = None) -> str:
    """A few serial numbers, and an ellipsis when there are more."""
    more = (total if total is not None else len(serials)) > shown
    return ", ".join(serials[:shown]) + (", …" if more else "")
