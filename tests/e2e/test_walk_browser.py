"""The manager walked as a new administrator walks it, in a real Chromium, page by page.

A fresh system: the setup wizard, then the manual's "Getting started" (a camera profile,
a user, docked cameras added and assigned) with the dashboard's checklist ticking as it
goes. Then the demo: every manager page with its shift's recordings, and the evidence
browser. On every page: no script or console error, times in the system's zone with the
zone named, and no internal name in anything shown (tests/internal_names.py). When the
docking station stops answering, the dashboard turns its lamp red, says what to check and
marks its cameras' dock state unknown. Screenshots of each page go to
$BODYWORN_SCREENSHOTS (a folder of the test's own otherwise).
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.domain.connection_factory import connection_file_bytes
from tests.e2e.conftest import Controller
from tests.e2e.test_get_started_browser import Dock
from tests.internal_names import leaks

pytestmark = pytest.mark.e2e

ROOT_PASSWORD = "Granite-Otter-47-Lantern"
PASSPHRASE = "Fjord lighthouse at dawn 2026"
ZONE = "Europe/Stockholm"
# The zone's abbreviations: a time on a page ends with one of them.
LOCAL = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})? (CET|CEST)\b")
FIRST_COMPLETE_S = 20.0
# A station is asked every 15 s; the dashboard asks for itself every few seconds.
STATION_RED_S = 45


@dataclass
class Walk:
    """A browser page that checks every page it opens and keeps a screenshot of it."""

    page: Page
    shots: Path
    errors: list[str] = field(default_factory=list)
    count: int = 0

    @classmethod
    def on(cls, page: Page, shots: Path) -> Walk:
        """Watch `page` for script and console errors."""
        walk = cls(page, shots)
        page.on("console", lambda m: walk.errors.append(f"{m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: walk.errors.append(f"page error: {e}"))
        return walk

    def look(self, name: str, *, times: bool = True) -> str:
        """Check the page shown now and keep its screenshot; its text."""
        self.page.wait_for_load_state("load")
        text = self.page.locator("body").inner_text()
        assert not leaks(text), (name, self.page.url, leaks(text))
        # Outside the time zone lists, nothing is said in UTC.
        shown = self.page.locator("body").evaluate(
            "b => { const c = b.cloneNode(true); c.querySelectorAll('select').forEach("
            "s => s.remove()); return c.innerText; }")
        assert not re.search(r"\bUTC\b", shown), (name, "a time in UTC on a page")
        if times:
            assert LOCAL.search(text), (name, "no time in the system's zone")
        self.count += 1
        self.page.screenshot(path=str(self.shots / f"{self.count:02d}-{name}.png"),
                             full_page=True)
        assert not self.errors, (name, self.errors)
        return text

    def go(self, url: str, name: str, *, times: bool = True) -> str:
        """Open `url` and look at it."""
        response = self.page.goto(url)
        assert response is not None and response.status < 400, (url, response)
        return self.look(name, times=times)


@pytest.fixture
def shots(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """Where this test's screenshots go."""
    base = Path(os.environ.get("BODYWORN_SCREENSHOTS") or tmp_path / "screenshots")
    folder = base / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _wizard(walk: Walk, controller: Controller, tmp_path: Path) -> None:
    page = walk.page
    page.goto(controller.url + "/setup")
    walk.look("wizard-start", times=False)
    page.click("#next")
    for field_id in ("#root_password", "#root_password_confirm"):
        page.fill(field_id, ROOT_PASSWORD)
    page.click("#next")
    for field_id in ("#super_admin_passphrase", "#super_admin_passphrase_confirm"):
        page.fill(field_id, PASSPHRASE)
    page.click("#next")
    with page.expect_download():
        page.click("#download-restore-key")
    page.click("#next")
    page.fill("#system_name", "Harbour")
    page.click("#next")
    page.click("#next")  # network: the address this controller runs on
    expect(page).to_have_url(f"{controller.url}/setup/time")
    # An offline site is told up front what to do.
    expect(page.locator("#offline-hint")).to_contain_text("Manual time")
    walk.look("wizard-time", times=False)
    page.select_option("#timezone", ZONE)
    page.check("input[name=time_mode][value=manual]")
    page.click("#next")
    page.click("#next")  # cloud extensions off
    connection = tmp_path / "connection.json"
    connection.write_bytes(connection_file_bytes())
    page.set_input_files("#connection_file", str(connection))
    page.click("#next")
    page.check("input[name=power_line_frequency][value='50']")
    page.click("#next")
    page.check("input[name=camera_assignment][value=fixed]")
    page.click("#next")
    walk.look("wizard-summary", times=False)
    page.click("#finish")
    page.fill("#username", "root")
    page.fill("#password", ROOT_PASSWORD)
    page.click("#login")
    expect(page).to_have_url(controller.url + "/")


def _done(page: Page) -> dict[str, bool]:
    items = page.locator("#getting-started li")
    return {str(items.nth(i).get_attribute("id"))[5:]:
            items.nth(i).get_attribute("data-done") == "yes" for i in range(items.count())}


def test_getting_started_on_a_fresh_system(controller: Controller, browser_page: Page,
                                           tmp_path: Path, shots: Path) -> None:
    walk = Walk.on(browser_page, shots)
    page = walk.page
    _wizard(walk, controller, tmp_path)

    # After Finish: the checklist, all but the setup still to do; the zone named above.
    text = walk.look("dashboard-new")
    assert _done(page) == {"setup": True, "profile": False, "users": False,
                           "stations": False, "cameras": False, "assign": False,
                           "offload": False}
    expect(page.locator("#system-zone")).to_have_text(re.compile(r"^Europe/Stockholm \(CES?T\)$"))
    shown = page.locator("#dash-time").inner_text()
    local = datetime.strptime(shown[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo(ZONE))
    assert abs((local - datetime.now(ZoneInfo(ZONE))).total_seconds()) < 120
    assert "What the lamps mean" in text and "Pulsing amber" in text

    # 1. A camera profile.
    walk.go(controller.url + "/profiles", "profiles")
    page.fill("#name", "Night shift")
    page.click("#create-profile")
    expect(page.locator("#name")).to_have_value("Night shift")
    walk.look("profile", times=False)

    # 2. A user with it.
    page.goto(controller.url + "/users/new")
    page.fill("#name", "Anna Berg")
    page.fill("#user_id", "officer-1")
    page.select_option("#profile_id", label="Night shift")
    page.click("#save-user")
    expect(page.locator("h1")).to_contain_text("Anna Berg")
    walk.go(controller.url + "/users", "users", times=False)
    expect(page.locator("#users-count")).to_have_text("1 user")
    page.fill("#q", "anna")
    page.click("#search-users")
    expect(page.locator("#users")).to_contain_text("officer-1")

    dock = Dock(controller)
    try:
        # 3. Cameras docked: the dashboard says they are not added yet.
        dock.dock("B8A44F000001")
        dock.dock("B8A44F000002")
        page.goto(controller.url + "/")
        expect(page.locator("#issues")).to_contain_text(
            "2 docked cameras are not added to this system")
        walk.look("dashboard-docked")
        done = _done(page)
        assert done["profile"] and done["users"] and done["stations"] and not done["cameras"]

        # 4. Added from Devices, New: now flagged as cameras without a user.
        walk.go(controller.url + "/devices/new", "devices-new", times=False)
        page.check("#add-B8A44F000001")
        page.check("#add-B8A44F000002")
        page.click("#add-cameras")
        expect(page.locator("#cameras-added")).to_contain_text("B8A44F000002")
        expect(page.locator("#no-user-B8A44F000001")).to_be_visible()
        walk.look("cameras", times=False)
        page.goto(controller.url + "/")
        expect(page.locator("#issues")).to_contain_text("2 cameras have no user")
        assert _done(page)["cameras"] and not _done(page)["assign"]

        # 5. Both assigned: the flag goes, the step is ticked.
        for serial in ("B8A44F000001", "B8A44F000002"):
            page.goto(f"{controller.url}/cameras/{serial}")
            page.select_option("#user_uuid", label="Anna Berg (officer-1)")
            page.click("#assign")
            expect(page.locator("#camera-notice")).to_contain_text("Saved")
        walk.look("camera")
        page.goto(controller.url + "/")
        expect(page.locator("#issues")).not_to_contain_text("no user")
        assert _done(page)["assign"] and not _done(page)["offload"]
        walk.look("dashboard-assigned")

        # The docking stations: bays by number; the token only for the passphrase.
        text = walk.go(controller.url + "/docks", "docks")
        assert "Bay 1 B8A44F000001" in text and dock.token not in text
        page.fill("#passphrase", PASSPHRASE)
        page.click("#show-token")
        expect(page.locator("#dock-token")).to_have_text(dock.token)
        walk.look("docks-token")

        # The station stops answering (its power, its cable): nothing tells the
        # controller, its checks find out. Red, an issue saying what to check, and where
        # its cameras are is unknown.
        page.goto(controller.url + "/")
        expect(page.locator("#dash-station-DOCK0001 .led-green")).to_have_count(1)
        dock.close()
        expect(page.locator("#dash-station-DOCK0001 .led-red")).to_have_count(
            1, timeout=STATION_RED_S * 1000)
        issue = page.locator("#issues .issue-station_not_answering")
        expect(issue).to_contain_text("Docking station DOCK0001 has not answered since")
        expect(issue).to_contain_text("power")
        assert LOCAL.search(issue.inner_text()), "the time it went silent, in the zone"
        for serial in ("B8A44F000001", "B8A44F000002"):
            expect(page.locator(f"#dash-camera-{serial}")).to_contain_text(
                "Dock state unknown (DOCK0001)")
        walk.look("dashboard-station-red")
        text = walk.go(controller.url + "/docks", "docks-station-red")
        assert "Not answering since" in text
    finally:
        dock.close()

    # The audit log reads as sentences, filters, and exports what it shows.
    text = walk.go(controller.url + "/audit", "audit")
    assert "Assigned a camera" in text and "B8A44F000001: nobody → Anna Berg (officer-1)" in text
    page.select_option("#action", label="Added a camera")
    page.click("#audit-filter")
    expect(page.locator("#audit-count")).to_contain_text("2 entries")
    walk.look("audit-filtered")
    with page.expect_download() as download:
        page.click("#audit-export")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [r["action"] for r in rows] == ["camera.add", "camera.add"]
    assert all(r["time_utc"].endswith("Z") and LOCAL.match(r["time_local"]) for r in rows)
    walk.go(controller.url + "/transfers", "transfers", times=False)
    for tab in ("time", "system", "certificates", "api-tokens", "notifications", "firmware"):
        walk.go(f"{controller.url}/settings/{tab}", f"settings-{tab}", times=tab == "time")
    walk.go(controller.url + "/support/system-report", "support-system-report", times=False)
    assert not walk.errors


# -- the demo ---------------------------------------------------------------------------------

DEMO = (
    "import sys; from pathlib import Path; from rich.console import Console;"
    "from bodyworn.demo import run_demo;"
    "run_demo(Path(sys.argv[1]), None, Console(), duration=240, open_browser=False)"
)


@dataclass
class Demo:
    """A running `bodyworn demo` and what it printed."""

    data: Path
    process: subprocess.Popen[bytes]
    log: Path
    started: float

    def logins(self) -> dict[str, str]:
        """The manager's and the evidence browser's addresses and passwords."""
        text = (self.data / "credentials.txt").read_text()
        manager = re.search(r"Manager\s+(\S+)", text)
        browser = re.search(r"CD evidence browser\s+(\S+)", text)
        passwords = re.findall(r"password\s+(\S+)", text)
        assert manager and browser and len(passwords) == 2, text
        return {"manager": manager.group(1).rstrip("/"), "browser": browser.group(1),
                "root": passwords[0], "cd": passwords[1]}

    def first_complete(self, timeout: float) -> tuple[str, dict[str, str], float]:
        """The first recording the CD holds Complete, its metadata and when it got there
        (seconds after the demo started)."""
        from bodyworn.destination.store import ObjectStore

        root = self.data / "destination" / "store"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if root.exists():
                store = ObjectStore(root)
                for name in store.list_containers("bodyworn"):
                    meta = store.container_metadata("bodyworn", name)
                    if meta.get("Status") == "Complete":
                        return name, meta, time.monotonic() - self.started
            time.sleep(0.2)
        raise AssertionError("no recording reached the CD Complete in time:\n"
                             + self.log.read_text()[-3000:])


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """`bodyworn demo` in a process of its own, stopped with Ctrl-C at the end."""
    data, log = tmp_path / "demo", tmp_path / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", DEMO, str(data)], stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
    running = Demo(data, process, log, time.monotonic())
    try:
        yield running
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    assert code == 0, log.read_text()[-3000:]
    assert "bodyworn demo stopped." in log.read_text()


def test_the_demo_shows_everything_it_can(demo: Demo, browser_page: Page, shots: Path) -> None:
    container, meta, seconds = demo.first_complete(180)
    # 20 s on a machine to itself; a machine whose cores are shared by several busy
    # processes (a loaded CI runner) gets the same budget per share of a core.
    shares = max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    assert seconds < FIRST_COMPLETE_S * shares, (
        f"the first Complete recording took {seconds:.1f} s ({shares:.1f} processes a core)")
    # The camera was given the system's zone when it was added, and reports it.
    assert unquote(meta["Timezone"]) == ZONE
    logins = demo.logins()
    walk = Walk.on(browser_page, shots)
    page = walk.page
    manager = logins["manager"]
    page.goto(manager + "/login")
    page.fill("#username", "root")
    page.fill("#password", logins["root"])
    page.click("#login")
    expect(page).to_have_url(manager + "/")
    walk.look("demo-dashboard")
    walk.go(manager + "/cameras", "demo-cameras", times=False)
    walk.go(manager + "/cameras/B8A44F000001", "demo-camera")
    walk.go(manager + "/users", "demo-users", times=False)
    expect(page.locator("#users-count")).to_have_text("16 users")
    text = walk.go(manager + "/transfers", "demo-transfers")
    assert "Officer Andersson" in text and "delivered" in text
    walk.go(manager + "/profiles", "demo-profiles")
    walk.go(manager + "/audit", "demo-audit")
    walk.go(manager + "/docks", "demo-docks")

    # The evidence browser: the recording with its category, its note and its track.
    page.goto(logins["browser"])
    walk.look("demo-evidence-login", times=False)
    page.fill("input[name=password]", logins["cd"])
    page.click("button[type=submit]")
    row = page.locator(f'tr[data-container="{container}"]')
    expect(row).to_contain_text("Officer Andersson (officer-01)")
    expect(row).to_contain_text("Incident")
    walk.look("demo-evidence-list")
    row.locator("a").click()
    body = page.locator("body")
    expect(body).to_contain_text("Complete")
    expect(page.locator("#bookmarks")).to_contain_text("Incident")
    expect(page.locator("#bookmarks")).to_contain_text("Stopped a car for speeding")
    expect(page.locator("svg.track .track-start")).to_have_count(1)
    text = walk.look("demo-evidence-recording")
    assert "B8A44F000001 (B8A44F000001)" not in text and container not in text.split("Container")[0]
    video = page.locator("video").first
    source = video.evaluate("v => v.src")  # absolute, as the browser resolved it
    assert isinstance(source, str) and "/play/" in source
    played = page.request.get(source)
    assert played.status == 200 and played.headers["content-type"] == "video/mp4"
    assert len(played.body()) > 1000
    from bodyworn.destination.store import ObjectStore

    stored = ObjectStore(demo.data / "destination" / "store").list_objects("bodyworn", container)
    assert any("gpstrail" in o.name for o in stored), "the recording has no GNSS track"
    assert not walk.errors
