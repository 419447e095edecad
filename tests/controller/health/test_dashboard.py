"""The dashboard: devices in LED colours, issues with the pages that fix them, live updates."""

from __future__ import annotations

from collections import namedtuple

import pytest

from bodyworn.controller.events import CdState
from bodyworn.controller.health import service
from tests.controller.device_rig import Rig

Usage = namedtuple("Usage", "total used free")


def test_dashboard_shows_devices_in_led_colours_with_details_on_hover(rig: Rig) -> None:
    rig.dock("B8A44F000002", 1)
    rig.add("B8A44F000001")
    page = rig.client.get("/").text
    assert 'hx-get="/dashboard/live"' in page and 'hx-trigger="every 5s"' in page
    assert 'id="dash-name">North precinct' in page
    assert "led led-green" in page  # the controller and the station
    assert "led led-amber led-flashing" in page  # the new camera flashes amber
    assert 'title="1 of 8 bays in use' in page or 'title="2 of 8 bays in use' in page
    assert "Camera B8A44F000002 is not added" in page and 'href="/devices/new"' in page
    live = rig.client.get("/dashboard/live").text
    assert "<html" not in live and "B8A44F000001" in live
    board = rig.api("GET", "/api/v1/dashboard").json()
    assert [c["serial"] for c in board["cameras"]] == ["B8A44F000001", "B8A44F000002"]
    assert board["stations"][0]["serial"] == "DOCK0001"
    assert board["controllers"][0]["lamp"]["colour"] == "green"


def test_low_storage_controller_is_amber_with_an_issue(rig: Rig,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from bodyworn.controller.events import StorageLow

    heard: list[bool] = []
    rig.ctx.events.subscribe(StorageLow, lambda e: heard.append(e.low))
    monkeypatch.setattr(service, "disk_usage", lambda _p: Usage(1000, 930, 70))
    board = rig.api("GET", "/api/v1/dashboard").json()
    assert board["controllers"][0]["lamp"]["colour"] == "amber"
    assert [i["kind"] for i in board["issues"]] == ["low_storage"]
    rig.client.get("/dashboard/live")  # still low: said once
    monkeypatch.setattr(service, "disk_usage", lambda _p: Usage(1000, 900, 100))
    assert rig.api("GET", "/api/v1/dashboard").json()["issues"] == []
    assert heard == [True, False]


def test_failing_content_destination_is_red_with_a_fix_link(rig: Rig) -> None:
    rig.ctx.health.set_cd(CdState.LOST, "authentication failed")
    board = rig.api("GET", "/api/v1/dashboard").json()
    assert board["controllers"][0]["lamp"]["colour"] == "red"
    issue = board["issues"][0]
    assert issue["kind"] == "cd_failed" and issue["link"] == "/settings/destination"
    assert "authentication failed" in rig.client.get("/dashboard/live").text
    rig.ctx.health.set_cd(CdState.OK)
    assert rig.api("GET", "/api/v1/dashboard").json()["issues"] == []


def test_docking_stations_and_cameras_pages_list_what_is_docked(rig: Rig) -> None:
    rig.add("B8A44F000001")
    cams = rig.client.get("/cameras").text
    assert "B8A44F000001" in cams and "DOCK0001" in cams
    assert rig.client.get("/devices", follow_redirects=False).headers["location"] == "/cameras"
