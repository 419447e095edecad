"""Camera profiles: the pre-configured ones, edit every setting, default, remove rules, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from bodyworn.controller.context import ControllerContext
from bodyworn.controller.profiles import service
from bodyworn.controller.profiles.api import ProfileSettings
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.profile import CameraProfile, OverlayField, Resolution
from bodyworn.domain.profile_codec import (
    ProfileInvalid,
    from_settings,
    setting_names,
    to_settings,
)
from tests.controller.conftest import set_up


def _h(csrf: str) -> dict[str, str]:
    return {"X-CSRF-Token": csrf}


def _by_name(client: TestClient) -> dict[str, dict]:  # type: ignore[type-arg]
    return {p["name"]: p for p in client.get("/api/v1/profiles").json()}


def test_codec_round_trips_every_setting() -> None:
    profile = CameraProfile(name="x", resolution=Resolution.P720, pre_buffer=timedelta(seconds=90),
                            periodic_reminder=timedelta(minutes=5), location_data=True,
                            overlay=frozenset({OverlayField.LOCATION}))
    settings = to_settings(profile)
    assert settings["pre_buffer"] == 90 and settings["periodic_reminder"] == 300
    assert settings["overlay"] == ["location"]
    assert from_settings("x", settings) == profile


def test_api_body_lists_every_setting_of_the_domain_profile() -> None:
    # A field added to CameraProfile must also become editable through the API.
    assert set(ProfileSettings.model_fields) == set(setting_names())


@pytest.mark.parametrize(("settings", "field"), [
    ({"pre_buffer": 121}, "pre_buffer"),
    ({"pre_buffer": True}, "pre_buffer"),
    ({"periodic_reminder": 61}, "periodic_reminder"),
    ({"audio": False, "optimize_for_post_processing": True}, "optimize_for_post_processing"),
    ({"location_data": False, "assisted_gnss": True}, "assisted_gnss"),
    ({"location_data": False, "overlay": ["location"]}, "overlay"),
    ({"max_clip_length": 5}, "max_clip_length"),
    ({"pre_buffer": -86399999913601}, "pre_buffer"),
    ({"periodic_reminder": 10**18}, "periodic_reminder"),
    ({"resolution": "4k"}, "resolution"),
    ({"overlay": ["nope"]}, "overlay"),
    ({"bogus": 1}, "bogus"),
])
def test_codec_names_the_refused_field(settings: dict[str, object], field: str) -> None:
    with pytest.raises(ProfileInvalid) as err:
        from_settings("x", settings)
    assert [e.field for e in err.value.errors] == [field]


def test_preconfigured_profiles_follow_the_manual(logged_in: tuple[TestClient, str]) -> None:
    client, _ = logged_in
    profiles = client.get("/api/v1/profiles").json()
    assert profiles[0]["name"] == "Default" and profiles[0]["is_default"]
    g1 = _by_name(client)["Group 1 - maximum quality"]["settings"]
    assert g1["resolution"] == "1080p" and g1["audio"] and g1["optimize_for_post_processing"]
    assert g1["pre_buffer"] == 90 and g1["pre_buffer_audio"] and g1["location_data"]
    assert g1["allow_silent_mode"] and g1["allow_audio_off"]
    g2 = _by_name(client)["Group 2 - long shifts"]["settings"]
    assert g2["resolution"] == "720p" and not g2["location_data"]
    assert not g2["allow_silent_mode"] and not g2["optimize_for_post_processing"]
    # Seeding happens once: listing again adds nothing.
    assert len(client.get("/api/v1/profiles").json()) == 3


def test_seeding_is_idempotent_and_audited(ctx: ControllerContext, clock: ManualClock) -> None:
    set_up(ctx)
    with ctx.factory() as session, session.begin():
        service.ensure_preconfigured(session, clock)
        service.ensure_preconfigured(session, clock)
        assert len(service.list_profiles(session, clock)) == 3
    from bodyworn.controller.audit.service import latest
    with ctx.factory() as session:
        actions = [e.action for e in latest(session)]
    assert actions.count("profile.preconfigure") == 1


def test_create_edit_and_version(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    r = client.post("/api/v1/profiles", headers=_h(csrf), json={
        "name": "Night shift", "resolution": "720p", "periodic_reminder": 120})
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["version"] == 1 and p["settings"]["periodic_reminder"] == 120
    r = client.put(f"/api/v1/profiles/{p['id']}", headers=_h(csrf), json={
        "fall_detection": True, "periodic_reminder": None, "front_indicator": "flashing"})
    assert r.status_code == 200
    q = r.json()
    assert q["version"] == 2 and q["settings"]["fall_detection"]
    assert q["settings"]["periodic_reminder"] is None
    assert q["settings"]["resolution"] == "720p"  # unsent settings stay
    assert q["updated_at"] >= p["updated_at"]
    same = client.put(f"/api/v1/profiles/{p['id']}", headers=_h(csrf),
                      json={"fall_detection": True})
    assert same.json()["version"] == 2  # no change, no new version
    audit = client.get("/api/v1/audit").json()
    assert audit[0]["action"] == "profile.update" and "fall_detection" in audit[0]["detail"]


def test_api_errors_name_the_field(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    r = client.post("/api/v1/profiles", headers=_h(csrf), json={"name": "X", "pre_buffer": 500})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "pre_buffer"
    r = client.post("/api/v1/profiles", headers=_h(csrf), json={"name": "X", "colour": "red"})
    assert r.status_code == 422 and "colour" in r.json()["detail"][0]["field"]
    r = client.post("/api/v1/profiles", headers=_h(csrf), json={"name": "default"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "name"
    r = client.post("/api/v1/profiles", headers=_h(csrf), json={"name": "  "})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "name"
    r = client.put("/api/v1/profiles/9999", headers=_h(csrf), json={"audio": True})
    assert r.status_code == 404
    assert len(client.get("/api/v1/profiles").json()) == 3


def test_default_profile_moves_and_cannot_be_unset_or_removed(
    logged_in: tuple[TestClient, str],
) -> None:
    client, csrf = logged_in
    profiles = _by_name(client)
    default, g2 = profiles["Default"], profiles["Group 2 - long shifts"]
    r = client.put(f"/api/v1/profiles/{default['id']}", headers=_h(csrf),
                   json={"is_default": False})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "is_default"
    r = client.delete(f"/api/v1/profiles/{default['id']}", headers=_h(csrf))
    assert r.status_code == 409 and "default" in r.json()["detail"][0]["message"]
    r = client.put(f"/api/v1/profiles/{g2['id']}", headers=_h(csrf), json={"is_default": True})
    assert r.json()["is_default"]
    assert [p["name"] for p in client.get("/api/v1/profiles").json() if p["is_default"]] == [
        "Group 2 - long shifts"]
    u = client.post("/api/v1/users", headers=_h(csrf), json={"name": "New", "user_id": "N1"})
    assert u.json()["profile_id"] == g2["id"]  # new users get the default profile
    # No longer the default and used by nobody: now it can go.
    assert client.delete(f"/api/v1/profiles/{default['id']}", headers=_h(csrf)).status_code == 204


def test_removing_a_profile_in_use_is_refused(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    g1 = _by_name(client)["Group 1 - maximum quality"]
    u = client.post("/api/v1/users", headers=_h(csrf),
                    json={"name": "Kim", "user_id": "K1", "profile_id": g1["id"]}).json()
    r = client.delete(f"/api/v1/profiles/{g1['id']}", headers=_h(csrf))
    assert r.status_code == 409
    assert r.json()["detail"][0] == {
        "field": "profile",
        "message": "'Group 1 - maximum quality' is the camera profile of 1 user; "
                   "give them another profile first"}
    page = client.post(f"/profiles/{g1['id']}/remove", data={"csrf_token": csrf})
    assert page.status_code == 409 and "give them another profile first" in page.text
    assert _by_name(client)["Group 1 - maximum quality"]["users"] == 1
    client.delete(f"/api/v1/users/{u['id']}", headers=_h(csrf))
    assert client.delete(f"/api/v1/profiles/{g1['id']}", headers=_h(csrf)).status_code == 204
    assert "Group 1 - maximum quality" not in _by_name(client)
    assert client.get("/api/v1/audit").json()[0]["action"] == "profile.remove"


def test_pages_create_and_edit_every_setting(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    page = client.get("/profiles")
    assert page.status_code == 200 and "Group 2 - long shifts" in page.text
    g1 = _by_name(client)["Group 1 - maximum quality"]
    r = client.post("/profiles", data={"csrf_token": csrf, "name": "Copy of one",
                                       "copy_of": str(g1["id"])}, follow_redirects=False)
    assert r.status_code == 303
    # A profile id past what the database can hold is a profile that does not exist.
    huge = client.post("/profiles", data={"csrf_token": csrf, "name": "From nowhere",
                                          "copy_of": str(2**64)})
    assert huge.status_code == 400 and "no such camera profile" in huge.text
    api = client.post("/api/v1/profiles", json={"name": "From nowhere", "copy_of": 2**63},
                      headers=_h(csrf))
    assert api.status_code == 422
    pid = int(r.headers["location"].rsplit("/", 1)[1])
    copied = client.get(f"/api/v1/profiles/{pid}").json()
    assert copied["settings"] == g1["settings"]
    form = {
        "csrf_token": csrf, "name": "Copy renamed", "activation": "double_click",
        "fall_detection": "on", "front_indicator": "off", "notification": "vibration",
        "periodic_reminder": "10", "allow_silent_mode": "on",
        "disable_front_button_with_mini_cube": "on", "resolution": "720p",
        "overlay": ["user_id", "location"], "audio": "on", "pre_buffer_on": "on",
        "pre_buffer_length": "45", "location_data": "on", "assisted_gnss": "on",
        "max_clip_length": "300", "is_default": "on",
    }
    r = client.post(f"/profiles/{pid}", data=form)
    assert r.status_code == 200 and "Saved" in r.text
    got = client.get(f"/api/v1/profiles/{pid}").json()
    assert got["name"] == "Copy renamed" and got["is_default"] and got["version"] == 2
    s = got["settings"]
    assert s == s | {
        "activation": "double_click", "fall_detection": True, "front_indicator": "off",
        "notification": "vibration", "periodic_reminder": 600, "allow_silent_mode": True,
        "allow_audio_off": False, "disable_front_button_with_mini_cube": True,
        "allow_assistant_access": False, "resolution": "720p",
        "overlay": ["location", "user_id"], "audio": True,
        "optimize_for_post_processing": False, "pre_buffer": 45, "pre_buffer_audio": False,
        "location_data": True, "assisted_gnss": True, "max_clip_length": 300,
    }
    bad = dict(form, location_data="", assisted_gnss="", pre_buffer_length="x")
    r = client.post(f"/profiles/{pid}", data=bad)
    assert r.status_code == 400 and "pre_buffer_length-error" in r.text
    bad = dict(form)
    del bad["location_data"]
    r = client.post(f"/profiles/{pid}", data=bad)
    assert r.status_code == 400 and "assisted GNSS needs location data on" in r.text
    off = dict(form)
    del off["pre_buffer_on"]
    client.post(f"/profiles/{pid}", data=off)
    assert client.get(f"/api/v1/profiles/{pid}").json()["settings"]["pre_buffer"] == 0
    assert client.get(f"/profiles/{pid}").status_code == 200
    assert client.get("/profiles/9999").status_code == 404


def test_profile_pages_in_swedish(ctx: ControllerContext, client: TestClient) -> None:
    from tests.controller.conftest import login

    set_up(ctx, language="sv")
    login(client)
    assert "Kameraprofiler" in client.get("/profiles").text
    pid = client.get("/api/v1/profiles").json()[0]["id"]
    assert "Inspelningsinställningar" in client.get(f"/profiles/{pid}").text


def test_two_first_requests_seed_once(ctx: ControllerContext, clock: ManualClock) -> None:
    import threading

    set_up(ctx)
    barrier = threading.Barrier(4)
    seen: list[int] = []

    def first_request() -> None:
        barrier.wait()
        with ctx.factory() as session, session.begin():
            seen.append(len(service.list_profiles(session, clock)))

    threads = [threading.Thread(target=first_request) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [3, 3, 3, 3]
    from bodyworn.controller.audit.service import latest, verify_chain
    with ctx.factory() as session:
        assert [e.action for e in latest(session)].count("profile.preconfigure") == 1
        assert verify_chain(session).ok
