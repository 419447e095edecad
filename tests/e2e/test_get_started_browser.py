"""The manual's "Get started" in a real browser against a real controller process.

The controller is set up unattended first (`bodyworn controller setup --answers`); a
docking station of simulated cameras runs in this process on loopback and posts its dock
events to the controller with the dock port token, as a real station would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from bodyworn.devices.battery import Battery
from bodyworn.devices.camera import Camera
from bodyworn.devices.docking import DockingStation, DockModel
from bodyworn.devices.docklink_server import DockLinkServer, EventReporter
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.led import FLASHING_GREEN
from tests.domain.connection_factory import connection_file_bytes
from tests.e2e.conftest import Controller, _wait_until_answering, bodyworn_command, free_port

pytestmark = pytest.mark.e2e

ROOT_PASSWORD = "Granite-Otter-47-Lantern"
PASSPHRASE = "Fjord lighthouse at dawn 2026"
TAG = "125kHz:0A1B2C3D4E"


def _answers(tmp_path: Path, mode: str) -> Path:
    (tmp_path / "cd.json").write_bytes(connection_file_bytes())
    path = tmp_path / "answers.toml"
    path.write_text("\n".join([
        f'root_password = "{ROOT_PASSWORD}"', f'super_admin_passphrase = "{PASSPHRASE}"',
        'restore_key_path = "restore.json"', 'system_name = "Harbour"',
        'timezone = "Europe/Stockholm"', "manual_time = true", 'connection_file = "cd.json"',
        f'camera_assignment = "{mode}"',
    ]) + "\n")
    return path


@pytest.fixture
def set_up_controller(tmp_path: Path) -> Iterator[Callable[[str], Controller]]:
    """Starts a controller set up unattended in the given assignment mode."""
    started: list[Controller] = []

    def start(mode: str) -> Controller:
        data_dir = tmp_path / "data"
        subprocess.run([*bodyworn_command(), "controller", "setup", "--answers",
                        str(_answers(tmp_path, mode)), "--data-dir", str(data_dir)],
                       check=True, capture_output=True, cwd=tmp_path)
        port, log = free_port(), tmp_path / "controller.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*bodyworn_command(), "controller", "--data-dir", str(data_dir),
                 "--host", "127.0.0.1", "--port", str(port)],
                stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
        controller = Controller(f"https://127.0.0.1:{port}", data_dir, process, log)
        started.append(controller)
        _wait_until_answering(controller.url + "/login", process, log)
        return controller

    yield start
    for controller in started:
        if controller.process.poll() is None:
            os.killpg(controller.process.pid, signal.SIGTERM)
            controller.process.wait(timeout=10)


class Dock:
    """A station with cameras, reporting to a controller with its dock port token."""

    def __init__(self, controller: Controller) -> None:
        self.token = (controller.data_dir / "dock_port_token").read_text().strip()
        self.clock = ManualClock(datetime.now(UTC))
        self.station = DockingStation("DOCK0001", DockModel.W701)
        self.server = DockLinkServer(self.station).start()
        self.reporter = EventReporter(self.station, self.server, controller.url,
                                      token=self.token)
        self.station.connect(controller.url)
        self.cameras: dict[str, Camera] = {}
        self.url = controller.url

    def dock(self, serial: str) -> Camera:
        """Dock a camera from the box and wait until the controller took the event."""
        camera = self.cameras.setdefault(serial, Camera(serial, self.clock,
                                                        battery=Battery(1.0)))
        with self.server.lock:
            self.station.insert(camera)
        self.reporter.flush()
        assert not self.reporter.failed
        return camera

    def settle(self) -> None:
        """Let the cameras' restart after docking pass (simulated time)."""
        with self.server.lock:
            self.clock.advance(timedelta(seconds=30))

    def undock(self, serial: str) -> None:
        """Take a camera out."""
        with self.server.lock:
            self.station.take(self.cameras[serial])
        self.reporter.flush()

    def tap(self, tag: str) -> httpx.Response:
        """A tap at the dock RFID reader."""
        return httpx.post(f"{self.url}/docklink/v1/rfid/taps", json={"tag": tag},
                          headers={"Authorization": f"Bearer {self.token}"},
                          verify=False, timeout=30)

    def close(self) -> None:
        """Stop reporting and serving."""
        self.reporter.close()
        self.server.stop()


def _login(page: Page, controller: Controller) -> None:
    page.goto(controller.url + "/login")
    page.fill("#username", "root")
    page.fill("#password", ROOT_PASSWORD)
    page.click("#login")
    expect(page.locator("h1")).to_have_text("Dashboard")


def _add_user(page: Page, controller: Controller, name: str, user_id: str,
              profile: str | None = None) -> str:
    page.goto(controller.url + "/users/new")
    page.fill("#name", name)
    page.fill("#user_id", user_id)
    if profile:
        page.select_option("#profile_id", label=profile)
    page.click("#save-user")
    expect(page.locator("h1")).to_contain_text(name)
    return page.url.split("/users/")[1].split("?")[0]


def test_get_started_fixed_assignment(set_up_controller: Callable[[str], Controller],
                                      browser_page: Page, tmp_path: Path) -> None:
    controller = set_up_controller("fixed")
    page = browser_page
    _login(page, controller)

    # 1. A camera profile.
    page.goto(controller.url + "/profiles")
    page.fill("#name", "Night shift")
    page.click("#create-profile")
    expect(page.locator("#name")).to_have_value("Night shift")

    # 2. A user with that profile.
    _add_user(page, controller, "Anna Berg", "officer-1", "Night shift")

    # 3. Fifty users from CSV, one of them clashing with Anna: update her.
    rows = ["name,user_id,camera_profile", "Anna Lind,officer-1,Night shift"]
    rows += [f"Officer {n},officer-{n},Night shift" for n in range(2, 51)]
    csv_path = tmp_path / "users.csv"
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    page.goto(controller.url + "/users/import")
    page.set_input_files("#csv_file", str(csv_path))
    page.click("#upload-csv")
    expect(page.locator("#import-conflicts")).to_contain_text("officer-1")
    page.check('input[name="resolution_2"][value="update"]')
    page.click("#import-commit")
    expect(page.locator("#import-done")).to_contain_text("49")
    page.goto(controller.url + "/users?q=officer-1")
    expect(page.locator("#users")).to_contain_text("Anna Lind")

    # 4. Two docked cameras, added from Devices → New.
    dock = Dock(controller)
    try:
        first, second = dock.dock("B8A44F000001"), dock.dock("B8A44F000002")
        page.goto(controller.url + "/devices/new")
        page.check("#add-B8A44F000001")
        page.check("#add-B8A44F000002")
        page.click("#add-cameras")
        expect(page.locator("#cameras")).to_contain_text("B8A44F000002")
        assert not first.shipping_mode and not second.shipping_mode

        # 5. Assign one of them.
        page.click("#camera-B8A44F000001 >> a >> text=B8A44F000001")
        page.select_option("#user_uuid", label="Anna Lind (officer-1)")
        page.click("#assign")
        expect(page.locator("#camera-notice")).to_contain_text("Saved")
        expect(page.locator("#camera-user")).to_have_text("Anna Lind")
        assert first.user_id == "officer-1"

        # The dashboard shows both, drawn as lamps, and the docking stations page the bays.
        page.goto(controller.url + "/")
        expect(page.locator("#dash-camera-B8A44F000002 .led")).to_have_count(1)
        page.goto(controller.url + "/docks")
        expect(page.locator("#station-DOCK0001")).to_contain_text("B8A44F000001")
    finally:
        dock.close()


def test_get_started_self_assign(set_up_controller: Callable[[str], Controller],
                                 browser_page: Page) -> None:
    controller = set_up_controller("self-assign")
    page = browser_page
    _login(page, controller)
    _add_user(page, controller, "Bo Ek", "officer-7")

    # Pair the tag on the user's page: keep tapping until all dots turn blue.
    expect(page.locator("#tag-dots .dot")).to_have_count(3)
    for taps in (1, 2):
        page.fill("#tag", TAG)
        page.click("#tap-tag")
        expect(page.locator("#tag-dots .dot-on")).to_have_count(taps)
    page.fill("#tag", TAG)
    page.click("#tap-tag")
    expect(page.locator("#paired-tag")).to_contain_text(TAG)

    dock = Dock(controller)
    try:
        camera = dock.dock("B8A44F000003")
        page.goto(controller.url + "/devices/new")
        page.check("#add-B8A44F000003")
        page.click("#add-cameras")
        expect(page.locator("#cameras")).to_contain_text("B8A44F000003")

        dock.settle()

        # A tap, but nobody takes the camera: 15 s later (the controller's clock moved on
        # through Settings → Date and time, the camera's own clock too) it has lapsed.
        assert dock.tap(TAG).status_code == 200
        csrf = page.locator('input[name="csrf_token"]').first.get_attribute("value") or ""
        later = datetime.now(UTC) + timedelta(seconds=20)
        moved = page.request.put(controller.url + "/api/v1/system/time", headers={
            "X-CSRF-Token": csrf}, data={"timezone": "Europe/Stockholm", "time_mode": "manual",
                                         "manual_time": later.isoformat()})
        assert moved.ok, moved.text()
        with dock.server.lock:
            dock.clock.advance(timedelta(seconds=16))
        # The controller lapses windows on its own within a second (a page only reads).
        deadline = time.monotonic() + 10
        while True:
            page.goto(controller.url + "/cameras/B8A44F000003")
            if page.locator("#camera-user").inner_text().strip() == "Nobody":
                break
            assert time.monotonic() < deadline, "the self-assignment did not lapse"
            time.sleep(0.5)
        assert camera.user_id is None

        # Tapped again and undocked within 15 s: the camera is the user's.
        answer = dock.tap(TAG)
        assert answer.status_code == 200, answer.text
        assert answer.json()["camera_serial"] == "B8A44F000003"
        assert set(camera.feedback().leds.values()) == {FLASHING_GREEN}
        dock.undock("B8A44F000003")
        assert camera.user_id == "officer-7"
        page.goto(controller.url + "/cameras/B8A44F000003")
        expect(page.locator("#camera-user")).to_have_text("Bo Ek")
        # No ready camera is left in the dock: the reader is told so.
        again = dock.tap(TAG)
        assert again.status_code == 409 and again.json()["result"] == "no_ready_camera"
    finally:
        dock.close()
