"""The app's service over HTTP (the screen's side): sessions on every route, pairing,
recordings played as MP4 inline and never stored, categories and notes to the CD, an
emptied camera after docking, recordings access off in the profile, live video."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import unquote

import av
import pytest
from fastapi.testclient import TestClient

from bodyworn.assistant.app import AssistantContext, create_app
from bodyworn.wireless import wire
from tests.assistant.rig import USER_ID, AssistantRig

CHANGE = {"X-Requested-With": "bodyworn-assistant"}


@pytest.fixture
def phone(arig: AssistantRig) -> AssistantContext:
    return arig.phone()


@pytest.fixture
def screen(phone: AssistantContext) -> Iterator[TestClient]:
    """The phone's browser, let in through the printed link."""
    with TestClient(create_app(phone), base_url="http://127.0.0.1:8765") as client:
        r = client.get(f"/open?token={phone.launch_token}", follow_redirects=False)
        assert r.status_code == 303 and "bwa_session" in r.headers["set-cookie"]
        assert "httponly" in r.headers["set-cookie"].lower()
        assert "samesite=strict" in r.headers["set-cookie"].lower()
        yield client


def paired(arig: AssistantRig, screen: TestClient) -> None:
    code = arig.start_pairing()
    arig.dock()
    arig.undock()
    assert screen.post("/api/pairing/code", json={"code": code.text}, headers=CHANGE).json()[
        "code_scanned"]
    r = screen.post("/api/pairing/pin", json={"pin": code.pin}, headers=CHANGE)
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == USER_ID


def test_every_route_needs_the_screens_session(phone: AssistantContext) -> None:
    app = create_app(phone)
    public = {"/open", "/manifest.webmanifest", "/sw.js", "/offline", "/icons/{size}.png",
              "/static"}
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        checked = 0
        for route in app.routes:
            path = getattr(route, "path", "")
            if path in public:
                continue
            url = (path.replace("{recording_id}", "x").replace("{index}", "0"))
            for method in getattr(route, "methods", None) or {"GET"}:
                r = client.request(method, url, headers=CHANGE)
                assert r.status_code == 401, (method, path, r.status_code)
                assert r.headers["cache-control"] == "no-store"
                checked += 1
        assert checked >= 9
        page = client.get("/")
        assert page.status_code == 401 and "Open the link" in page.text
        assert client.get("/open?token=wrong", follow_redirects=False).status_code == 401
        # The shell's files are public: they hold no evidence.
        assert client.get("/static/assistant/app.js").status_code == 200
        assert client.get("/manifest.webmanifest").json()["display"] == "standalone"
        assert client.get("/icons/192.png").content.startswith(b"\x89PNG")


def test_changes_need_the_apps_header(arig: AssistantRig, screen: TestClient) -> None:
    r = screen.post("/api/pairing/code", json={"code": "x"})
    assert r.status_code == 403
    r = screen.delete("/api/pairing")
    assert r.status_code == 403


def test_security_headers(screen: TestClient) -> None:
    r = screen.get("/")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert "<script>" not in r.text  # only the data block and the app's own file


def test_refusals_speak_the_users_words_in_swedish(arig: AssistantRig,
                                                   screen: TestClient) -> None:
    r = screen.post("/api/pairing/code", json={"code": "hello"}, headers=CHANGE)
    assert r.status_code == 422 and r.json()["reason"] == "bad_code"
    assert "pairing QR code" in r.json()["error"]
    r = screen.post("/api/pairing/code", json={"code": "hello"},
                    headers={**CHANGE, "Accept-Language": "sv-SE,sv;q=0.9,en;q=0.5"})
    assert r.json()["reason"] == "bad_code" and "QR-kod" in r.json()["error"]
    shell = screen.get("/", headers={"Accept-Language": "sv"})
    assert '<html lang="sv">' in shell.text and "Inspelningar" in shell.text


def test_recordings_play_inline_and_are_never_stored(arig: AssistantRig,
                                                     screen: TestClient) -> None:
    paired(arig, screen)
    recording = arig.record(12)
    listed = screen.get("/api/recordings")
    assert listed.status_code == 200 and listed.headers["cache-control"] == "no-store"
    [shown] = listed.json()
    assert shown["id"] == recording.id and shown["duration_s"] == pytest.approx(17, abs=1)
    assert len(shown["track"]) >= 2  # location data is on in the profile
    media = shown["clips"][0]["media"]
    whole = screen.get(media)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["content-disposition"] == "inline"
    assert whole.headers["cache-control"] == "no-store"
    part = screen.get(media, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    # Real H.264 in a real MP4.
    with av.open(io.BytesIO(whole.content)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert next(container.decode(stream)).width > 0


def test_category_and_notes_reach_the_cd_and_the_camera_is_emptied(
        arig: AssistantRig, screen: TestClient) -> None:
    paired(arig, screen)
    state = screen.get("/api/state").json()
    assert state["camera"]["annotations"] and "Traffic stop" in state["camera"]["categories"]
    recording = arig.record(12)
    note = "Stopped a car at the harbour gate; the driver was calm."
    r = screen.put(f"/api/recordings/{recording.id}/annotation",
                   json={"category": "Traffic stop", "notes": note}, headers=CHANGE)
    assert r.status_code == 200, r.text
    assert r.json()["category"] == "Traffic stop" and r.json()["notes"] == note
    bad = screen.put(f"/api/recordings/{recording.id}/annotation",
                     json={"category": "Lunch", "notes": ""}, headers=CHANGE)
    assert bad.status_code == 422 and bad.json()["reason"] == "bad_category"
    assert screen.get(screen.get("/api/recordings").json()[0]["clips"][0]["media"]
                      ).status_code == 200
    arig.dock()
    # Docked: the camera is offloaded and the app shows nothing of it.
    r = screen.get("/api/recordings")
    assert r.status_code == 503 and r.json()["reason"] == "docked"
    assert not list((arig.tmp / "phone" / "playback").iterdir())
    arig.deliver()
    bookmarks = arig.bookmarks_at_cd(recording.id)
    # Metadata as Swift keeps it: header-cased keys, URL-encoded values.
    assert {unquote(m.get("Categoryname", "")) for m, _ in bookmarks} >= {"Traffic stop"}
    assert note.encode() in [body for _, body in bookmarks]
    page = arig.evidence_page(arig.container_of(recording.id))
    assert "Traffic stop" in page and "harbour gate" in page
    arig.undock()
    r = screen.get("/api/recordings")
    assert r.status_code == 200 and r.json() == []


def test_no_categories_and_notes_when_the_cd_does_not_take_them(
        arig: AssistantRig, screen: TestClient) -> None:
    paired(arig, screen)
    arig.engine.stores_bookmarks = False
    arig.station.insert(arig.camera)
    arig.clock.advance(timedelta(seconds=30))
    with arig.link() as link:
        from bodyworn.controller.assistant_pairing import service

        assert service.sync_camera(arig.ctx, arig.camera.serial, link, annotations=False)
    arig.undock()
    state = screen.get("/api/state").json()
    assert state["camera"]["annotations"] is False and state["camera"]["categories"] == []
    recording = arig.record(12)
    r = screen.put(f"/api/recordings/{recording.id}/annotation",
                   json={"category": None, "notes": "x"}, headers=CHANGE)
    assert r.status_code == 409 and r.json()["reason"] == "no_annotations"


def test_recordings_access_off_in_the_profile(arig: AssistantRig, screen: TestClient) -> None:
    paired(arig, screen)
    recording = arig.record(12)
    arig.edit_profile(allow_assistant_access=False)
    arig.dock()
    arig.undock()
    arig.record(12)
    r = screen.get("/api/recordings")
    assert r.status_code == 403 and r.json()["reason"] == "no_access"
    assert "does not allow" in r.json()["error"]
    assert screen.get(f"/media/recordings/{recording.id}/0").status_code in (403, 404)
    assert screen.get("/api/state").json()["camera"]["recordings_access"] is False


def test_live_video_is_fragmented_mp4_of_h264(arig: AssistantRig, screen: TestClient) -> None:
    paired(arig, screen)
    with screen.stream("GET", "/media/live") as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == wire.LIVE_CONTENT_TYPE
        assert re.fullmatch(r"avc1\.[0-9a-f]{6}", r.headers[wire.HEADER_CODEC.lower()])
        assert r.headers["cache-control"] == "no-store"
        data = b""
        for chunk in r.iter_bytes():
            data += chunk
            if data.count(b"moof") >= 5:
                break
    assert data[4:8] == b"ftyp" and b"moov" in data[:2000]
    with av.open(io.BytesIO(data)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) >= 4 and frames[0].width == 640


def test_replacing_the_pairing_forgets_it_on_the_device(arig: AssistantRig,
                                                         screen: TestClient) -> None:
    paired(arig, screen)
    r = screen.delete("/api/pairing", headers=CHANGE)
    assert r.status_code == 200 and r.json()["paired"] is False
    assert not (arig.tmp / "phone" / "pairing.json").exists()
    r = screen.get("/api/recordings")
    assert r.status_code == 409 and r.json()["reason"] == "no_pairing"
