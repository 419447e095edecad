"""Scenarios for `bodyworn simulate`: what each officer does with a camera, on a timeline.

A scenario is YAML (docs/simulation.md). It is read and checked whole before anything runs;
a mistake is reported with the file, the officer and the step it is in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bodyworn.devices.environment import Scene
from bodyworn.devices.gnss import Waypoint
from bodyworn.domain.profile import Trigger
from bodyworn.domain.user_files import UserFileError, read_user_text

# A scenario is a page or two of YAML; a megabyte is far more than one needs.
MAX_SCENARIO_BYTES = 1024 * 1024
DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?")
RECORD_TRIGGERS = (Trigger.BUTTON, Trigger.FALL, Trigger.UNHOLSTER)
BARE_STEPS = ("take", "stop", "fall", "unholster", "holster", "dock")


class ScenarioError(ValueError):
    """A scenario that cannot run, with where the mistake is."""


@dataclass(frozen=True)
class RoutePoint:
    """A waypoint of a route, timed from when the walk starts."""

    after: timedelta
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Step:
    """One thing an officer does. `kind` names it; the other fields are its arguments."""

    kind: str
    where: str
    duration: timedelta = timedelta(0)
    trigger: Trigger = Trigger.BUTTON
    text: str = ""
    route: str = ""
    bay: int | None = None
    environment: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Officer:
    """Someone who takes camera number `camera` (1-based) and follows `steps`."""

    camera: int
    name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Scenario:
    """A whole scenario: a start time, named routes and the officers' steps."""

    name: str
    description: str
    start: datetime | None
    routes: dict[str, tuple[RoutePoint, ...]]
    officers: tuple[Officer, ...]

    @property
    def cameras_needed(self) -> int:
        """The highest camera number a step uses."""
        return max((officer.camera for officer in self.officers), default=0)

    def route_waypoints(self, name: str, start: datetime) -> list[Waypoint]:
        """A route's waypoints for a walk that starts at `start`."""
        return [
            Waypoint(start + point.after, point.latitude, point.longitude)
            for point in self.routes[name]
        ]


def parse_duration(value: object, where: str) -> timedelta:
    """A duration written as seconds (a number) or like `1h30m`, `10m`, `45s`."""
    if isinstance(value, bool):
        raise ScenarioError(f"{where}: {value!r} is not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip() and (match := DURATION.fullmatch(value.strip())):
        hours, minutes, secs = (float(part) if part else 0.0 for part in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    else:
        raise ScenarioError(f"{where}: {value!r} is not a duration (like 90s, 10m, 1h30m)")
    if seconds < 0:
        raise ScenarioError(f"{where}: a duration cannot be negative")
    return timedelta(seconds=seconds)


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: expected a mapping, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise ScenarioError(f"{where}: keys must be text, got {key!r}")
    return value


def _only(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ScenarioError(f"{where}: expected non-empty text")
    return value


def _step(raw: object, where: str, routes: dict[str, tuple[RoutePoint, ...]]) -> Step:
    if isinstance(raw, str):
        if raw not in BARE_STEPS:
            raise ScenarioError(
                f"{where}: unknown step {raw!r}; steps are {', '.join(STEP_KINDS)}"
            )
        return Step(raw, where)
    data = _mapping(raw, where)
    if len(data) != 1:
        raise ScenarioError(f"{where}: a step has exactly one key, got {sorted(data)}")
    kind, arg = next(iter(data.items()))
    where = f"{where} ({kind})"
    if kind not in STEP_KINDS:
        raise ScenarioError(f"{where}: unknown step; steps are {', '.join(STEP_KINDS)}")
    if kind in BARE_STEPS and kind != "dock":
        if arg not in (None, {}):
            raise ScenarioError(f"{where}: takes no arguments")
        return Step(kind, where)
    if kind == "dock":
        if arg in (None, {}):
            return Step(kind, where)
        args = _mapping(arg, where)
        _only(args, {"bay"}, where)
        bay = args.get("bay")
        if not isinstance(bay, int) or isinstance(bay, bool) or bay < 1:
            raise ScenarioError(f"{where}: bay is a number from 1")
        return Step(kind, where, bay=bay)
    if kind == "wait":
        return Step(kind, where, duration=parse_duration(arg, where))
    if kind == "record":
        args = _mapping(arg, where)
        _only(args, {"for", "trigger"}, where)
        if "for" not in args:
            raise ScenarioError(f"{where}: 'for' (how long) is required")
        trigger_text = args.get("trigger", "button")
        choices = [t.value for t in RECORD_TRIGGERS]
        if trigger_text not in choices:
            raise ScenarioError(f"{where}: trigger must be one of {', '.join(choices)}")
        duration = parse_duration(args["for"], where)
        if duration <= timedelta(0):
            raise ScenarioError(f"{where}: 'for' must be longer than zero")
        return Step(kind, where, duration=duration, trigger=Trigger(trigger_text))
    if kind == "walk":
        name = _text(arg, where)
        if name not in routes:
            known = ", ".join(sorted(routes)) or "none"
            raise ScenarioError(f"{where}: no route {name!r} (routes: {known})")
        return Step(kind, where, route=name)
    if kind in ("category", "note"):
        return Step(kind, where, text=_text(arg, where))
    # environment
    args = _mapping(arg, where)
    _only(args, {"outdoor", "scene", "low_light", "temperature_c"}, where)
    for key in ("outdoor", "low_light"):
        if key in args and not isinstance(args[key], bool):
            raise ScenarioError(f"{where}: {key} is true or false")
    if "scene" in args and args["scene"] not in {s.value for s in Scene}:
        raise ScenarioError(f"{where}: scene is one of {', '.join(s.value for s in Scene)}")
    if "temperature_c" in args and (
        isinstance(args["temperature_c"], bool)
        or not isinstance(args["temperature_c"], int | float)
    ):
        raise ScenarioError(f"{where}: temperature_c is a number")
    return Step(kind, where, environment=dict(args))


STEP_KINDS = (
    "take", "wait", "record", "stop", "fall", "holster", "unholster", "walk",
    "environment", "category", "note", "dock",
)


def _routes(raw: object, where: str) -> dict[str, tuple[RoutePoint, ...]]:
    routes: dict[str, tuple[RoutePoint, ...]] = {}
    for name, points in _mapping(raw, where).items():
        here = f"{where}.{name}"
        if not isinstance(points, list) or not points:
            raise ScenarioError(f"{here}: a route is a non-empty list of points")
        parsed: list[RoutePoint] = []
        for index, point in enumerate(points):
            spot = f"{here}[{index}]"
            data = _mapping(point, spot)
            _only(data, {"after", "lat", "lon"}, spot)
            for key in ("lat", "lon"):
                if isinstance(data.get(key), bool) or not isinstance(data.get(key), int | float):
                    raise ScenarioError(f"{spot}: {key} (degrees) is required")
            if not -90 <= data["lat"] <= 90 or not -180 <= data["lon"] <= 180:
                raise ScenarioError(f"{spot}: latitude or longitude out of range")
            parsed.append(
                RoutePoint(parse_duration(data.get("after", 0), spot), data["lat"], data["lon"])
            )
        routes[name] = tuple(parsed)
    return routes


def parse_scenario(data: object, source: str = "scenario") -> Scenario:
    """Check a scenario's YAML data whole and build it; ScenarioError names what is wrong."""
    top = _mapping(data, source)
    _only(top, {"name", "description", "start", "routes", "officers"}, source)
    start = top.get("start")
    if start is not None:
        if isinstance(start, str):
            try:
                start = datetime.fromisoformat(start.replace("Z", "+00:00"))
            except ValueError as exc:
                raise ScenarioError(f"{source}: start: {exc}") from exc
        if not isinstance(start, datetime) or start.tzinfo is None:
            raise ScenarioError(f"{source}: start must be a time with a UTC offset or Z")
    routes = _routes(top.get("routes") or {}, f"{source}: routes")
    officers_raw = top.get("officers")
    if not isinstance(officers_raw, list) or not officers_raw:
        raise ScenarioError(f"{source}: officers must be a non-empty list")
    officers: list[Officer] = []
    cameras_used: set[int] = set()
    for index, raw in enumerate(officers_raw):
        where = f"{source}: officers[{index}]"
        data = _mapping(raw, where)
        _only(data, {"camera", "name", "steps"}, where)
        camera = data.get("camera")
        if not isinstance(camera, int) or isinstance(camera, bool) or camera < 1:
            raise ScenarioError(f"{where}: camera is a camera number from 1")
        if camera in cameras_used:
            raise ScenarioError(f"{where}: camera {camera} is already used by another officer")
        cameras_used.add(camera)
        name = str(data.get("name") or f"officer {index + 1}")
        where = f"{source}: officers[{index}] ({name})"
        steps_raw = data.get("steps")
        if not isinstance(steps_raw, list) or not steps_raw:
            raise ScenarioError(f"{where}: steps must be a non-empty list")
        steps = tuple(
            _step(step, f"{where} step {number}", routes)
            for number, step in enumerate(steps_raw, start=1)
        )
        _check_order(steps)
        officers.append(Officer(camera, name, steps))
    return Scenario(
        name=str(top.get("name") or source),
        description=str(top.get("description") or ""),
        start=start,
        routes=routes,
        officers=tuple(officers),
    )


def _check_order(steps: tuple[Step, ...]) -> None:
    """Catch steps that cannot happen where they stand (recording while docked, ...)."""
    docked = True
    for step in steps:
        if step.kind == "take":
            if not docked:
                raise ScenarioError(f"{step.where}: the camera is already taken")
            docked = False
        elif step.kind == "dock":
            if docked:
                raise ScenarioError(f"{step.where}: the camera is already docked")
            docked = True
        elif step.kind in ("record", "stop", "fall", "holster", "unholster", "walk") and docked:
            raise ScenarioError(f"{step.where}: take the camera out of its dock first")


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file."""
    try:
        data = yaml.safe_load(read_user_text(path, limit=MAX_SCENARIO_BYTES, what="scenario"))
    except UserFileError as exc:
        raise ScenarioError(str(exc)) from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    return parse_scenario(data, path.name)


def example_scenarios() -> dict[str, Path]:
    """The scenarios shipped with bodyworn, by file stem."""
    folder = Path(__file__).parent / "scenarios"
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}
