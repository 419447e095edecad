"""End-to-end fixtures: a real controller process and a real (Debian) Chromium."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.firmware_factory import write_trusted_key

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
START_TIMEOUT = 30.0


@dataclass
class Controller:
    """A running `bodyworn controller` process."""

    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bodyworn_command() -> list[str]:
    """How to run the command line of this checkout."""
    return [sys.executable, "-m", "bodyworn.cli"]


def _wait_until_answering(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"controller exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, context=context, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is serving
        except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError):
            time.sleep(0.1)
    raise RuntimeError(f"controller did not answer within {START_TIMEOUT}s:\n{log.read_text()}")


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[Controller]:
    """A fresh controller (not set up yet) serving HTTPS on a free port."""
    data_dir = tmp_path / "data"
    port = free_port()
    log = tmp_path / "controller.log"
    # Firmware signed by the test run's key is trusted (tests/firmware_factory.py).
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "BODYWORN_FIRMWARE_KEY_FILE": str(write_trusted_key(tmp_path / "keys"))}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*bodyworn_command(), "controller", "--data-dir", str(data_dir),
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    url = f"https://127.0.0.1:{port}"
    try:
        _wait_until_answering(url + "/", process, log)
        yield Controller(url, data_dir, process, log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


# Package scope: sync Playwright keeps an event loop running until it stops, which would
# break every asyncio test collected after the browser tests.
@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    """The system Chromium driven by Playwright (never a downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser context and page that accept the self-signed certificate."""
    context = chromium.new_context(ignore_https_errors=True, accept_downloads=True)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


OPS_PASSWORD = "Granite-Otter-47-Lantern"
OPS_PASSPHRASE = "Fjord lighthouse at dawn 2026"


@pytest.fixture
def set_up_process(tmp_path: Path) -> Iterator[Callable[..., Controller]]:
    """Starts `bodyworn controller` set up unattended (cloud extensions on unless told),
    logged in as root with OPS_PASSWORD; stopped at the end."""
    from tests.domain.connection_factory import connection_file_bytes

    started: list[Controller] = []

    def start(*, cloud: bool = True, env: dict[str, str] | None = None,
              connection_file: bytes | None = None, manual_time: str | None = "true",
              extra_answers: tuple[str, ...] = ()) -> Controller:
        (tmp_path / "cd.json").write_bytes(connection_file or connection_file_bytes())
        answers = tmp_path / "answers.toml"
        lines = [f'root_password = "{OPS_PASSWORD}"',
                 f'super_admin_passphrase = "{OPS_PASSPHRASE}"',
                 'restore_key_path = "restore.json"', 'system_name = "Harbour"',
                 'timezone = "Europe/Stockholm"', 'connection_file = "cd.json"',
                 'camera_assignment = "fixed"', *extra_answers]
        if manual_time is not None:
            lines.append(f"manual_time = {manual_time}")
        if cloud:
            lines += ["cloud_extensions = true", 'cloud_location = "eu-de"']
        answers.write_text("\n".join(lines) + "\n")
        data_dir = tmp_path / "data"
        key_env = {**os.environ,
                   "BODYWORN_FIRMWARE_KEY_FILE": str(write_trusted_key(tmp_path / "keys"))}
        subprocess.run([*bodyworn_command(), "controller", "setup", "--answers", str(answers),
                        "--data-dir", str(data_dir)], check=True, capture_output=True,
                       cwd=tmp_path, env=key_env)
        port, log = free_port(), tmp_path / "controller.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*bodyworn_command(), "controller", "--data-dir", str(data_dir),
                 "--host", "127.0.0.1", "--port", str(port)],
                stdout=out, stderr=subprocess.STDOUT,
                env={**key_env, "PYTHONUNBUFFERED": "1", **(env or {})},
                start_new_session=True)
        controller = Controller(f"https://127.0.0.1:{port}", data_dir, process, log)
        started.append(controller)
        _wait_until_answering(controller.url + "/login", process, log)
        return controller

    yield start
    for controller in started:
        if controller.process.poll() is None:
            os.killpg(controller.process.pid, signal.SIGTERM)
            try:
                controller.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(controller.process.pid, signal.SIGKILL)
                controller.process.wait(timeout=10)


def browser_login(page: Page, controller: Controller, password: str = OPS_PASSWORD) -> None:
    """Log in as root through the login page."""
    page.goto(controller.url + "/login")
    page.fill("#username", "root")
    page.fill("#password", password)
    page.click("#login")
    page.wait_for_url(controller.url + "/")
    page.wait_for_selector("h1")
