"""A set-up controller app whose docking runs the whole on-dock sequence (with an offload
engine that is driven by hand), a station of simulated cameras, and a trusted test key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bodyworn.controller.app import create_app
from bodyworn.controller.cameras.service import cancel_removal_watches
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.docking.orchestrator import Docking
from bodyworn.controller.docking.sync import ReadyWait
from bodyworn.controller.docks.service import ensure_token
from bodyworn.controller.offload.engine import OffloadEngine
from bodyworn.devices.battery import Battery
from bodyworn.devices.camera import Camera
from bodyworn.devices.docking import DockingStation, DockModel
from bodyworn.devices.docklink_server import DockLinkServer, EventReporter
from bodyworn.domain.clock import ManualClock
from tests.controller.conftest import login, set_up
from tests.controller.device_rig import SERIALS, Rig
from tests.firmware_factory import write_trusted_key


@pytest.fixture
def fw_rig(ctx: ControllerContext, clock: ManualClock, tmp_path: Path) -> Iterator[Rig]:
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
