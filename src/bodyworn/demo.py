"""`bodyworn demo`: the whole system on one machine.

The embedded content destination, a primary controller set up unattended, two 8-bay
docking stations full of simulated cameras and a short scripted shift, all in this one
process. The first run creates everything in the data directory (logins printed once and
kept in `credentials.txt`, mode 0600); later runs reuse it.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from rich.console import Console

from bodyworn.controller.settings import ControllerSettings
from bodyworn.store.files import write_file_atomic

if TYPE_CHECKING:
    from bodyworn.controller.context import ControllerContext
    from bodyworn.devices.scenario import Scenario
    from bodyworn.devices.simulate import Simulation

HOST = "127.0.0.1"
STATIONS, BAYS, CAMERAS = 2, 8, 16
SPEED = 60.0
# Ctrl-C must stop the demo even while a browser holds connections open.
SHUTDOWN_GRACE = 5
STATE_FILE = "demo.json"
CREDENTIALS_FILE = "credentials.txt"
CONNECTION_FILE = "connection.json"
OFFICERS = (
    ("Officer Andersson", "officer-01"), ("Officer Berg", "officer-02"),
    ("Officer Carlsson", "officer-03"), ("Officer Dahl", "officer-04"),
    ("Officer Ek", "officer-05"), ("Officer Falk", "officer-06"),
    ("Officer Gran", "officer-07"), ("Officer Holm", "officer-08"),
    ("Officer Isaksson", "officer-09"), ("Officer Jonsson", "officer-10"),
    ("Officer Karlsson", "officer-11"), ("Officer Lind", "officer-12"),
    ("Officer Moberg", "officer-13"), ("Officer Nilsson", "officer-14"),
    ("Officer Olsson", "officer-15"), ("Officer Persson", "officer-16"),
)

# The officers' camera profile: where a recording happened is kept (GNSS track, start and
# stop places) and burned in beside the user ID and the time.
PROFILE_NAME = "Patrol"
PROFILE_SETTINGS = {"location_data": True, "overlay": ["date_time", "location", "user_id"]}

# Four officers on a short shift (simulated time runs 60 times faster than real time): the
# first records two minutes, tags the recording with a category and a note and docks again
# within three simulated minutes, so a recording with both (and its GNSS track) is at the
# CD within the demo's first 20 seconds.
SHIFT = """\
name: demo-shift
description: A short shift for the demo; four officers record, tag and dock.
start: {start}
routes:
  harbour:
    - {{after: 0m, lat: 59.3293, lon: 18.0686}}
    - {{after: 20m, lat: 59.3326, lon: 18.0649}}
  old-town:
    - {{after: 0m, lat: 59.3251, lon: 18.0710}}
    - {{after: 30m, lat: 59.3236, lon: 18.0722}}
officers:
  - camera: 1
    name: Officer Andersson
    steps:
      - take
      - environment: {{outdoor: true, scene: medium}}
      - walk: harbour
      - wait: 10s
      - record: {{for: 2m, trigger: button}}
      - category: Incident
      - note: Stopped a car for speeding at the harbour gate.
      - wait: 30s
      - dock
  - camera: 2
    name: Officer Berg
    steps:
      - take
      - environment: {{outdoor: true, scene: low}}
      - walk: old-town
      - wait: 3m
      - record: {{for: 5m, trigger: button}}
      - category: Arrest
      - wait: 2m
      - dock
  - camera: 9
    name: Officer Isaksson
    steps:
      - take
      - environment: {{outdoor: true, scene: high}}
      - walk: harbour
      - wait: 5m
      - record: {{for: 12m, trigger: button}}
      - note: Crowd at the ferry terminal; clip split at the ten-minute limit.
      - wait: 3m
      - dock
  - camera: 10
    name: Officer Jonsson
    steps:
      - take
      - environment: {{outdoor: false}}
      - wait: 4m
      - record: {{for: 2m, trigger: button}}
      - category: Witness statement
      - wait: 1m
      - record: {{for: 2m, trigger: button}}
      - wait: 2m
      - dock
"""


# The cameras the shift takes out (camera: N of SHIFT), by serial.
ON_SHIFT = frozenset(f"B8A44F{n:06d}" for n in (1, 2, 9, 10))


@dataclass
class DemoState:
    """What a first run decided and later runs reuse: the ports and the logins."""

    cd_port: int
    controller_port: int
    root_password: str
    passphrase: str
    cd_browser_password: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _load_state(data_dir: Path, port: int | None) -> tuple[DemoState, bool]:
    path = data_dir / STATE_FILE
    if path.is_file():
        state = DemoState(**json.loads(path.read_text(encoding="utf-8")))
        if port is not None:
            state.controller_port = port
        return state, False
    state = DemoState(
        cd_port=_free_port(),
        controller_port=port or _free_port(),
        root_password="demo-" + secrets.token_urlsafe(15),
        passphrase="demo passphrase " + secrets.token_urlsafe(18),
        cd_browser_password="",
    )
    return state, True


def _save_state(data_dir: Path, state: DemoState) -> None:
    write_file_atomic(data_dir / STATE_FILE,
                      (json.dumps(state.__dict__, indent=2) + "\n").encode("utf-8"))


def _write_credentials(data_dir: Path, state: DemoState, manager: str, browser: str) -> Path:
    text = (
        f"Manager            {manager}\n"
        f"  user             root\n"
        f"  password         {state.root_password}\n"
        f"  super admin passphrase  {state.passphrase}\n"
        f"  restore key      {data_dir / 'system-restore-key.json'}\n"
        f"CD evidence browser {browser}\n"
        f"  password         {state.cd_browser_password}\n"
    )
    path = data_dir / CREDENTIALS_FILE
    write_file_atomic(path, text.encode("utf-8"), mode=0o600)
    os.chmod(path, 0o600)
    return path


class _CDThread:
    """The embedded CD served by uvicorn on its own event loop in a thread."""

    def __init__(self, cd_dir: Path, port: int) -> None:
        self.cd_dir, self.port = cd_dir, port
        self.server: uvicorn.Server | None = None
        self.ready = threading.Event()
        self.failed: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="demo-cd", daemon=True)

    def _run(self) -> None:
        from bodyworn.destination.serve import make_server

        async def main() -> None:
            self.server = await make_server(self.cd_dir, host=HOST, port=self.port, https=True,
                                            site_name="bodyworn demo", log_level="warning")
            await self.server.serve()

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the main thread
            self.failed = exc
        finally:
            self.ready.set()

    def start(self, timeout: float = 30.0) -> None:
        """Start serving; return once it answers."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.failed is not None:
                raise RuntimeError(f"the content destination did not start: {self.failed}")
            if self.server is not None and self.server.started:
                return
            time.sleep(0.05)
        raise RuntimeError("the content destination did not start in time")

    def stop(self) -> None:
        """Ask the server to finish and wait for it."""
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(10)


def _set_up_controller(settings: ControllerSettings, connection: bytes, state: DemoState,
                       data_dir: Path) -> bool:
    """Set the controller up unattended on the first run; False when it already was."""
    from bodyworn.controller.app import build_context
    from bodyworn.controller.setup import service
    from bodyworn.controller.setup.service import Identity, SetupAnswers, SetupInvalid
    from bodyworn.domain.clock import SystemClock

    clock = SystemClock()
    ctx = build_context(settings, clock=clock)
    try:
        if ctx.set_up:
            return False
        answers = SetupAnswers(
            language="en", root_password=state.root_password,
            super_admin_passphrase=state.passphrase, system_name="bodyworn demo",
            timezone="Europe/Stockholm", time_mode="manual", manual_time=clock.now(),
            connection_file=connection, power_line_frequency=50, camera_assignment="fixed",
            listen_host=HOST, listen_port=state.controller_port,
        )
        errors = service.validate(answers)
        if errors:
            raise SetupInvalid(errors)
        identity = Identity.generate()
        key_path = data_dir / "system-restore-key.json"
        # As in unattended setup: the restore key is on disk before the system exists.
        write_file_atomic(key_path, service.restore_key_bytes(answers, identity, clock))
        service.commit(ctx.factory, clock, answers, identity, offset_seconds=0.0,
                       source="demo")
        return True
    finally:
        ctx.engine.dispose()


def _ensure_profile(session: Any, clock: Any) -> int:
    """The demo's camera profile (location data on, so recordings carry a GNSS track), made
    the default on the first run; its id."""
    from bodyworn.controller.profiles import service as profiles
    from bodyworn.domain.text import fold

    found = profiles.by_name(session, clock).get(fold(PROFILE_NAME))
    if found is not None:
        return int(found.id)
    view = profiles.create(session, clock, PROFILE_NAME, PROFILE_SETTINGS, make_default=True,
                           actor="demo", source="demo")
    return view.id


def _ensure_users(ctx: ControllerContext) -> dict[str, str]:
    """The demo's officers as body worn users with the demo's profile: user ID → uuid."""
    from bodyworn.controller.users import service as users

    found: dict[str, str] = {}
    with ctx.factory() as session, session.begin():
        profile_id = _ensure_profile(session, ctx.clock)
        existing = {u.user_id: u.uuid for u in users.list_users(session, limit=1000)[0]}
        for name, user_id in OFFICERS:
            if user_id in existing:
                found[user_id] = existing[user_id]
                continue
            view = users.create(session, ctx.clock, name=name, user_id=user_id,
                                profile_id=profile_id, actor="demo", source="demo")
            found[user_id] = view.uuid
    return found


def _administrator(ctx: ControllerContext, users: dict[str, str], stop: threading.Event,
                   say: Callable[[str], None]) -> None:
    """What an administrator does in the manager: add each docked new camera, assign it."""
    from bodyworn.controller.assignment import service as assignment
    from bodyworn.controller.cameras import service as cameras
    from bodyworn.controller.cameras.states import CameraState

    serial_to_user = {f"B8A44F{i + 1:06d}": OFFICERS[i][1] for i in range(CAMERAS)}
    done: set[str] = set()
    failures: dict[str, int] = {}
    while not stop.is_set():
        with ctx.factory() as session:
            # The shift's cameras first: their officers wait for them before they go out.
            views = sorted(cameras.list_cameras(session),
                           key=lambda v: (v.serial not in ON_SHIFT, v.serial))
        for view in views:
            if not view.docked or view.serial in done or view.serial not in serial_to_user:
                continue
            user_id = serial_to_user[view.serial]
            try:
                # Only a live answer counts: the registry may still hold the last run's.
                view = cameras.refresh(ctx, view.serial)
                if not view.live:
                    continue
                if view.state == CameraState.NEW:
                    view = cameras.add(ctx, view.serial, actor="demo", source="demo")
                elif view.info.get("shipping_mode"):
                    continue  # reset since the last run: its dock event makes it new
                if view.user_uuid != users[user_id]:
                    assignment.assign(ctx, view.serial, users[user_id], actor="demo",
                                      source="demo")
                # A camera still restarting after docking takes its user a moment later.
                if cameras.refresh(ctx, view.serial).info.get("user_id") != user_id:
                    assignment.push_user(ctx, view.serial)
                    continue
            except Exception as exc:
                # Usually a camera still restarting, or an address from the last run that
                # its dock event is about to replace: try again, say so only if it lasts.
                failures[view.serial] = failures.get(view.serial, 0) + 1
                if failures[view.serial] == 20:
                    say(f"camera {view.serial}: {exc}; still trying")
                continue
            done.add(view.serial)
            say(f"camera {view.serial} added and assigned to {user_id}")
        stop.wait(0.5)


def _prepare_destination(data_dir: Path, cd_dir: Path, cd_url: str, state: DemoState,
                         first: bool) -> bytes:
    """The embedded CD's data (browser password on the first run) and its connection file."""
    from bodyworn.destination.browser_auth import set_browser_password
    from bodyworn.destination.config import connection_file_for
    from bodyworn.destination.serve import prepare

    config = prepare(cd_dir, host=HOST, https=True, encryption=False,
                     site_name="bodyworn demo")
    if first:
        state.cd_browser_password = secrets.token_urlsafe(15)
        set_browser_password(cd_dir, state.cd_browser_password)
    connection = connection_file_for(config, cd_dir, [cd_url])
    write_file_atomic(data_dir / CONNECTION_FILE, connection, mode=0o644)
    return connection


def _controller_server(app: Any, port: int, ctx: Any) -> uvicorn.Server:
    """The manager over HTTPS with its active certificate (Default unless changed)."""
    from bodyworn.controller.certificates.service import active_pair
    from bodyworn.controller.certificates.serving import CertificateSwitch

    with ctx.factory() as session:
        switch = CertificateSwitch(active_pair(session))
    app.state.tls = switch
    return uvicorn.Server(uvicorn.Config(app, host=HOST, port=port,
                                         log_level="warning", proxy_headers=False,
                                         ssl_context_factory=switch.uvicorn_factory,
                                         timeout_graceful_shutdown=SHUTDOWN_GRACE))


def _print_welcome(console: Console, state: DemoState, first: bool, data_dir: Path,
                   where: tuple[str, str, Path]) -> None:
    """Where to look and, on the first run, the logins."""
    manager_url, browser_url, credentials = where
    console.print("bodyworn demo", style="bold")
    console.print(f"  Manager:             {manager_url}", markup=False)
    console.print(f"  CD evidence browser: {browser_url}", markup=False)
    if first:
        console.print(f"  root password:          {state.root_password}", markup=False)
        console.print(f"  super admin passphrase: {state.passphrase}", markup=False)
        console.print(f"  CD browser password:    {state.cd_browser_password}", markup=False)
        console.print(f"  System restore key:     {data_dir / 'system-restore-key.json'}",
                      markup=False)
    console.print(f"  Logins are kept in {credentials} (0600); the CD's connection file in"
                  f" {data_dir / CONNECTION_FILE}.", markup=False)
    console.print("  Ctrl-C stops the demo.", markup=False)


def _shift_simulation(data_dir: Path, controller_dir: Path, manager_url: str,
                      duration: float | None, console: Console
                      ) -> tuple[Simulation, Scenario]:
    """The stations and cameras of the demo, and the shift they play (from an hour ago)."""
    from bodyworn.controller.docks.service import ensure_token
    from bodyworn.devices.scenario import load_scenario
    from bodyworn.devices.simulate import DockLayout, Simulation, SimulationOptions

    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    scenario_path = data_dir / "demo-shift.yaml"
    scenario_path.write_text(SHIFT.format(start=start.strftime("%Y-%m-%dT%H:%M:%SZ")),
                             encoding="utf-8")
    simulation = Simulation(
        manager_url, DockLayout(STATIONS, BAYS), CAMERAS,
        work_dir=data_dir / "cameras",
        options=SimulationOptions(
            speed=SPEED, start=start, ready_timeout=120.0,
            offload_timeout=float(duration or 24 * 3600), dock_token=ensure_token(controller_dir),
        ),
        log=lambda line: console.print(f"  [shift] {line}", markup=False, highlight=False),
    )
    return simulation, load_scenario(scenario_path)


def _start_timers(server: uvicorn.Server, duration: float | None, browse: str | None) -> None:
    """Stop the server after `duration` seconds; open `browse` in a browser (None: not)."""
    if duration is not None:
        timer = threading.Timer(duration, lambda: setattr(server, "should_exit", True))
        timer.daemon = True
        timer.start()
    if browse is not None:
        opener = threading.Timer(1.0, lambda: webbrowser.open(browse))
        opener.daemon = True
        opener.start()


def run_demo(
    data_dir: Path,
    port: int | None,
    console: Console,
    *,
    duration: float | None = None,
    open_browser: bool = True,
) -> None:
    """Run the whole system until Ctrl-C (or `duration` seconds) and say where to look."""
    from bodyworn.controller.app import build_context, create_app
    from bodyworn.devices.simulate import SimulationError

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    state, first = _load_state(data_dir, port)
    cd_dir, controller_dir = data_dir / "destination", data_dir / "controller"
    # Both over HTTPS with their own self-signed certificates, as outside the demo: the
    # controller pins the CD's certificate through the connection file.
    cd_url = f"https://{HOST}:{state.cd_port}"
    manager_url = f"https://{HOST}:{state.controller_port}/"
    browser_url = f"{cd_url}/browser/"

    connection = _prepare_destination(data_dir, cd_dir, cd_url, state, first)
    settings = ControllerSettings(data_dir=controller_dir, host=HOST,
                                  port=state.controller_port)
    _set_up_controller(settings, connection, state, data_dir)
    _save_state(data_dir, state)
    credentials = _write_credentials(data_dir, state, manager_url, browser_url)

    cd = _CDThread(cd_dir, state.cd_port)
    cd.start()
    ctx = build_context(settings)
    app = create_app(ctx)
    users = _ensure_users(ctx)
    server = _controller_server(app, state.controller_port, ctx)

    _print_welcome(console, state, first, data_dir, (manager_url, browser_url, credentials))
    stop = threading.Event()
    simulation, scenario = _shift_simulation(data_dir, controller_dir, manager_url, duration,
                                             console)

    def say(line: str) -> None:
        console.print(f"  [manager] {line}", markup=False, highlight=False)

    def shift() -> None:
        # Wait until the controller answers: the stations report docks to it at once.
        while not server.started and not stop.is_set():
            time.sleep(0.05)
        try:
            simulation.run(scenario)
            say("the shift is over; every docked camera is offloaded")
        except (SimulationError, OSError) as exc:
            if not stop.is_set():
                say(f"the shift stopped: {exc}")

    threads = [
        threading.Thread(target=_administrator, args=(ctx, users, stop, say),
                         name="demo-admin", daemon=True),
        threading.Thread(target=shift, name="demo-shift", daemon=True),
    ]
    for thread in threads:
        thread.start()
    _start_timers(server, duration, manager_url if open_browser else None)
    try:
        server.run()
    except KeyboardInterrupt:
        pass  # uvicorn has shut down gracefully and passes Ctrl-C on
    finally:
        stop.set()
        simulation.close()
        # The helper threads print to the console: let them finish before it is handed back.
        for thread in threads:
            thread.join(3)
        if ctx.docking is not None:
            ctx.docking.wait(5.0)
        cd.stop()
        ctx.engine.dispose()
        console.print("bodyworn demo stopped.", markup=False)
