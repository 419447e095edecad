"""Docking station health is measured (issue 14, item 1): a station that stops answering
turns red, raises an issue that says what to check, and its cameras' dock state is
unknown; it turns green again when it answers."""

from __future__ import annotations

from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bodyworn.controller.docks.service import check_stations
from bodyworn.controller.events import StationHealthChanged
from bodyworn.controller.health_state import HealthState
from bodyworn.devices.docklink_server import DockLinkServer
from tests.controller.device_rig import Rig


def test_a_station_that_stops_answering_turns_red_and_its_cameras_dock_state_unknown(
        rig: Rig) -> None:
    rig.add("B8A44F000001")
    rig.dock("B8A44F000002")
    heard: list[bool] = []
    rig.ctx.events.subscribe(StationHealthChanged, lambda e: heard.append(e.answering))
    check_stations(rig.ctx)
    board = rig.api("GET", "/api/v1/dashboard").json()
    [station] = board["stations"]
    assert station["lamp"]["colour"] == "green" and station["answering"] is True
    assert station["lamp"]["title"] == "2 of 8 bays in use"
    assert {c["serial"]: c["dock_state"] for c in board["cameras"]} == {
        "B8A44F000001": "docked", "B8A44F000002": "docked"}
    assert not [i for i in board["issues"] if i["kind"] == "station_not_answering"]

    port = urlsplit(rig.server.url).port
    rig.server.stop()  # power cut, cable out: it says nothing, it just stops answering
    check_stations(rig.ctx)
    check_stations(rig.ctx)  # still silent: said once
    board = rig.api("GET", "/api/v1/dashboard").json()
    [station] = board["stations"]
    since = f"{rig.ctx.clock.now().astimezone(ZoneInfo('Europe/Stockholm')):%Y-%m-%d %H:%M %Z}"
    assert station["lamp"]["colour"] == "red" and station["answering"] is False
    assert station["lamp"]["title"] == f"Not answering since {since}"
    [issue] = [i for i in board["issues"] if i["kind"] == "station_not_answering"]
    assert issue["link"] == "/docks"
    assert issue["message"].startswith(
        f"Docking station DOCK0001 has not answered since {since}")
    assert "power" in issue["message"] and "network cable" in issue["message"]
    cams = {c["serial"]: c for c in board["cameras"]}
    for serial in ("B8A44F000001", "B8A44F000002"):
        assert cams[serial]["dock_state"] == "unknown"
        assert cams[serial]["lamp"]["colour"] == "off"
        assert cams[serial]["lamp"]["title"] == (
            "Dock state unknown: docking station DOCK0001 does not answer")
    page = rig.client.get("/").text
    assert "Dock state unknown (DOCK0001)" in page and "led led-red" in page
    docks_page = rig.client.get("/docks").text
    assert f"Not answering since {since}" in docks_page
    [listed] = rig.api("GET", "/api/v1/docks").json()
    assert listed["answering"] is False and listed["checked_at"]
    assert heard == [False]

    # Back on the same address: green again, the cameras where they were.
    server = DockLinkServer(rig.station, port=port or 0, link_clock=rig.ctx.clock).start()
    try:
        check_stations(rig.ctx)
        board = rig.api("GET", "/api/v1/dashboard").json()
        assert board["stations"][0]["lamp"]["colour"] == "green"
        assert not [i for i in board["issues"] if i["kind"] == "station_not_answering"]
        assert {c["dock_state"] for c in board["cameras"]} == {"docked"}
        assert heard == [False, True]
    finally:
        server.stop()


def test_a_station_not_checked_yet_is_not_shown_green(rig: Rig) -> None:
    rig.dock("B8A44F000001")
    # What the station's event told is its only word so far: it answers.
    assert rig.ctx.health.station("DOCK0001") is not None
    # As after a restart, before the first check: nothing measured yet.
    rig.ctx.health = HealthState(rig.ctx.events, rig.ctx.clock)
    [station] = rig.api("GET", "/api/v1/dashboard").json()["stations"]
    assert station["lamp"]["colour"] == "off" and station["answering"] is None
    assert station["lamp"]["title"] == "Not asked yet since the system controller started"
    assert "Not checked yet" in rig.client.get("/docks").text
