"""`bodyworn simulate`: docking stations full of cameras, driven by a scenario, on the wire.

Every station serves its cameras' dock link on loopback and reports dock and undock events
to the controller. The scenario's officers act on one simulated clock that runs `speed`
times faster than the host's (0: as fast as possible). The clock holds while a step waits
for the controller (a camera is taken only once the controller has added and assigned it),
and after the last step the run waits for the controller to offload every docked camera.
"""

from __future__ import annotations

import heapq
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer

from bodyworn.devices.camera import DOCK_RESTART_DARK, DOCK_RESTART_STARTING, Camera, Power
from bodyworn.devices.docking import DockingStation, DockModel
from bodyworn.devices.docklink_server import DockLinkServer, EventReporter
from bodyworn.devices.environment import Scene
from bodyworn.devices.feedback import Button
from bodyworn.devices.gnss import Route
from bodyworn.devices.holster import PAIRING_TIME, HolsterLink, HolsterSensor
from bodyworn.devices.scenario import Officer, Scenario, ScenarioError, Step, load_scenario
from bodyworn.devices.video import ClipRenderer, ContainerType, Fidelity
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.profile import RecordingActivation, Trigger
from bodyworn.domain.user_files import UserFileError, read_user_text

# How often the clock moves while it runs at a finite speed, in host seconds.
TICK_S = 0.1
SETTLE = DOCK_RESTART_DARK + DOCK_RESTART_STARTING + timedelta(seconds=10)
START_UP = timedelta(seconds=25)
STOP_HOLD_S = 4.0


class SimulationError(Exception):
    """The simulation cannot start or cannot go on."""


@dataclass(frozen=True)
class DockLayout:
    """How many docking stations and how many bays each (1 or 8)."""

    stations: int
    bays: int

    @classmethod
    def parse(cls, text: str) -> DockLayout:
        """Read `NxB`, e.g. `2x8` for two 8-bay stations."""
        count, sep, bays = text.lower().partition("x")
        if not sep or not count.isdigit() or not bays.isdigit():
            raise SimulationError(f"--docks {text!r}: write stations x bays, like 2x8 or 3x1")
        layout = cls(int(count), int(bays))
        if layout.stations < 1:
            raise SimulationError("--docks: at least one station")
        if layout.bays not in (1, 8):
            raise SimulationError("--docks: stations have 1 bay (W700) or 8 bays (W701)")
        return layout

    @property
    def model(self) -> DockModel:
        """The station model with this many bays."""
        return DockModel.W700 if self.bays == 1 else DockModel.W701


@dataclass(frozen=True)
class SimulationOptions:
    """How a run goes, stated once: the CLI, `run_simulation` and the demo all pass this.

    `speed` is simulated seconds per host second (0: no waiting); `start` the simulated
    clock's first moment (None: now); the time-outs are host seconds to wait for the
    controller to add and assign a camera, and at the end for it to offload them all.
    """

    speed: float = 60.0
    start: datetime | None = None
    fidelity: Fidelity = Fidelity.FAST
    container: ContainerType = ContainerType.MKV
    ready_timeout: float = 60.0
    offload_timeout: float = 120.0
    # The controller's dock port token, sent with every dock event.
    dock_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.speed < 0:
            raise SimulationError("--speed: 0 (as fast as possible) or more")


@dataclass
class SimulationReport:
    """What a run did."""

    recordings: dict[str, list[str]] = field(default_factory=dict)
    clips: dict[str, list[Path]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    events_sent: int = 0
    events_failed: int = 0
    left_on_cameras: dict[str, int] = field(default_factory=dict)

    @property
    def offloaded(self) -> bool:
        """Whether the controller took every recording off the cameras."""
        return not any(self.left_on_cameras.values())


class Simulation:
    """Stations, cameras and their servers for one run against one controller."""

    def __init__(
        self,
        controller_url: str,
        layout: DockLayout,
        cameras: int,
        *,
        work_dir: Path,
        options: SimulationOptions | None = None,
        log: Callable[[str], None] = lambda _: None,
    ) -> None:
        options = options or SimulationOptions()
        if cameras < 1:
            raise SimulationError("--cameras: at least one camera")
        if cameras > layout.stations * layout.bays:
            raise SimulationError(
                f"--cameras {cameras} do not fit in {layout.stations} station(s) of"
                f" {layout.bays} bay(s)"
            )
        self.controller_url = controller_url.rstrip("/")
        self.options = options
        self.speed = options.speed
        self.ready_timeout = options.ready_timeout
        self.offload_timeout = options.offload_timeout
        self.log = log
        self.clock = ManualClock(options.start or datetime.now(UTC).replace(microsecond=0))
        self.lock = threading.RLock()
        self.report = SimulationReport()
        self.stations: list[DockingStation] = []
        self.servers: list[DockLinkServer] = []
        self.reporters: list[EventReporter] = []
        self.cameras: list[Camera] = []
        self.renderers: dict[str, ClipRenderer] = {}
        self.homes: dict[str, tuple[DockingStation, int]] = {}
        self.holsters: dict[str, HolsterLink] = {}
        for number in range(1, layout.stations + 1):
            station = DockingStation(f"DOCK{number:04d}", layout.model)
            server = DockLinkServer(station, lock=self.lock).start()
            self.stations.append(station)
            self.servers.append(server)
            self.reporters.append(
                EventReporter(station, server, self.controller_url, on_error=self._warn,
                              token=options.dock_token)
            )
        for number in range(1, cameras + 1):
            serial = f"B8A44F{number:06d}"
            renderer = ClipRenderer(work_dir / serial, fidelity=options.fidelity,
                                    container=options.container)
            self.renderers[serial] = renderer
            self.cameras.append(Camera(serial, self.clock, clip_sink=renderer))

    def _warn(self, message: str) -> None:
        self.report.warnings.append(message)
        self.log(f"warning: {message}")

    # ---- the clock --------------------------------------------------------------------

    def advance_to(self, moment: datetime) -> None:
        """Move the simulated clock to `moment`, at the run's speed."""
        if self.speed == 0:
            with self.lock:
                if moment > self.clock.now():
                    self.clock.set_time(moment)
            return
        step = timedelta(seconds=self.speed * TICK_S)
        while self.clock.now() < moment:
            time.sleep(TICK_S)
            with self.lock:
                self.clock.set_time(min(moment, self.clock.now() + step))

    # ---- the run ----------------------------------------------------------------------

    def run(self, scenario: Scenario) -> SimulationReport:
        """Dock every camera, play the scenario, wait for the offload, stop everything."""
        if scenario.cameras_needed > len(self.cameras):
            raise SimulationError(
                f"scenario {scenario.name!r} uses camera {scenario.cameras_needed} but only"
                f" {len(self.cameras)} are simulated (raise --cameras)"
            )
        if scenario.start is not None:
            self.clock.set_time(scenario.start)
        try:
            self._connect_and_dock()
            self.advance_to(self.clock.now() + SETTLE)
            self._play(scenario)
            self.advance_to(self.clock.now() + SETTLE)
            self._wait_for_offload()
        finally:
            self.close()
        return self.report

    def _connect_and_dock(self) -> None:
        with self.lock:
            for station in self.stations:
                station.connect(self.controller_url)
            cameras = iter(self.cameras)
            for station in self.stations:
                for bay in range(station.model.bays):
                    camera = next(cameras, None)
                    if camera is None:
                        return
                    station.insert(camera, bay)
                    self.homes[camera.serial] = (station, bay)
                    self.log(f"{camera.serial} docked in {station.serial} bay {bay + 1}")

    def _play(self, scenario: Scenario) -> None:
        # Each officer is a generator that yields how long to wait before its next action;
        # a heap runs them in time order on the one clock.
        queue: list[tuple[datetime, int, Iterator[timedelta]]] = []
        for order, officer in enumerate(scenario.officers):
            program = self._officer(scenario, officer)
            queue.append((self.clock.now(), order, program))
        heapq.heapify(queue)
        while queue:
            moment, order, program = heapq.heappop(queue)
            self.advance_to(moment)
            wait = next(program, None)
            if wait is not None:
                heapq.heappush(queue, (self.clock.now() + wait, order, program))

    def _officer(self, scenario: Scenario, officer: Officer) -> Iterator[timedelta]:
        camera = self.cameras[officer.camera - 1]
        for step in officer.steps:
            self.log(f"{self.clock.now():%H:%M:%S} {camera.serial} {officer.name}: {step.kind}")
            yield from self._step(scenario, camera, step)

    def _step(self, scenario: Scenario, camera: Camera, step: Step) -> Iterator[timedelta]:
        if step.kind == "take":
            self._wait_ready(camera, step)
            with self.lock:
                station = next(s for s in self.stations if s.bay_of(camera) is not None)
                station.take(camera)
            yield START_UP
            with self.lock:
                if camera.power is not Power.ON:
                    self._warn(f"{step.where}: camera {camera.serial} did not start")
        elif step.kind == "wait":
            yield step.duration
        elif step.kind == "record":
            if self._start(camera, step.trigger, step):
                yield step.duration
                self._stop(camera, step)
        elif step.kind == "stop":
            self._stop(camera, step)
        elif step.kind == "fall":
            self._start(camera, Trigger.FALL, step)
        elif step.kind == "holster":
            yield from self._pair_holster(camera, step)
        elif step.kind == "unholster":
            self._start(camera, Trigger.UNHOLSTER, step)
        elif step.kind == "walk":
            with self.lock:
                route = Route(scenario.route_waypoints(step.route, self.clock.now()))
                camera.gnss.route = route
        elif step.kind == "environment":
            with self.lock:
                changes = dict(step.environment)
                if "scene" in changes:
                    changes["scene"] = Scene(changes["scene"])
                camera.set_environment(replace(camera.environment, **changes))
        elif step.kind in ("category", "note"):
            self._annotate(camera, step)
        elif step.kind == "dock":
            self._dock(camera, step)

    def _wait_ready(self, camera: Camera, step: Step) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while True:
            with self.lock:
                if camera.user_id is not None and not camera.locked:
                    return
                state = "in shipping mode" if camera.shipping_mode else "without a user"
            if time.monotonic() > deadline:
                raise SimulationError(
                    f"{step.where}: camera {camera.serial} is still {state} after"
                    f" {self.ready_timeout:.0f} s; the controller must add and assign it"
                )
            time.sleep(0.05)

    def _start(self, camera: Camera, trigger: Trigger, step: Step) -> bool:
        with self.lock:
            if trigger is Trigger.BUTTON:
                clicks = 2 if camera.profile.activation is RecordingActivation.DOUBLE_CLICK else 1
                camera.press(Button.FRONT, clicks=clicks)
            elif trigger is Trigger.UNHOLSTER:
                link = self.holsters.get(camera.serial)
                if link is None:
                    self._warn(f"{step.where}: no holster sensor paired (add a holster step)")
                    return False
                link.unholster()
            else:
                camera.trigger(trigger)
            recording = camera.recording
            if recording is not None:
                made = self.report.recordings.setdefault(camera.serial, [])
                if recording.id not in made:
                    made.append(recording.id)
        if recording is None:
            self._warn(
                f"{step.where}: camera {camera.serial} did not start recording on {trigger.value}"
                " (profile, pairing or camera state)"
            )
        return recording is not None

    def _stop(self, camera: Camera, step: Step) -> None:
        with self.lock:
            if camera.recording is None:
                self._warn(f"{step.where}: camera {camera.serial} was not recording")
                return
            camera.press(Button.FRONT, hold=STOP_HOLD_S)

    def _pair_holster(self, camera: Camera, step: Step) -> Iterator[timedelta]:
        with self.lock:
            serial = f"{int(camera.serial[-6:]) % 1_000_000:06d}"
            camera.expect_holster(serial)
            link = HolsterLink(camera, HolsterSensor(serial), self.clock)
            self.holsters[camera.serial] = link
            link.power_sensor()
        yield PAIRING_TIME + timedelta(seconds=1)
        with self.lock:
            link.sync()
            if not link.paired:
                self._warn(f"{step.where}: holster sensor did not pair with {camera.serial}")

    def _annotate(self, camera: Camera, step: Step) -> None:
        with self.lock:
            done = [r for r in camera.recordings if r.stopped_at is not None]
            if not done:
                self._warn(f"{step.where}: no finished recording on {camera.serial} to annotate")
                return
            try:
                if step.kind == "category":
                    camera.add_category(done[-1].id, step.text)
                else:
                    camera.add_note(done[-1].id, step.text)
            except Exception as exc:
                self._warn(f"{step.where}: {exc}")

    def _dock(self, camera: Camera, step: Step) -> None:
        with self.lock:
            station, bay = self.homes[camera.serial]
            if step.bay is not None:
                bay = step.bay - 1
                if bay >= station.model.bays:
                    raise SimulationError(f"{step.where}: {station.serial} has no bay {step.bay}")
            if station.bays[bay] is not None:
                free = [i for i, held in enumerate(station.bays) if held is None]
                if not free:
                    raise SimulationError(f"{step.where}: no free bay in {station.serial}")
                bay = free[0]
            link = self.holsters.get(camera.serial)
            station.insert(camera, bay)
            if link is not None:
                link.sync()

    def _wait_for_offload(self) -> None:
        deadline = time.monotonic() + self.offload_timeout
        for reporter in self.reporters:
            reporter.flush(max(0.0, deadline - time.monotonic()))
        while True:
            with self.lock:
                left = {c.serial: len(c.recordings) for c in self.cameras if c.docked}
            if not any(left.values()) or time.monotonic() > deadline:
                self.report.left_on_cameras = {k: v for k, v in left.items() if v}
                if not self.report.offloaded:
                    self._warn(
                        "recordings still on cameras after"
                        f" {self.offload_timeout:.0f} s: {self.report.left_on_cameras}"
                    )
                return
            if self.speed:
                self.advance_to(self.clock.now() + timedelta(seconds=self.speed * TICK_S))
            else:
                time.sleep(0.05)

    def close(self) -> None:
        """Deliver outstanding events, stop the servers."""
        for reporter in self.reporters:
            reporter.close()
            self.report.events_sent += len(reporter.sent)
            self.report.events_failed += len(reporter.failed)
        self.reporters = []
        for server in self.servers:
            server.stop()
        self.servers = []
        for serial, renderer in self.renderers.items():
            self.report.clips[serial] = sorted(renderer.files)


def run_simulation(
    controller_url: str,
    docks: str,
    cameras: int,
    scenario_path: Path,
    *,
    work_dir: Path | None = None,
    options: SimulationOptions | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> SimulationReport:
    """Check the scenario, build the stations and cameras, and run it against a controller."""
    scenario = load_scenario(scenario_path)
    layout = DockLayout.parse(docks)
    options = options or SimulationOptions()
    simulation = Simulation(
        controller_url,
        layout,
        cameras,
        work_dir=work_dir or Path(tempfile.mkdtemp(prefix="bodyworn-sim-")),
        options=replace(options, start=scenario.start or options.start),
        log=log,
    )
    return simulation.run(scenario)


def simulate(
    controller: str = typer.Option(..., help="The controller's base URL (dock events go here)."),
    docks: str = typer.Option("2x8", help="Docking stations x bays (1 or 8), e.g. 2x8."),
    cameras: int = typer.Option(12, help="How many cameras (docked in order)."),
    scenario: str = typer.Option(
        "shift", help="Scenario YAML file, or the name of a shipped one (shift, incident)."
    ),
    speed: float = typer.Option(60.0, help="Simulated seconds per real second; 0 = no waiting."),
    work_dir: Path | None = typer.Option(None, help="Where clips are written (default: temp)."),
    fidelity: Fidelity = typer.Option(Fidelity.FAST, help="Clip fidelity: full, fast or bulk."),
    container: ContainerType = typer.Option(ContainerType.MKV, help="Clip container: mkv or mp4."),
    ready_timeout: float = typer.Option(
        60.0, help="Seconds to wait for the controller to add and assign a camera."
    ),
    offload_timeout: float = typer.Option(
        120.0, help="Seconds to wait at the end for the controller to offload."
    ),
    dock_token_file: Path | None = typer.Option(
        None, help="File holding the controller's dock port token (Docking stations page)."
    ),
) -> None:
    """Run docking stations with cameras against a controller, following a scenario."""
    from bodyworn.devices.scenario import example_scenarios

    shipped = example_scenarios()
    path = Path(scenario)
    if not path.exists() and scenario in shipped:
        path = shipped[scenario]
    token = os.environ.get("BODYWORN_DOCK_TOKEN") or None
    if dock_token_file is not None:
        try:
            token = read_user_text(dock_token_file, limit=4096, what="dock token file").strip()
        except UserFileError as exc:
            typer.echo(f"error: --dock-token-file: {exc}", err=True)
            raise typer.Exit(2) from exc
    try:
        options = SimulationOptions(
            speed=speed, fidelity=fidelity, container=container, ready_timeout=ready_timeout,
            offload_timeout=offload_timeout, dock_token=token,
        )
        report = run_simulation(
            controller, docks, cameras, path, work_dir=work_dir, options=options, log=typer.echo,
        )
    except (ScenarioError, SimulationError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    made = sum(len(ids) for ids in report.recordings.values())
    clips = sum(len(paths) for paths in report.clips.values())
    typer.echo(
        f"{made} recording(s), {clips} clip(s); {report.events_sent} dock event(s) delivered,"
        f" {report.events_failed} failed"
    )
    if not report.offloaded:
        typer.echo(f"not offloaded: {report.left_on_cameras}", err=True)
        raise typer.Exit(1)


# The CLI mounts `simulate` as a command; this one-command app lets tests run it alone.
simulate_app = typer.Typer(help="Simulated docking stations and cameras driven by a scenario.")
simulate_app.command()(simulate)
