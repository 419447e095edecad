"""Cameras: add over the dock link, detail, fixed assignment, removal, lock and unlock."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.cameras.models import CameraRow
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.outbox.models import CdPendingObject
from bodyworn.devices.camera import DEFAULT_FIRMWARE
from bodyworn.domain.led import FLASHING_RED
from tests.controller.conftest import PASSPHRASE
from tests.controller.device_rig import Rig
from tests.controller.visible import visible_text

CAM = "B8A44F000001"


def _actions(rig: Rig) -> list[str]:
    with rig.ctx.factory() as session:
        return [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def _outbox(rig: Rig) -> list[tuple[str, str, str]]:
    with rig.ctx.factory() as session:
        return [(o.kind, o.ref, o.action) for o in session.scalars(
            select(CdPendingObject).where(CdPendingObject.kind == "device")
            .order_by(CdPendingObject.id))]


def test_add_binds_the_camera_to_this_system_audits_and_queues_it(rig: Rig) -> None:
    rig.dock(CAM)
    r = rig.form("/devices/new", {"serial": CAM})
    assert r.status_code == 303
    camera = rig.cameras[CAM]
    assert camera.system_id is not None and not camera.shipping_mode
    rig.settle()
    assert "flashing amber" not in {str(s) for s in camera.feedback().leds.values()}
    assert "camera.add" in _actions(rig)
    assert _outbox(rig) == [("device", CAM, "upsert")]
    listed = rig.api("GET", "/api/v1/cameras").json()
    assert [(c["serial"], c["state"]) for c in listed] == [(CAM, "added")]
    again = rig.api("POST", f"/api/v1/cameras/{CAM}/add")
    assert again.status_code == 409


def test_an_added_camera_takes_the_system_time_zone_before_it_records(rig: Rig) -> None:
    camera = rig.cameras[CAM]
    assert camera.timezone == "UTC"  # from the box
    rig.add(CAM)
    # Undocked at once, never docked again: its recordings still carry the system's zone.
    assert camera.timezone == "Europe/Stockholm"
    with rig.ctx.factory() as session:
        assert json.loads(session.get(CameraRow, CAM).info_json)["timezone"] == (
            "Europe/Stockholm")


def test_the_page_of_a_docked_camera_that_does_not_answer_says_so(rig: Rig) -> None:
    rig.add(CAM)
    rig.server.stop()  # the station, and the cameras in it, stop answering
    page = rig.client.get(f"/cameras/{CAM}").text
    assert "did not answer just now" in page and "DOCK0001, bay 1" in page
    assert "out of the dock" not in page
    rig.undock(CAM)
    page = rig.client.get(f"/cameras/{CAM}").text
    assert "out of the dock" in page and "did not answer" not in page
    # When it last reported, in the system's zone (the manual clock starts in winter).
    assert " CET" in page


def test_the_page_of_a_camera_in_a_station_that_does_not_answer_says_its_dock_state_is_unknown(
        rig: Rig) -> None:
    rig.add(CAM)
    page = rig.client.get(f"/cameras/{CAM}").text
    assert "Dock state unknown" not in page
    # The station check (docks/) found the station silent.
    rig.ctx.health.note_station("DOCK0001", False, "connection refused")
    page = rig.client.get(f"/cameras/{CAM}").text
    assert "Dock state unknown: docking station DOCK0001 has not answered since" in page
    assert "did not answer just now" not in page
    rig.ctx.health.note_station("DOCK0001", True)
    page = rig.client.get(f"/cameras/{CAM}").text
    assert "Dock state unknown" not in page and "DOCK0001, bay 1" in page


def test_the_users_list_shows_each_users_camera_and_counts_in_words(rig: Rig) -> None:
    rig.add(CAM)
    anna = rig.user("Anna Berg", "officer-1")
    rig.user("Bo Ek", "officer-2")
    listed = rig.client.get("/cameras").text
    assert f'id="no-user-{CAM}"' in listed  # an added camera without a user is flagged
    assert rig.api("PUT", f"/api/v1/cameras/{CAM}/user", json={"user_uuid": anna}).is_success
    assert f'id="no-user-{CAM}"' not in rig.client.get("/cameras").text
    page = rig.client.get("/users").text
    row = page.split(f'id="user-{anna}"', 1)[1].split("</tr>", 1)[0]
    assert CAM in row and 'id="search-users"' in page
    assert "2 users" in visible_text(page)
    one = rig.client.get("/users", params={"q": "Bo"}).text
    assert "1 user" in visible_text(one) and "1 users" not in visible_text(one)


def test_detail_reads_live_when_docked_and_last_known_when_not(rig: Rig) -> None:
    rig.add(CAM)
    detail = rig.api("GET", f"/api/v1/cameras/{CAM}").json()
    assert detail["live"] and detail["firmware"] == DEFAULT_FIRMWARE
    assert detail["station_serial"] == "DOCK0001" and detail["bay"] == 0
    assert detail["battery_hours"] > 8 and not detail["locked"]
    page = rig.client.get(f"/cameras/{CAM}").text
    for text in (CAM, "AXIS", DEFAULT_FIRMWARE, "DOCK0001", "Unlocked"):
        assert text in page
    rig.undock(CAM)
    later = rig.api("GET", f"/api/v1/cameras/{CAM}").json()
    assert not later["live"] and not later["docked"] and later["firmware"] == DEFAULT_FIRMWARE


def test_assign_pushes_user_and_profile_to_the_docked_camera(rig: Rig) -> None:
    rig.add(CAM)
    anna = rig.user("Anna Berg", "officer-1")
    r = rig.api("PUT", f"/api/v1/cameras/{CAM}/user", json={"user_uuid": anna})
    assert r.status_code == 200, r.text
    assert rig.cameras[CAM].user_id == "officer-1"
    assert r.json()["user_name"] == "Anna Berg"
    bo = rig.user("Bo Ek", "officer-2")
    r = rig.form(f"/cameras/{CAM}/assign", {"user_uuid": bo})
    assert r.status_code == 200 and "user structure" in r.text
    assert rig.cameras[CAM].user_id == "officer-2"
    assert _outbox(rig)[-1] == ("device", CAM, "upsert")
    assert _actions(rig).count("camera.assign") == 2


def test_a_refused_assignment_is_audited_and_the_entry_kept(rig: Rig) -> None:
    rig.add(CAM)
    r = rig.api("PUT", f"/api/v1/cameras/{CAM}/user", json={"user_uuid": "no-such-user"})
    assert r.status_code == 409 and r.json()["detail"] == "no such user"
    with rig.ctx.factory() as session:
        entries = [(e.action, e.outcome) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "camera.assign"))]
    assert entries == [("camera.assign", "denied")]
    assert rig.api("GET", f"/api/v1/cameras/{CAM}").json()["user_uuid"] is None


def test_an_unassigned_camera_flashes_red_when_undocked(rig: Rig) -> None:
    rig.add(CAM)
    rig.settle()
    rig.undock(CAM)
    rig.settle()
    assert set(rig.cameras[CAM].feedback().leds.values()) == {FLASHING_RED}


def test_assignment_to_an_undocked_camera_reaches_it_at_its_next_docking(rig: Rig) -> None:
    rig.add(CAM)
    rig.undock(CAM)
    anna = rig.user("Anna Berg", "officer-1")
    r = rig.api("PUT", f"/api/v1/cameras/{CAM}/user", json={"user_uuid": anna})
    assert r.status_code == 200 and "next docking" in r.json()["notice"]
    assert rig.cameras[CAM].user_id is None
    rig.dock(CAM)
    assert rig.cameras[CAM].user_id == "officer-1"


def test_assigning_a_camera_of_no_system_or_a_locked_one_is_refused(rig: Rig) -> None:
    rig.dock(CAM)
    anna = rig.user("Anna Berg", "officer-1")
    r = rig.api("PUT", f"/api/v1/cameras/{CAM}/user", json={"user_uuid": anna})
    assert r.status_code == 409 and "no system" in r.json()["detail"]
    rig.api("POST", f"/api/v1/cameras/{CAM}/add")
    with rig.server.lock:
        rig.cameras[CAM].lock()
    r = rig.api("PUT", f"/api/v1/cameras/{CAM}/user", json={"user_uuid": anna})
    assert r.status_code == 409 and "locked" in r.json()["detail"]
    assert rig.cameras[CAM].user_id is None
    r = rig.api("PUT", f"/api/v1/cameras/{CAM}/user", json={"user_uuid": "nobody"})
    assert r.status_code == 409


def test_locked_camera_shows_and_unlocks_only_with_the_passphrase(rig: Rig) -> None:
    rig.add(CAM)
    with rig.server.lock:
        rig.cameras[CAM].lock()
    page = rig.client.get(f"/cameras/{CAM}").text
    assert "Locked" in page and 'name="passphrase"' in page
    board = rig.api("GET", "/api/v1/dashboard").json()
    assert any(i["kind"] == "camera_locked" and i["link"] == f"/cameras/{CAM}"
               for i in board["issues"])
    r = rig.form(f"/cameras/{CAM}/unlock", {"passphrase": "wrong passphrase"})
    assert r.status_code == 403 and rig.cameras[CAM].locked
    r = rig.api("POST", f"/api/v1/cameras/{CAM}/unlock", json={"passphrase": "nope"})
    assert r.status_code == 403
    r = rig.api("POST", f"/api/v1/cameras/{CAM}/unlock", json={"passphrase": PASSPHRASE})
    assert r.status_code == 200 and not r.json()["locked"]
    assert not rig.cameras[CAM].locked
    with rig.ctx.factory() as session:
        outcomes = [(e.action, e.outcome) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "camera.unlock"))]
    assert outcomes == [("camera.unlock", "denied"), ("camera.unlock", "denied"),
                        ("camera.unlock", "success")]


def test_removing_a_docked_offloaded_camera_resets_it_to_shipping_mode(rig: Rig) -> None:
    rig.add(CAM)
    rig.settle()
    r = rig.api("DELETE", f"/api/v1/cameras/{CAM}")
    assert r.status_code == 200 and r.json()["removal"] == "removed"
    assert rig.cameras[CAM].shipping_mode
    assert _outbox(rig)[-1] == ("device", CAM, "deactivate")
    assert rig.api("GET", "/api/v1/cameras?state=added").json() == []


def test_removing_an_undocked_camera_waits_for_its_next_docking(rig: Rig) -> None:
    rig.add(CAM)
    rig.undock(CAM)
    r = rig.form(f"/cameras/{CAM}/remove", {"confirm": "on"})
    assert r.status_code == 303 and "notice=removing" in r.headers["location"]
    assert rig.api("GET", f"/api/v1/cameras/{CAM}").json()["state"] == "removing"
    assert not rig.cameras[CAM].shipping_mode
    rig.dock(CAM)
    rig.settle()  # the camera restarts, then shows it holds nothing
    rig.wait_until(lambda: rig.cameras[CAM].shipping_mode)
    rig.wait_until(lambda: rig.api("GET", f"/api/v1/cameras/{CAM}").status_code == 404)


def test_removal_waits_while_recordings_are_left_on_the_camera(rig: Rig) -> None:
    from bodyworn.controller.cameras import service

    rig.add(CAM)
    anna = rig.user("Anna Berg", "officer-1")
    rig.api("PUT", f"/api/v1/cameras/{CAM}/user", json={"user_uuid": anna})
    camera = rig.cameras[CAM]
    rig.settle()
    rig.undock(CAM)
    with rig.server.lock:
        rig.sim_clock.advance(timedelta(seconds=30))
        camera.start_recording()
        rig.sim_clock.advance(timedelta(seconds=20))
        camera.stop_recording()
    rig.dock(CAM)
    rig.settle()
    with rig.ctx.factory() as session, rig.ctx.docklink(rig.server.camera_url(CAM)) as client:
        reason = service.removal_blocked_reason(session, CAM, client)
    assert reason is not None and "not offloaded" in reason
    r = rig.api("DELETE", f"/api/v1/cameras/{CAM}")
    assert r.status_code == 202 and r.json()["removal"] == "pending"
    assert not camera.shipping_mode
    assert json.loads(json.dumps(r.json()))["serial"] == CAM


def test_removal_waits_for_evidence_still_in_the_controller(ctx: ControllerContext) -> None:
    from datetime import UTC, datetime

    from bodyworn.controller.cameras import service
    from bodyworn.controller.offload.models import OffloadRecording
    from bodyworn.controller.offload.states import AT_CD, IN_SPOOL

    now = datetime(2026, 11, 27, tzinfo=UTC)
    with ctx.factory() as session, session.begin():
        session.add(OffloadRecording(recording_id="CAMX-1", camera_serial="CAMX",
                                     manifest_json="{}", state=IN_SPOOL, attempts=0,
                                     created_at=now, updated_at=now))
    with ctx.factory() as session:
        reason = service.removal_blocked_reason(session, "CAMX")
    assert reason is not None and "not at the content destination" in reason
    with ctx.factory() as session, session.begin():
        row = session.scalars(select(OffloadRecording)).one()
        row.state = AT_CD
    with ctx.factory() as session:
        # Nothing pending any more: only the camera's own manifest is left to check.
        assert service.removal_blocked_reason(session, "CAMX") == "the camera is not docked"
