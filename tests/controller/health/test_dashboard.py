"""The dashboard: devices in LED colours, issues with the pages that fix them, live updates."""

from __future__ import annotations

import re
from collections import namedtuple

import pytest

from bodyworn.controller.events import CdState
from bodyworn.controller.health import service
from tests.controller.device_rig import Rig
from tests.controller.visible import visible_text

Usage = namedtuple("Usage", "total used free")


def test_dashboard_shows_devices_in_led_colours_with_details_on_hover(rig: Rig) -> None:
    rig.dock("B8A44F000002", 1)
    rig.add("B8A44F000001")
    page = rig.client.get("/").text
    assert 'hx-get="/dashboard/live"' in page and 'hx-trigger="every 5s"' in page
    assert 'id="dash-name">North precinct' in page
    assert "led led-green" in page  # the controller and the station
    assert "led led-amber led-flashing" in page  # the new camera flashes amber
    text = visible_text(page)
    assert "2 of 8 bays in use" in text
    assert "1 docked camera is not added to this system: B8A44F000002" in text
    assert 'href="/devices/new"' in page
    # Every lamp says what it means, in the legend's words.
    assert 'title="Not added to this system yet"' in page and 'id="legend"' in page
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


def test_the_legend_explains_every_lamp_state_the_dashboard_draws() -> None:
    from bodyworn.controller.health import legend
    from bodyworn.domain.led import FLASHING_AMBER

    for _title, rows in legend.LEGEND:
        assert rows and len({m.state for m in rows}) == len(rows)
        assert all(m.words and m.meaning for m in rows)
    # The lamps come from the same tables.
    assert legend.meaning_of(legend.CAMERA_DOCKED, FLASHING_AMBER).startswith("Not added")
    assert legend.meaning_of(legend.STATION, FLASHING_AMBER) == legend.UNKNOWN


def _steps(page: str) -> dict[str, bool]:
    return {key: done == "yes" for key, done in
            re.findall(r'id="step-([a-z]+)" class="[a-z]*" data-done="(yes|no)"', page)}


def test_getting_started_is_ticked_from_what_the_system_holds(rig: Rig) -> None:
    steps = _steps(rig.client.get("/").text)
    assert list(steps) == ["setup", "profile", "users", "stations", "cameras", "assign",
                           "offload"]
    assert steps["setup"] and not any(v for k, v in steps.items() if k != "setup")
    r = rig.api("POST", "/api/v1/profiles", json={"name": "Night shift"})
    assert r.status_code == 201, r.text
    anna = rig.user("Anna Berg", "officer-1")
    rig.add("B8A44F000001")
    page = rig.client.get("/dashboard/live").text
    steps = _steps(page)
    assert steps["profile"] and steps["users"] and steps["stations"] and steps["cameras"]
    assert not steps["assign"] and not steps["offload"]
    # An added camera without a user is flagged, with the page that fixes it.
    assert "1 camera has no user: B8A44F000001" in visible_text(page)
    assert 'href="/cameras/B8A44F000001"' in page
    assert rig.api("PUT", "/api/v1/cameras/B8A44F000001/user",
                   json={"user_uuid": anna}).status_code == 200
    page = rig.client.get("/dashboard/live").text
    assert _steps(page)["assign"] and "has no user" not in page
    assert "1 user" in visible_text(page) and "1 camera has a user" in visible_text(page)


def test_the_checklist_goes_once_every_step_is_done(rig: Rig,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from bodyworn.controller.health import checklist

    monkeypatch.setattr(checklist.metrics, "delivered_clips", lambda _s: 1)
    monkeypatch.setattr(checklist.profiles, "customised", lambda _s: True)
    anna = rig.user("Anna Berg", "officer-1")
    rig.add("B8A44F000001")
    rig.api("PUT", "/api/v1/cameras/B8A44F000001/user", json={"user_uuid": anna})
    assert 'id="getting-started"' not in rig.client.get("/").text


def test_self_assign_asks_for_tags_instead_of_assignments(self_assign_rig: Rig) -> None:
    steps = _steps(self_assign_rig.client.get("/").text)
    assert "tags" in steps and "assign" not in steps
    self_assign_rig.add("B8A44F000001")
    assert "has no user" not in self_assign_rig.client.get("/").text


def test_the_dashboard_speaks_swedish(rig: Rig) -> None:
    rig.dock("B8A44F000002", 1)
    rig.ctx.language = "sv"
    text = visible_text(rig.client.get("/").text)
    assert "Kom igång" in text and "Vad lamporna betyder" in text
    assert "1 dockad kamera är inte tillagd i systemet: B8A44F000002" in text
