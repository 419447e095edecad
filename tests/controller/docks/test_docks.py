"""Dock events: the dock port token, new cameras appearing, stations with their bays."""

from __future__ import annotations

import os
import stat

from fastapi.testclient import TestClient
from sqlalchemy import select

from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.docks.service import TOKEN_FILE
from tests.controller.conftest import PASSPHRASE
from tests.controller.device_rig import Rig


def test_token_file_is_private_and_shown_only_for_the_passphrase(rig: Rig) -> None:
    path = rig.ctx.data_dir / TOKEN_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    page = rig.client.get("/docks")
    assert rig.token not in page.text and 'id="dock-token-hidden"' in page.text
    assert rig.token not in rig.client.get("/docks", params={"token": "x"}).text
    wrong = rig.form("/docks/token", {"passphrase": "not it at all"})
    assert wrong.status_code == 403 and rig.token not in wrong.text
    assert "passphrase is wrong" in wrong.text
    shown = rig.form("/docks/token", {"passphrase": PASSPHRASE})
    assert shown.status_code == 200 and rig.token in shown.text
    assert shown.headers["cache-control"] == "no-store"
    # Shown once: the next visit hides it again; both attempts are in the audit log.
    assert rig.token not in rig.client.get("/docks").text
    with rig.ctx.factory() as session:
        outcomes = [e.outcome for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "dock.token.reveal")
            .order_by(AuditEntry.id))]
    assert outcomes == ["denied", "success"]


def test_events_without_the_token_are_refused_and_change_nothing(rig: Rig) -> None:
    event = {"station_serial": "DOCK0009", "bay": 0, "event": "dock",
             "camera_serial": "B8A44F000009",
             "camera_url": "http://127.0.0.1:9/docklink/v1/cameras/B8A44F000009"}
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": rig.token}):
        r = rig.client.post("/docklink/v1/events", json=event, headers=headers)
        assert r.status_code == 401
    assert rig.api("GET", "/api/v1/docks").json() == []


def test_malformed_events_are_refused() -> None:
    import pytest

    from bodyworn.docklink.errors import MessageError
    from bodyworn.docklink.messages import StationEvent

    good = {"station_serial": "D1", "bay": 0, "event": "dock", "camera_serial": "C1",
            "camera_url": "http://h/docklink/v1/cameras/C1"}
    assert StationEvent.from_json(good).station_url == "http://h"
    for change in ({"bay": -1}, {"event": "eject"}, {"camera_url": "http://h/x"},
                   {"station_serial": ""}, {"bay": True}):
        with pytest.raises(MessageError):
            StationEvent.from_json({**good, **change})


def test_an_unadded_camera_appears_under_new_and_the_station_lists_it(rig: Rig) -> None:
    rig.dock("B8A44F000001", 3)
    leds = rig.cameras["B8A44F000001"].feedback().leds
    assert {str(state) for state in leds.values()} == {"flashing amber"}
    new = rig.client.get("/devices/new").text
    assert "B8A44F000001" in new
    docks = rig.api("GET", "/api/v1/docks").json()
    assert docks[0]["serial"] == "DOCK0001" and len(docks[0]["bays"]) == 8
    assert docks[0]["bays"][3] == {"bay": 3, "camera_serial": "B8A44F000001",
                                   "camera_state": "new"}
    page = rig.client.get("/docks").text
    assert "DOCK0001" in page and "B8A44F000001" in page
    rig.undock("B8A44F000001")
    assert "B8A44F000001" not in rig.client.get("/devices/new").text


def test_camera_docked_is_published_for_added_cameras_only(rig: Rig) -> None:
    from bodyworn.controller.events import CameraDocked, CameraUndocked

    docked: list[CameraDocked] = []
    undocked: list[CameraUndocked] = []
    rig.ctx.events.subscribe(CameraDocked, docked.append)
    rig.ctx.events.subscribe(CameraUndocked, undocked.append)
    rig.dock("B8A44F000001", 2)
    assert docked == []
    assert rig.api("POST", "/api/v1/cameras/B8A44F000001/add").status_code == 200
    rig.undock("B8A44F000001")
    assert undocked == [CameraUndocked("B8A44F000001", "DOCK0001", 2)]
    rig.dock("B8A44F000001", 5)
    assert docked == [CameraDocked("B8A44F000001", "DOCK0001", 5)]


def test_a_controller_not_set_up_tells_stations_to_wait(client: TestClient) -> None:
    r = client.post("/docklink/v1/events", json={})
    assert r.status_code == 503


def test_a_restarted_controller_finds_the_cameras_still_in_their_bays(rig: Rig) -> None:
    from bodyworn.controller.events import CameraDocked
    from tests.controller.device_rig import SERIALS

    added, other = SERIALS[0], SERIALS[1]
    rig.add(added)
    rig.dock(other)  # docked, never added: recorded, no on-dock work
    seen: list[str] = []
    rig.ctx.events.subscribe(CameraDocked, lambda e: seen.append(e.serial))
    # The events are long gone; the station is asked what its bays hold, and what it
    # says goes through the same on-dock sequence (docking/).
    assert rig.ctx.docking is not None
    found = rig.ctx.docking.resync()
    rig.ctx.docking.wait()
    assert sorted(found) == sorted([added, other])
    assert seen == [added]
    # A station that does not answer is passed over (its next event brings it back).
    rig.server.stop()
    assert rig.ctx.docking.resync() == []
