"""Offload rigs: a set-up controller, real simulated cameras on loopback, a real CD.

The CD is the embedded destination (its Swift subset reached in-process through httpx's
ASGI transport, with its fault injection); `swift` tests use a real OpenStack Swift.
Everything shares one ManualClock, so camera, controller and CD agree on the time.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bodyworn.cdclient.client import CDClient, RetryPolicy
from bodyworn.cdclient.config import CDConnection
from bodyworn.controller.app import build_context
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.docking.orchestrator import Docking
from bodyworn.controller.identity.service import public_key_pem, signing_identity
from bodyworn.controller.offload import service
from bodyworn.controller.offload.engine import CDFactory, OffloadConfig, OffloadEngine
from bodyworn.controller.offload.models import OffloadClip
from bodyworn.controller.outbox import service as outbox
from bodyworn.controller.settings import ControllerSettings
from bodyworn.controller.users import service as users
from bodyworn.destination.config import (
    build_app,
    connection_file_for,
    init_destination,
)
from bodyworn.destination.swift import CDMode, SwiftApp
from bodyworn.devices.camera import Camera
from bodyworn.devices.docking import DockingStation, DockModel
from bodyworn.devices.docklink_server import DockLinkServer
from bodyworn.devices.environment import Environment
from bodyworn.devices.gnss import Receiver, Route, Waypoint
from bodyworn.devices.video import ClipRenderer, Fidelity
from bodyworn.docklink.client import DockLinkClient
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.profile import CameraProfile
from tests.controller.conftest import set_up
from tests.swift_saio import SwiftInstance, available, running_swift, swift_dir

CD_BASE = "http://cd.test"
# `@BOTH_CDS` runs a test against the embedded CD as Swift and as the reference server.
BOTH_CDS = pytest.mark.parametrize("rig", [CDMode.SWIFT, CDMode.REFERENCE], indirect=True,
                                   ids=["swift", "reference"])
FAST = RetryPolicy(attempts=2, timeout=5.0, wait_initial=0.01, wait_max=0.02, wait_jitter=0.0)
PROFILE = CameraProfile(
    name="Patrol", location_data=True, max_clip_length=timedelta(seconds=40),
    pre_buffer=timedelta(seconds=5),
)
START = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


class Crash(BaseException):
    """Stands for the process dying at this line (not an Exception: nothing catches it)."""


@dataclass
class Rig:
    """A controller with the embedded CD, stations with cameras, and helpers."""

    ctx: ControllerContext
    clock: ManualClock
    cd: SwiftApp
    cd_account: str
    tmp: Path
    stations: list[tuple[DockingStation, DockLinkServer]] = field(default_factory=list)
    cameras: dict[str, Camera] = field(default_factory=dict)
    engine: OffloadEngine | None = None
    docking: Docking | None = None
    user_id: str = "officer-17"

    def new_engine(self, cd_factory: CDFactory | None = None, **config: Any) -> OffloadEngine:
        """A fresh engine over the same database and spool: a restarted controller."""
        settings: dict[str, Any] = {"retry": FAST, "interval_s": 0.01, "backoff_initial_s": 1.0,
                                    "probe_interval_s": 1.0}
        cfg = OffloadConfig(**{**settings, **config})
        return self.use_engine(OffloadEngine(
            self.ctx, config=cfg, cd_factory=cd_factory or self.cd_client, autostart=False))

    def use_engine(self, engine: OffloadEngine) -> OffloadEngine:
        """Work with this engine (benchmarks make theirs), docked cameras too."""
        self.engine = engine
        self.ctx.offload = engine
        self.docking = Docking(self.ctx, engine)
        return engine

    def cd_client(self) -> CDClient:
        """A client of the embedded CD, in-process."""
        conn = CDConnection(uris=(f"{CD_BASE}/auth/v1.0",), user="bodyworn",
                            key=self.cd_key)
        return CDClient(conn, retry=FAST, clock=self.clock,
                        transport=httpx.ASGITransport(app=self.cd.app))

    cd_key: str = ""

    def station(self, index: int = 0) -> tuple[DockingStation, DockLinkServer]:
        """The index-th station, made on first use."""
        while len(self.stations) <= index:
            st = DockingStation(f"DOCK{len(self.stations) + 1:04d}", DockModel.W701)
            st.connect("controller")
            server = DockLinkServer(st, link_clock=self.clock).start()
            self.stations.append((st, server))
        return self.stations[index]

    def camera(self, serial: str = "B8A44F000001", station: int = 0) -> Camera:
        """An added, assigned camera docked in a station, past its restart."""
        route = Route([Waypoint(self.clock.now(), 59.3293, 18.0686),
                       Waypoint(self.clock.now() + timedelta(hours=8), 59.3326, 18.0649)])
        cam = Camera(serial, self.clock, clip_sink=ClipRenderer(
            self.tmp / "cameras" / serial, fidelity=Fidelity.FAST), gnss=Receiver(route))
        cam.set_environment(Environment(outdoor=True))
        st, _ = self.station(station)
        st.insert(cam)
        with self.ctx.factory() as session:
            identity = signing_identity(session)
            public = public_key_pem(session)
        with self.client(cam) as link:
            link.add_to_system(identity.system_id, public)
            link.configure(profile=PROFILE, user_id=self.user_id,
                           categories=["Traffic stop", "Incident"], timezone="Europe/Stockholm")
        self.clock.advance(timedelta(seconds=30))
        with self.ctx.factory() as session, session.begin():
            outbox.enqueue(session, self.clock, "device", serial, "upsert",
                           {"name": f"Camera {serial}", "model": "AXIS W100"})
        self.cameras[serial] = cam
        return cam

    def where(self, cam: Camera) -> tuple[DockingStation, DockLinkServer] | None:
        """The station holding a camera."""
        for st, server in self.stations:
            if st.bay_of(cam) is not None:
                return st, server
        return None

    def client(self, cam: Camera) -> DockLinkClient:
        """A dock link client of the controller for a docked camera."""
        found = self.where(cam)
        assert found is not None, "camera not docked"
        return self.ctx.docklink(found[1].camera_url(cam.serial))

    def record(self, cam: Camera, seconds: int = 90, station: int | None = None) -> str:
        """Take the camera out, record, tag, note, dock it again (past its restart)."""
        found = self.where(cam)
        assert found is not None
        index = self.stations.index(found)
        found[0].take(cam)
        self.clock.advance(timedelta(seconds=60))
        rec = cam.start_recording()
        assert rec is not None
        self.clock.advance(timedelta(seconds=seconds))
        cam.stop_recording()
        cam.add_category(rec.id, "Traffic stop")
        cam.add_note(rec.id, "Stopped a car at the harbour gate.")
        self.station(index if station is None else station)[0].insert(cam)
        self.clock.advance(timedelta(seconds=30))
        return rec.id

    def dock(self, cam: Camera) -> None:
        """What docking/ does on a worker thread when an added camera docks: sync, ingest."""
        assert self.docking is not None
        with self.client(cam) as link:
            self.docking.sync_and_ingest(cam.serial, link)

    def deliver(self, passes: int = 10) -> None:
        """Run the deliver loop's passes until nothing is due (or `passes` ran)."""
        assert self.engine is not None
        engine = self.engine

        async def run() -> None:
            try:
                for _ in range(passes):
                    await engine.run_once()
                    with self.ctx.factory() as session:
                        due = service.deliverable(session, self.clock.now(), 1)
                        left = service.spool_to_remove(session)
                    if not due and not left:
                        break
            finally:
                await engine.aclose()

        asyncio.run(run())

    def clip_rows(self) -> list[OffloadClip]:
        """Every clip row."""
        with self.ctx.factory() as session:
            rows = list(session.query(OffloadClip).order_by(OffloadClip.id))
            session.expunge_all()
            return rows

    def at_cd(self) -> dict[str, tuple[str, str]]:
        """Clip objects at the CD: object name → (container, sha256)."""
        found: dict[str, tuple[str, str]] = {}
        store = self.cd.store
        for container in store.list_containers(self.cd_account):
            if container in ("System", "Users", "Devices"):
                continue
            for obj in store.list_objects(self.cd_account, container):
                if obj.name.endswith((".mkv", ".mp4")):
                    assert obj.name not in found, f"{obj.name} twice at the CD"
                    found[obj.name] = (container, obj.sha256)
        return found

    def container_meta(self, container: str) -> dict[str, str]:
        """A container's metadata at the CD (header-cased keys)."""
        return self.cd.store.container_metadata(self.cd_account, container)


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def camera_clips(cam: Camera) -> dict[str, str]:
    """Clip name → sha256 of every clip file the camera still holds."""
    return {c.path.name: c.sha256 for r in cam.recordings for c in r.clips
            if c.path is not None and c.sha256 is not None}


@pytest.fixture
def rig(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Rig]:
    """A set-up controller whose connection file names the embedded CD.

    The CD answers as Swift does unless a test parametrizes `rig` indirectly with
    `CDMode.REFERENCE` (then as the CD API's reference server: no ETags, 15-minute
    tokens, GET of the System objects only, no EMS checks).
    """
    mode: CDMode = getattr(request, "param", CDMode.SWIFT)
    clock = ManualClock(START)
    cd_dir = tmp_path / "cd"
    config = init_destination(cd_dir)
    cd = asyncio.run(build_app(config, cd_dir, clock=clock, mode=mode))
    ctx = build_context(ControllerSettings(data_dir=tmp_path / "data"), clock=clock)
    set_up(ctx, connection_file=connection_file_for(config, cd_dir, [CD_BASE]),
           manual_time=START)
    with ctx.factory() as session, session.begin():
        users.create(session, clock, name="Officer Seventeen", user_id="officer-17",
                     actor="test", source="test")
    r = Rig(ctx, clock, cd, config.account, tmp_path, cd_key=config.key)
    r.new_engine()
    try:
        yield r
    finally:
        for _, server in r.stations:
            server.stop()
        ctx.engine.dispose()


Patch = Callable[..., Any]


def crash_once(monkeypatch: pytest.MonkeyPatch, target: object, name: str,
               after: bool = False) -> list[int]:
    """Make `target.name` crash on its first call (before it runs, or right after)."""
    real = getattr(target, name)
    calls = [0]
    lock = threading.Lock()

    def count() -> int:
        # Clips of a camera are ingested by more than one thread: number calls atomically.
        with lock:
            calls[0] += 1
            return calls[0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        n = count()
        if n == 1 and not after:
            raise Crash(name)
        result = real(*args, **kwargs)
        if n == 1 and after:
            raise Crash(name)
        return result

    async def awrapper(*args: Any, **kwargs: Any) -> Any:
        n = count()
        if n == 1 and not after:
            raise Crash(name)
        result = await real(*args, **kwargs)
        if n == 1 and after:
            raise Crash(name)
        return result

    monkeypatch.setattr(target, name,
                        awrapper if asyncio.iscoroutinefunction(real) else wrapper)
    return calls


@pytest.fixture(scope="session")
def offload_swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftInstance]:
    """A real OpenStack Swift for the offload tests (accounts `bwoffload`, `bwrecovery`:
    one per test that lists what its account holds)."""
    if not available():
        pytest.skip(f"no Swift start script in {swift_dir()} (set BODYWORN_SWIFT_DIR)")
    folders = (tmp_path_factory.mktemp("swift-offload") for _ in itertools.count())
    try:
        with running_swift(folders, ("bwoffload", "bwrecovery")) as instance:
            yield instance
    except RuntimeError as exc:
        pytest.fail(str(exc))
