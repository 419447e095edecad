"""Self-assign: tag pairing, taps at the dock reader, the 15 s window; holster pairing."""

from __future__ import annotations

from datetime import timedelta

from bodyworn.devices.battery import Battery
from bodyworn.devices.camera import Camera, Holster
from bodyworn.devices.holster import PAIRING_TIME, HolsterLink, HolsterSensor
from bodyworn.domain.led import FLASHING_GREEN
from tests.controller.device_rig import Rig

TAG = "125kHz:0123456789"
OTHER_TAG = "13.56MHz:04A1B2C3D4E5F6"


def _pair(rig: Rig, uuid: str, tag: str = TAG) -> None:
    for expected in (1, 2):
        r = rig.api("POST", f"/api/v1/users/{uuid}/tag/taps", json={"tag": tag})
        assert r.json() == {"taps": expected, "needed": 3, "done": False, "tag": None}
    r = rig.api("POST", f"/api/v1/users/{uuid}/tag/taps", json={"tag": tag})
    assert r.json()["done"] and r.json()["tag"] == tag


def _ready(rig: Rig, *serials: str) -> None:
    for serial in serials:
        rig.add(serial)
    rig.settle()


def test_pairing_on_the_users_page_fills_the_dots(self_assign_rig: Rig) -> None:
    rig = self_assign_rig
    anna = rig.user("Anna Berg", "officer-1")
    page = rig.client.get(f"/users/{anna}/equipment").text
    assert "Keep tapping until all dots turn blue" in page and page.count("dot-on") == 0
    for taps in (1, 2):
        page = rig.form(f"/users/{anna}/equipment/tag-taps", {"tag": TAG}).text
        assert page.count('class="dot dot-on"') == taps
    page = rig.form(f"/users/{anna}/equipment/tag-taps", {"tag": TAG}).text
    assert "paired-tag" in page and TAG in page
    assert rig.api("GET", f"/api/v1/users/{anna}/equipment").json()["tag"] == TAG


def test_a_tag_belongs_to_one_user(self_assign_rig: Rig) -> None:
    rig = self_assign_rig
    anna, bo = rig.user("Anna Berg", "officer-1"), rig.user("Bo Ek", "officer-2")
    _pair(rig, anna)
    for _ in range(2):
        rig.api("POST", f"/api/v1/users/{bo}/tag/taps", json={"tag": TAG})
    r = rig.api("POST", f"/api/v1/users/{bo}/tag/taps", json={"tag": TAG})
    assert r.status_code == 409 and r.json()["reason"] == "tag_taken"
    bad = rig.api("POST", f"/api/v1/users/{bo}/tag/taps", json={"tag": "xyz"})
    assert bad.status_code == 422


def test_a_tap_self_assigns_a_ready_camera_that_flashes_green(self_assign_rig: Rig) -> None:
    rig = self_assign_rig
    anna = rig.user("Anna Berg", "officer-1")
    _pair(rig, anna)
    _ready(rig, "B8A44F000001")
    r = rig.tap(TAG)
    assert r.status_code == 200, r.text
    assert r.json()["camera_serial"] == "B8A44F000001"
    camera = rig.cameras["B8A44F000001"]
    assert set(camera.feedback().leds.values()) == {FLASHING_GREEN}
    rig.ctx.clock.advance(timedelta(seconds=10))  # type: ignore[attr-defined]
    rig.undock("B8A44F000001")
    assert camera.user_id == "officer-1"
    cam = rig.api("GET", "/api/v1/cameras/B8A44F000001").json()
    assert cam["user_uuid"] == anna
    # Docked again, the camera goes back to the pool for the next tap.
    rig.dock("B8A44F000001")
    assert camera.user_id is None
    assert rig.api("GET", "/api/v1/cameras/B8A44F000001").json()["user_uuid"] is None


def test_the_assignment_lapses_after_fifteen_seconds(self_assign_rig: Rig) -> None:
    rig = self_assign_rig
    anna = rig.user("Anna Berg", "officer-1")
    _pair(rig, anna)
    _ready(rig, "B8A44F000001")
    assert rig.tap(TAG).status_code == 200
    rig.ctx.clock.advance(timedelta(seconds=16))  # type: ignore[attr-defined]
    rig.undock("B8A44F000001")
    cam = rig.api("GET", "/api/v1/cameras/B8A44F000001").json()
    assert cam["user_uuid"] is None
    with rig.ctx.factory() as session:
        from bodyworn.controller.assignment.models import SelfAssignment

        assert [a.state for a in session.query(SelfAssignment)] == ["lapsed"]


def test_the_window_lapses_on_its_own_and_a_get_does_not_lapse_it(
        self_assign_rig: Rig) -> None:
    from bodyworn.controller.assignment.models import SelfAssignment

    rig = self_assign_rig

    def states() -> list[str]:
        with rig.ctx.factory() as session:
            return [a.state for a in session.query(SelfAssignment)]

    anna = rig.user("Anna Berg", "officer-1")
    _pair(rig, anna)
    _ready(rig, "B8A44F000001")
    camera = rig.cameras["B8A44F000001"]
    # With the window loop stopped, pages only read: the window stays open past 15 s.
    rig.client.portal.call(rig.client.app.state.windows.stop)  # type: ignore[attr-defined, union-attr]
    assert rig.tap(TAG).status_code == 200
    rig.ctx.clock.advance(timedelta(seconds=16))  # type: ignore[attr-defined]
    for path in ("/", "/dashboard/live", "/cameras/B8A44F000001"):
        assert rig.client.get(path).status_code == 200
    for path in ("/api/v1/dashboard", "/api/v1/cameras/B8A44F000001"):
        assert rig.api("GET", path).status_code == 200
    assert states() == ["pending"]
    # Running, the loop lapses it on the controller's clock: the user is taken back.
    rig.client.portal.call(rig.client.app.state.windows.start)  # type: ignore[attr-defined, union-attr]
    rig.wait_until(lambda: states() == ["lapsed"])
    rig.wait_until(lambda: camera.user_id is None)
    assert FLASHING_GREEN not in set(camera.feedback().leds.values())
    cam = rig.api("GET", "/api/v1/cameras/B8A44F000001").json()
    assert cam["user_uuid"] is None


def test_a_lapsed_window_frees_the_docked_camera_for_the_next_tap(self_assign_rig: Rig) -> None:
    rig = self_assign_rig
    anna, bo = rig.user("Anna Berg", "officer-1"), rig.user("Bo Ek", "officer-2")
    _pair(rig, anna)
    _pair(rig, bo, OTHER_TAG)
    _ready(rig, "B8A44F000001")
    assert rig.tap(TAG).status_code == 200
    busy = rig.tap(OTHER_TAG)  # one user at a time
    assert busy.status_code == 409 and busy.json()["result"] == "busy"
    again = rig.tap(TAG)  # the same user tapping again keeps the same camera
    assert again.json()["camera_serial"] == "B8A44F000001"
    rig.ctx.clock.advance(timedelta(seconds=16))  # type: ignore[attr-defined]
    r = rig.tap(OTHER_TAG)
    assert r.status_code == 200 and r.json()["user_uuid"] == bo
    assert rig.cameras["B8A44F000001"].user_id == "officer-2"


def test_no_ready_camera_means_nothing_is_assigned(self_assign_rig: Rig) -> None:
    rig = self_assign_rig
    anna = rig.user("Anna Berg", "officer-1")
    _pair(rig, anna)
    rig.cameras["B8A44F000002"] = Camera("B8A44F000002", rig.sim_clock, battery=Battery(0.3))
    _ready(rig, "B8A44F000002")
    r = rig.tap(TAG)
    assert r.status_code == 409 and r.json()["result"] == "no_ready_camera"
    assert rig.cameras["B8A44F000002"].user_id is None
    with rig.server.lock:
        rig.cameras["B8A44F000002"].lock()
    unknown = rig.tap(OTHER_TAG)
    assert unknown.status_code == 404 and unknown.json()["result"] == "unknown_tag"


def test_readiness_is_configurable(self_assign_rig: Rig) -> None:
    rig = self_assign_rig
    anna = rig.user("Anna Berg", "officer-1")
    _pair(rig, anna)
    rig.cameras["B8A44F000002"] = Camera("B8A44F000002", rig.sim_clock, battery=Battery(0.5))
    _ready(rig, "B8A44F000002")
    assert rig.tap(TAG).status_code == 409
    r = rig.api("PUT", "/api/v1/assignment/settings", json={"shift_hours": 4})
    assert r.status_code == 200 and r.json()["firmware"] == "10.2.0.3"
    assert rig.tap(TAG).status_code == 200
    bad = rig.api("PUT", "/api/v1/assignment/settings", json={"shift_hours": 0})
    assert bad.status_code == 422


def test_taps_need_the_dock_port_token_and_a_self_assign_system(rig: Rig) -> None:
    r = rig.client.post("/docklink/v1/rfid/taps", json={"tag": TAG})
    assert r.status_code == 401
    anna = rig.user("Anna Berg", "officer-1")
    r = rig.tap(TAG)
    assert r.status_code == 409 and r.json()["result"] == "fixed_mode"
    assert anna


def test_holster_pairing_pending_then_paired_as_the_camera_reports(rig: Rig) -> None:
    anna = rig.user("Anna Berg", "officer-1")
    rig.add("B8A44F000001")
    rig.api("PUT", "/api/v1/cameras/B8A44F000001/user", json={"user_uuid": anna})
    bad = rig.api("POST", f"/api/v1/users/{anna}/holsters", json={"sensor_serial": "12345"})
    assert bad.status_code == 422
    r = rig.api("POST", f"/api/v1/users/{anna}/holsters", json={"sensor_serial": "123456"})
    assert r.status_code == 201 and r.json()["state"] == "pending"
    camera = rig.cameras["B8A44F000001"]
    assert camera.expected_holster == "123456"
    # Undock, start, power the sensor: the camera pairs and reports it at the next docking.
    rig.settle()
    rig.undock("B8A44F000001")
    rig.settle()
    link = HolsterLink(camera, HolsterSensor("123456"), rig.sim_clock)
    with rig.server.lock:
        link.power_sensor()
        rig.sim_clock.advance(PAIRING_TIME)
        link.sync()
    assert camera.holster is Holster.PAIRED
    page = rig.client.get(f"/users/{anna}/equipment").text
    assert "Pending" in page
    rig.dock("B8A44F000001")
    equipment = rig.api("GET", f"/api/v1/users/{anna}/equipment").json()
    assert [h["state"] for h in equipment["holsters"]] == ["paired"]
    pairing = equipment["holsters"][0]["id"]
    r = rig.api("DELETE", f"/api/v1/users/{anna}/holsters/{pairing}")
    assert r.status_code == 204 and camera.expected_holster is None
    assert rig.api("GET", f"/api/v1/users/{anna}/equipment").json()["holsters"] == []


def test_holster_pairing_needs_the_users_camera_docked(rig: Rig) -> None:
    anna = rig.user("Anna Berg", "officer-1")
    r = rig.api("POST", f"/api/v1/users/{anna}/holsters", json={"sensor_serial": "123456"})
    assert r.status_code == 409 and r.json()["reason"] == "not_docked"


def test_readiness_settings_page(self_assign_rig: Rig) -> None:
    rig = self_assign_rig
    page = rig.client.get("/settings/self-assign").text
    assert 'name="shift_hours"' in page and 'value="8.0"' in page
    r = rig.form("/settings/self-assign", {"shift_hours": "6", "firmware": "10.2.0.3"})
    assert r.status_code == 200 and "Saved." in r.text
    assert rig.api("GET", "/api/v1/assignment/settings").json() == {
        "shift_hours": 6.0, "firmware": "10.2.0.3"}
    r = rig.form("/settings/self-assign", {"shift_hours": "lots"})
    assert r.status_code == 422
    r = rig.form("/settings/self-assign", {"shift_hours": "30"})
    assert r.status_code == 422 and "24" in r.text


def test_a_paired_tag_can_be_removed_once(self_assign_rig: Rig) -> None:
    rig = self_assign_rig
    anna = rig.user("Anna Berg", "officer-1")
    _pair(rig, anna)
    assert rig.api("DELETE", f"/api/v1/users/{anna}/tag").status_code == 204
    assert rig.api("GET", f"/api/v1/users/{anna}/equipment").json()["tag"] is None
    assert rig.api("DELETE", f"/api/v1/users/{anna}/tag").status_code == 404
    _pair(rig, anna)
    page = rig.form(f"/users/{anna}/equipment/tag/remove", {}).text
    assert "The self-assign tag is removed." in page
    assert rig.api("GET", f"/api/v1/users/{anna}/equipment").json()["tag"] is None
    again = rig.form(f"/users/{anna}/equipment/tag/remove", {}).text
    assert "No tag is paired." in again
