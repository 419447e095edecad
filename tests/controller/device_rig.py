"""A set-up controller with a real docking station of simulated cameras on loopback.

The station's dock link server runs on loopback; its EventReporter posts dock events to the
controller app through the test client, with the dock port token. The cameras' trust
checks run on the controller's clock, so a test that moves the clock stays signed in time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bodyworn.controller.app import create_app
from bodyworn.controller.cameras.service import cancel_removal_watches
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.docking.orchestrator import Docking
from bodyworn.controller.docking.sync import ReadyWait
from bodyworn.controller.docks.service import ensure_token
from bodyworn.controller.offload.engine import OffloadEngine
from bodyworn.controller.setup.service import Identity
from bodyworn.devices.battery import Battery
from bodyworn.devices.camera import Camera
from bodyworn.devices.docking import DockingStation, DockModel
from bodyworn.devices.docklink_server import DockLinkServer, EventReporter
from bodyworn.domain.clock import ManualClock
from tests.controller.conftest import login, set_up
from tests.firmware_factory import write_trusted_key

SERIALS = ("B8A44F000001", "B8A44F000002", "B8A44F000003")


@dataclass
class Rig:
    """The controller (logged-in client), one 8-bay station and three cameras out of it."""

    ctx: ControllerContext
    client: TestClient
    csrf: str
    sim_clock: ManualClock
    station: DockingStation
    server: DockLinkServer
    reporter: EventReporter
    cameras: dict[str, Camera] = field(default_factory=dict)

    @property
    def token(self) -> str:
        """The controller's dock port token."""
        return ensure_token(self.ctx.data_dir)

    def dock(self, serial: str, bay: int | None = None) -> None:
        """Put a camera in the station and wait until the controller handled the event."""
        with self.server.lock:
            self.station.insert(self.cameras[serial], bay)
        self.reporter.flush()
        assert self.ctx.docking is not None
        self.ctx.docking.wait()

    def undock(self, serial: str) -> None:
        """Take a camera out of the station; wait for the controller."""
        with self.server.lock:
            self.station.take(self.cameras[serial])
        self.reporter.flush()

    def settle(self, seconds: float = 30) -> None:
        """Let simulated time pass for the cameras (restart after docking)."""
        with self.server.lock:
            self.sim_clock.advance(timedelta(seconds=seconds))

    def wait_until(self, check: Any, seconds: float = 5.0) -> None:
        """Poll `check()` until true (work the controller does in a worker thread)."""
        deadline = time.monotonic() + seconds
        while not check():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.05)

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """A manager API request with the session's CSRF token."""
        headers = {"X-CSRF-Token": self.csrf, **kw.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kw)

    def form(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        """A manager form post with the CSRF token."""
        return self.client.post(path, data={"csrf_token": self.csrf, **(data or {})},
                                follow_redirects=False)

    def tap(self, tag: str) -> httpx.Response:
        """A tap at the dock reader, as the reader sends it."""
        return self.client.post("/docklink/v1/rfid/taps", json={"tag": tag, "reader": "R1"},
                                headers={"Authorization": f"Bearer {self.token}"})

    def add(self, serial: str) -> None:
        """Dock and add a camera through the API."""
        self.dock(serial)
        r = self.api("POST", f"/api/v1/cameras/{serial}/add")
        assert r.status_code == 200, r.text

    def user(self, name: str, user_id: str) -> str:
        """Create a user; its uuid."""
        r = self.api("POST", "/api/v1/users", json={"name": name, "user_id": user_id})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def make_rig(ctx: ControllerContext, clock: ManualClock, mode: str,
             identity: Identity | None = None) -> Iterator[Rig]:
    """A rig on `ctx` (set up now, with `identity` when given: a restored controller)."""
    set_up(ctx, identity, camera_assignment=mode)
    sim_clock = ManualClock(datetime(2026, 11, 27, 8, 0, tzinfo=UTC))
    station = DockingStation("DOCK0001", DockModel.W701)
    server = DockLinkServer(station, link_clock=clock).start()
    # The offload engine has its own tests; here the dock events are about the registry.
    ctx.docking = Docking(ctx, offload=None)
    app = create_app(ctx)
    with TestClient(app, base_url="https://testserver") as client:
        csrf = login(client)
        reporter = EventReporter(station, server, "https://testserver", client=client,
                                 attempts=1, token=ensure_token(ctx.data_dir))
        station.connect("https://testserver")
        rig = Rig(ctx, client, csrf, sim_clock, station, server, reporter)
        for serial in SERIALS:
            rig.cameras[serial] = Camera(serial, sim_clock, battery=Battery(1.0))
        try:
            yield rig
        finally:
            cancel_removal_watches(ctx)
            reporter.close()
            ctx.docking.wait()
            server.stop()


@pytest.fixture
def rig(ctx: ControllerContext, clock: ManualClock) -> Iterator[Rig]:
    """A fixed-assignment system with a station and three boxed cameras."""
    yield from make_rig(ctx, clock, "fixed")


@pytest.fixture
def self_assign_rig(ctx: ControllerContext, clock: ManualClock) -> Iterator[Rig]:
    """A self-assign system with a station and three boxed cameras."""
    yield from make_rig(ctx, clock, "self-assign")


@pytest.fixture
def synced_rig(ctx: ControllerContext, clock: ManualClock, tmp_path: Path) -> Iterator[Rig]:
    """Like device_rig's, but docked added cameras are synced (firmware too) and ingested."""
    ctx.settings.firmware_key_file = write_trusted_key(tmp_path / "keys")
    set_up(ctx)
    sim_clock = ManualClock(datetime(2026, 11, 27, 8, 0, tzinfo=UTC))
    station = DockingStation("DOCK0001", DockModel.W701)
    server = DockLinkServer(station, link_clock=clock).start()
    ctx.offload = OffloadEngine(ctx, autostart=False)
    ctx.docking = Docking(ctx, ctx.offload, ready=ReadyWait(timeout_s=20, poll_s=0.05))
    app = create_app(ctx)
    with TestClient(app, base_url="https://testserver") as client:
        csrf = login(client)
        reporter = EventReporter(station, server, "https://testserver", client=client,
                                 attempts=1, token=ensure_token(ctx.data_dir))
        station.connect("https://testserver")
        rig = Rig(ctx, client, csrf, sim_clock, station, server, reporter)
        for serial in SERIALS:
            rig.cameras[serial] = Camera(serial, sim_clock, battery=Battery(1.0))
        try:
            yield rig
        finally:
            cancel_removal_watches(ctx)
            reporter.close()
            ctx.docking.wait()
            server.stop()
