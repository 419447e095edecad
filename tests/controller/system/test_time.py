"""Time after setup: NTP measured again on a schedule, the CD as time server when its
connection file says so, the CD's clock compared with ours (its Date header), and the
language changed after setup."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bodyworn.controller.app import build_context, create_app, default_ntp
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.settings import ControllerSettings
from bodyworn.controller.system import service as system
from bodyworn.controller.system.timekeeping import remeasure, time_source
from bodyworn.destination.config import build_app, connection_file_for, init_destination
from bodyworn.domain.clock import ManualClock
from tests.cd_server import serving
from tests.controller.clock.test_ntp import SntpServer
from tests.controller.conftest import login, set_up
from tests.domain.connection_factory import connection_file_bytes


def _ntp_answers(server: str) -> dict[str, object]:
    return {"time_mode": "ntp", "ntp_server": server, "manual_time": None}


def test_ntp_is_measured_again_on_a_schedule(tmp_path: Path) -> None:
    settings = ControllerSettings(data_dir=tmp_path / "data", ntp_interval_s=0.2)
    with SntpServer(shift=42.0) as server:
        ctx = build_context(settings, clock=ManualClock(datetime(2026, 11, 27, tzinfo=UTC)),
                            ntp=default_ntp())
        set_up(ctx, **_ntp_answers(server.address))
        asked = server.queries
        with TestClient(create_app(ctx), base_url="https://testserver"):
            deadline = time.monotonic() + 10
            while server.queries < asked + 3 and time.monotonic() < deadline:
                time.sleep(0.05)
        ctx.engine.dispose()
    assert server.queries >= asked + 3, "the loop did not measure again"
    status = ctx.health.ntp
    assert status is not None and status.ok and status.server == server.address
    assert status.offset_s == pytest.approx(42.0, abs=0.5)
    with ctx.factory() as session:
        assert system.current(session).manual_offset_seconds == pytest.approx(42.0, abs=0.5)


def test_a_silent_time_server_is_on_the_dashboard(ctx: ControllerContext,
                                                  client: TestClient) -> None:
    def silent(server: str, fallback: str | None) -> float:
        raise OSError(f"no usable answer from NTP servers ({server}: timed out)")

    set_up(ctx, **_ntp_answers("ntp.example.org"))
    ctx.ntp = silent
    status = remeasure(ctx)
    assert status is not None and not status.ok
    login(client)
    issues = client.get("/api/v1/dashboard").json()["issues"]
    assert [i["kind"] for i in issues] == ["ntp_failed"]
    assert "ntp.example.org: timed out" in issues[0]["message"]
    page = client.get("/settings/time").text
    assert "The time server did not answer" in page


def test_manual_time_is_not_measured(ctx: ControllerContext) -> None:
    set_up(ctx)  # manual time
    ctx.ntp = lambda server, fallback: pytest.fail("asked an NTP server")
    assert time_source(ctx) is None and remeasure(ctx) is None


def test_the_content_destination_is_the_time_server_when_its_file_says_so(
        ctx: ControllerContext, client: TestClient) -> None:
    asked: list[tuple[str, str | None]] = []

    def measure(server: str, fallback: str | None) -> float:
        asked.append((server, fallback))
        return 2.5

    # Manual time chosen in setup: the connection file's wish wins (docs/operations.md).
    set_up(ctx, connection_file=connection_file_bytes(ContentDestinationAsNTPServer=True),
           ntp_server="ntp.example.org")
    ctx.ntp = measure
    status = remeasure(ctx)
    assert asked == [("cd.example.test", None)]
    assert status is not None and status.from_cd and status.offset_s == 2.5
    login(client)
    body = client.get("/api/v1/system/time").json()
    assert body["source"] == "cd.example.test" and body["source_is_content_destination"]
    assert body["ntp_offset_s"] == 2.5
    assert "makes it this system&#39;s time server" in client.get("/settings/time").text


def _served_cd_skew(tmp_path: Path, controller_ahead: timedelta) -> list[dict[str, str]]:
    """A controller whose clock is `controller_ahead` of the host's, talking to the embedded
    CD served by uvicorn (which stamps every answer with a Date header); its issues."""
    cd_dir = tmp_path / "cd"
    config = init_destination(cd_dir)
    cd = asyncio.run(build_app(config, cd_dir))
    with serving(cd.app) as url:
        clock = ManualClock(datetime.now(UTC) + controller_ahead)
        ctx = build_context(ControllerSettings(data_dir=tmp_path / "data"), clock=clock)
        set_up(ctx, connection_file=connection_file_for(config, cd_dir, [url]))

        async def talk() -> None:
            client = ctx.cd_clients.make(retry=None)  # type: ignore[arg-type]
            try:
                await client.authenticate()
            finally:
                await client.aclose()

        asyncio.run(talk())
    with TestClient(create_app(ctx), base_url="https://testserver") as http:
        login(http)
        issues = http.get("/api/v1/dashboard").json()["issues"]
        skew = http.get("/api/v1/system/time").json()["cd_clock_skew_s"]
    ctx.engine.dispose()
    assert skew is not None
    return issues


def test_the_dashboard_warns_when_the_cds_clock_differs(tmp_path: Path) -> None:
    issues = _served_cd_skew(tmp_path, timedelta(seconds=90))
    (issue,) = [i for i in issues if i["kind"] == "clock_skew"]
    found = re.search(r"clock is (\d+) s behind this controller's", issue["message"])
    # The controller's clock stands still while the host's runs on a second or two.
    assert found is not None and 80 <= int(found.group(1)) <= 91, issue["message"]
    assert issue["link"] == "/settings/time"


def test_clocks_within_the_threshold_raise_nothing(tmp_path: Path) -> None:
    issues = _served_cd_skew(tmp_path, timedelta(seconds=2))
    assert not [i for i in issues if i["kind"] == "clock_skew"]


def test_the_language_is_changed_after_setup(ctx: ControllerContext,
                                             client: TestClient) -> None:
    set_up(ctx)
    csrf = login(client)
    assert "Settings" in client.get("/settings/system").text
    r = client.put("/api/v1/system/language", json={"language": "xx"},
                   headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "language"
    r = client.put("/api/v1/system/language", json={"language": "sv"},
                   headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["language"] == "sv"
    assert ctx.language == "sv"
    assert "Inställningar" in client.get("/settings/system").text
    page = client.post("/settings/language", data={"language": "en", "csrf_token": csrf})
    assert page.status_code == 200 and "The language is changed." in page.text
    audit = client.get("/api/v1/audit").json()
    assert [e["detail"] for e in audit if e["action"] == "system.language"] == [
        "sv -> en", "en -> sv"]
