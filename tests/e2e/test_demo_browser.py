"""The demo in a real process: a recording reaches the CD Complete and plays in its browser."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from bodyworn.destination.store import ObjectStore

DEMO = (
    "import sys; from pathlib import Path; from rich.console import Console;"
    "from bodyworn.demo import run_demo;"
    "run_demo(Path(sys.argv[1]), None, Console(), duration=120, open_browser=False)"
)


def _credentials(data: Path) -> dict[str, str]:
    text = (data / "credentials.txt").read_text()
    manager = re.search(r"Manager\s+(\S+)", text)
    browser = re.search(r"CD evidence browser\s+(\S+)", text)
    passwords = re.findall(r"password\s+(\S+)", text)
    assert manager and browser and len(passwords) == 2, text
    return {"manager": manager.group(1), "browser": browser.group(1),
            "root": passwords[0], "cd": passwords[1]}


def _first_complete(data: Path, timeout: float) -> str:
    store = ObjectStore(data / "destination" / "store")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (data / "destination" / "store").exists():
            for name in store.list_containers("bodyworn"):
                if store.container_metadata("bodyworn", name).get("Status") == "Complete":
                    return name
        time.sleep(0.5)
    raise AssertionError("no recording reached the CD Complete in time")


def test_demo_recording_is_complete_and_playable(tmp_path: Path, browser_page: Page) -> None:
    data = tmp_path / "demo"
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", DEMO, str(data)], stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True,
        )
    try:
        container = _first_complete(data, 90)
        logins = _credentials(data)
        page = browser_page
        page.goto(logins["browser"])
        page.fill("input[name=password]", logins["cd"])
        page.click("button[type=submit]")
        expect(page.locator("body")).to_contain_text(container.split("_", 1)[1])
        page.goto(f"{logins['browser'].rstrip('/')}/recordings/{container}")
        expect(page.locator("body")).to_contain_text("Complete")
        video = page.locator("video").first
        source = video.evaluate("v => v.src")  # absolute, as the browser resolved it
        assert isinstance(source, str) and "/play/" in source
        played = page.request.get(source)
        assert played.status == 200 and played.headers["content-type"] == "video/mp4"
        assert len(played.body()) > 1000
        # The manager shows the same recording at the CD.
        page.goto(logins["manager"] + "login")
        page.fill("input[name=username]", "root")
        page.fill("input[name=password]", logins["root"])
        page.click("button[type=submit]")
        page.goto(logins["manager"] + "transfers")
        expect(page.locator("body")).to_contain_text("At the content destination")
    finally:
        # Ctrl-C stops the demo cleanly.
        os.killpg(process.pid, signal.SIGINT)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    assert code == 0, log.read_text()[-3000:]
    assert "bodyworn demo stopped." in log.read_text()
