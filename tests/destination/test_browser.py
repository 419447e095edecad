"""The evidence browser: login, lists, a recording page, playable clips, the GNSS track."""

from __future__ import annotations

import asyncio
import io
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import av
import httpx
import pytest

from bodyworn.cdclient import CDClient, CDConnection, CDDevice, CDUser, RetryPolicy
from bodyworn.cdclient.conformance import tiny_clip
from bodyworn.destination.browser_auth import (
    PASSWORD_FILE,
    PasswordRefused,
    Sessions,
    ensure_browser_password,
    verify_browser_password,
)
from bodyworn.destination.config import Site, build_site, connection_file_for, init_destination
from bodyworn.destination.recordings import (
    EvidenceReader,
    Filters,
    Person,
    draw_track,
    svg_polyline,
    track_from_json,
)
from bodyworn.destination.store import ObjectStore
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.connection_file import parse_connection_file

from ..cdclient.factories import T0, make_recording

FAST = RetryPolicy(attempts=2, timeout=10, wait_initial=0.01, wait_max=0.02, wait_jitter=0)
BASE = "http://cd.test"
PASSWORD = "correct horse battery staple"
USER_UUID = "6f1c1f7e-0000-4000-8000-000000000001"
FRAMES = 6


def frames_in(data: bytes) -> int:
    with av.open(io.BytesIO(data), "r") as f:
        assert f.format.name.startswith("mov")
        return sum(1 for _ in f.decode(video=0))


async def deliver(
    site: Site, data: Path, work: Path, *, encrypted: bool, serial: str, known: bool = True
) -> str:
    """Deliver a recording with real H.264 MKV clips through our client; return its container."""
    raw = connection_file_for(init_destination(data), data, [BASE])
    conn = CDConnection.from_parsed(parse_connection_file(raw))
    if not encrypted:
        conn = replace(conn, want_encryption=False, public_key_pem=None, public_key_id=None)
    rec = make_recording(work, clips=2, user_uuid=USER_UUID, serial=serial)
    for clip in rec.clips:
        tiny_clip(clip.path, "mkv", frames=FRAMES)
    client = CDClient(conn, retry=FAST, transport=httpx.ASGITransport(app=site.swift.app))
    async with client:
        await client.put_user(CDUser(USER_UUID, "Åsa Berg", user_id="A-17"))
        if known:
            await client.put_device(CDDevice(serial, f"Cam {serial[-1]}", "W110"))
        result = await client.deliver_recording(rec)
    assert result.outcome == ("delivered" if known else "rejected_content"), result
    return result.container


@pytest.fixture(scope="module")
def cd(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, dict[str, str]]:
    """One CD with a plain and an encrypted recording, shared by the module's tests."""
    return asyncio.run(_make_cd(tmp_path_factory))


async def _make_cd(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, dict[str, str]]:
    data = tmp_path_factory.mktemp("cd")
    init_destination(data, site_name="HQ", encryption=True)
    pw = data / "pw.txt"
    pw.write_text(PASSWORD + "\n")
    ensure_browser_password(data, pw)
    site = await build_site(init_destination(data), data)
    work = tmp_path_factory.mktemp("work")
    names = {
        "plain": await deliver(site, data, work / "p", encrypted=False, serial="ACCC8E000001"),
        "enc": await deliver(site, data, work / "e", encrypted=True, serial="ACCC8E000002"),
        "rejected": await deliver(
            site, data, work / "r", encrypted=False, serial="ACCC8E00DEAD", known=False
        ),
    }
    return site, names


def browser(site: Site) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=site.app), base_url=BASE)


async def log_in(http: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    page = await http.get("/browser/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token
    return await http.post(
        "/browser/login", data={"login_token": token.group(1), "password": password}
    )


def test_password_file_and_generation(tmp_path: Path) -> None:
    generated = ensure_browser_password(tmp_path)
    assert generated and verify_browser_password(tmp_path, generated)
    assert ensure_browser_password(tmp_path) is None  # printed once only
    stored = (tmp_path / PASSWORD_FILE).read_text()
    assert stored.startswith("$argon2id$") and generated not in stored
    assert (tmp_path / PASSWORD_FILE).stat().st_mode & 0o077 == 0
    short = tmp_path / "short"
    short.write_text("tiny\n")
    with pytest.raises(PasswordRefused):
        ensure_browser_password(tmp_path, short)
    assert verify_browser_password(tmp_path, generated)


async def test_login_required_and_csrf(cd: tuple[Site, dict[str, str]]) -> None:
    site, names = cd
    async with browser(site) as http:
        # Browsers ask for the site's icon by themselves, before any login.
        icon = await http.get("/favicon.ico")
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
        for path in ("/browser/", "/browser/rejected", f"/browser/recordings/{names['plain']}"):
            r = await http.get(path)
            assert r.status_code == 303 and r.headers["location"] == "/browser/login"
        r = await http.get(f"/browser/recordings/{names['plain']}/play/x.mkv")
        assert r.status_code == 401
        login = await http.get("/browser/login")
        csp = login.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "<script" not in login.text
        assert "samesite=strict" in login.headers["set-cookie"].lower()
        # No token (a cross-site form) and a wrong password are both refused.
        r = await http.post("/browser/login", data={"password": PASSWORD})
        assert r.status_code == 400
        assert (await log_in(http, "wrong password!!")).status_code == 401
        r = await log_in(http)
        assert r.status_code == 303
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert (await http.get("/browser/")).status_code == 200
        assert (await http.post("/browser/logout", data={"csrf": "nope"})).status_code == 403
        page = await http.get("/browser/")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf
        assert (await http.post("/browser/logout", data={"csrf": csrf.group(1)})).status_code == 303
        assert (await http.get("/browser/")).status_code == 303


async def test_list_and_filters(cd: tuple[Site, dict[str, str]]) -> None:
    site, names = cd
    async with browser(site) as http:
        await log_in(http)
        page = (await http.get("/browser/")).text
        assert names["plain"] in page and names["enc"] in page
        assert "Åsa Berg (A-17)" in page and "Cam 1 (ACCC8E000001)" in page
        # When, in the zone the camera recorded in (named), how long, and its categories.
        assert "2026-03-01 09:30 CET" in page and ">10:00<" in page
        assert '<span class="badge">Traffic</span>' in page
        assert f'href="/browser/recordings/{names["plain"]}"' in page
        by_camera = (await http.get("/browser/", params={"camera": "cam 2"})).text
        assert names["enc"] in by_camera and names["plain"] not in by_camera
        assert names["plain"] in (await http.get("/browser/", params={"user": "a-17"})).text
        assert names["plain"] not in (await http.get("/browser/", params={"user": "bob"})).text
        day = T0.date().isoformat()
        assert names["plain"] in (await http.get("/browser/", params={"from": day, "to": day})).text
        later = (T0 + timedelta(days=1)).date().isoformat()
        assert names["plain"] not in (await http.get("/browser/", params={"from": later})).text
        assert "YYYY-MM-DD" in (await http.get("/browser/", params={"from": "soon"})).text
        assert names["rejected"] not in page
        rejected = (await http.get("/browser/rejected")).text
        assert names["rejected"] in rejected and "unknown device" in rejected
        assert "ACCC8E00DEAD" in rejected
        assert f'href="/browser/recordings/{names["rejected"]}"' in rejected
        detail = await http.get(f"/browser/recordings/{names['rejected']}")
        assert detail.status_code == 200 and "Rejected because" in detail.text
        assert detail.text.count("<video ") == 2


async def test_recording_page(cd: tuple[Site, dict[str, str]]) -> None:
    site, names = cd
    store, container = site.swift.store, names["plain"]
    async with browser(site) as http:
        await log_in(http)
        page = (await http.get(f"/browser/recordings/{container}")).text
        for obj in store.list_objects("bodyworn", container):
            assert obj.md5 in page and obj.sha256 in page
        assert "BWCSerialNumber" in page and "Complete" in page
        # Named by whose and when (the container name is a detail), in the recording's zone.
        assert "<h1>Åsa Berg (A-17), 2026-03-01 09:30 CET</h1>" in page
        assert "2026-03-01 09:30:00 CET to 2026-03-01 09:40:00 CET" in page
        assert ">Traffic</span>" in page and 'title="Category 5"' in page
        assert "Traffic (5)" not in page and "Unit: B12" in page
        # The track: start and end marked, a grid and a scale bar, no map service.
        assert 'class="track-start"' in page and 'class="track-end"' in page
        assert 'class="track-grid"' in page and re.search(r">\d+ m</text>", page)
        assert "driver calm. Åäö ✓" in page
        assert page.count("<video ") == 2
        svg = re.search(r'<polyline points="([^"]+)"', page)
        assert svg and len(svg.group(1).split()) == 5
        assert (await http.get("/browser/recordings/System")).status_code == 404
        assert (await http.get("/browser/recordings/nothing_here")).status_code == 404


async def test_mkv_clip_plays_as_mp4_with_range(cd: tuple[Site, dict[str, str]]) -> None:
    site, names = cd
    clip = next(
        o.name
        for o in site.swift.store.list_objects("bodyworn", names["plain"])
        if o.name.endswith(".mkv")
    )
    url = f"/browser/recordings/{names['plain']}/play/{clip}"
    async with browser(site) as http:
        await log_in(http)
        r = await http.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
        assert frames_in(r.content) == FRAMES
        part = await http.get(url, headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == r.content[:100]
        assert (await http.get(url)).content == r.content  # served from the cache


async def test_encrypted_clip_is_decrypted_and_playable(cd: tuple[Site, dict[str, str]]) -> None:
    site, names = cd
    objects = {o.name: o for o in site.swift.store.list_objects("bodyworn", names["enc"])}
    clip = next(n for n in objects if n.endswith(".mkv"))
    assert clip.removesuffix(".mkv") + ".key" in objects
    with pytest.raises(av.FFmpegError), av.open(str(objects[clip].path)) as f:
        next(f.decode(video=0))  # stored ciphertext is not video
    async with browser(site) as http:
        await log_in(http)
        page = (await http.get(f"/browser/recordings/{names['enc']}")).text
        assert "encrypted" in page
        assert len(re.search(r'<polyline points="([^"]+)"', page).group(1).split()) == 5  # type: ignore[union-attr]
        r = await http.get(f"/browser/recordings/{names['enc']}/play/{clip}")
        assert r.status_code == 200 and frames_in(r.content) == FRAMES


async def test_opening_a_recording_prepares_its_clips_for_playback(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    site, names = await _make_cd(tmp_path_factory)
    browser_app = site.browser
    clips = [o for o in site.swift.store.list_objects("bodyworn", names["enc"])
             if o.name.endswith(".mkv")]
    assert not any(browser_app.cache.ready(c.sha256) for c in clips)
    async with browser(site) as http:
        await log_in(http)
        page = (await http.get(f"/browser/recordings/{names['enc']}")).text
        assert "Being prepared for playback" in page and 'class="player preparing"' in page
        # Decrypted and remuxed in the background, before anyone presses Play.
        for _ in range(300):
            if all(browser_app.cache.ready(c.sha256) for c in clips):
                break
            await asyncio.sleep(0.05)
        assert all(browser_app.cache.ready(c.sha256) for c in clips)
        again = (await http.get(f"/browser/recordings/{names['enc']}")).text
        assert "Being prepared" not in again and "preparing" not in again


def test_a_camera_named_by_its_serial_is_not_named_twice() -> None:
    assert Person("B8A44F000010", "B8A44F000010").label == "B8A44F000010"
    assert Person("ACCC8E000001", "Cam 1").label == "Cam 1 (ACCC8E000001)"
    assert Person("u1", "Åsa Berg", "A-17").label == "Åsa Berg (A-17)"
    assert Person("u2", "").label == "u2"


def test_a_track_is_drawn_with_its_length_a_grid_and_a_scale() -> None:
    points = [(18.0686, 59.3293), (18.0670, 59.3310), (18.0649, 59.3326)]
    drawing = draw_track(points, 480, 320)
    assert 380 < drawing.distance_m < 470 and drawing.distance_label.endswith(" m")
    assert drawing.grid_m == 100 and drawing.scale_label == "100 m" and drawing.grid
    (x0, y0), (x1, y1) = drawing.start, drawing.end
    assert x1 < x0 and y1 < y0  # the track goes north-west: left and up


def test_track_parsing_and_svg() -> None:
    body = (
        b'{"CoordinateEntries": [{"LocationWKT": "POINT(13.2 55.7)"},'
        b' {"LocationWKT": "point( 13.3 55.8 )"}, {"LocationWKT": "LINESTRING(1 2)"}, 7]}'
    )
    track = track_from_json(body)
    assert track.points == ((13.2, 55.7), (13.3, 55.8))
    first, second = (tuple(map(float, p.split(","))) for p in track.svg_points.split())
    assert second[0] > first[0] and second[1] < first[1]  # east is right, north is up
    assert track_from_json(b"nope").problem
    assert track_from_json(b'{"CoordinateEntries": [], "CoordinateEntries": []}').problem
    assert svg_polyline([(1.0, 1.0)]) == "10.0,290.0"


def test_sessions_expire() -> None:
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    sessions = Sessions(clock, ttl=timedelta(hours=8))
    s = sessions.create()
    assert sessions.get(s.token) is s and sessions.get("other") is None
    clock.advance(timedelta(hours=8))
    assert sessions.get(s.token) is None
    s2 = sessions.create()
    sessions.drop(s2.token)
    assert sessions.get(s2.token) is None


def test_recordings_are_listed_by_the_time_in_either_name_form(tmp_path: Path) -> None:
    # Containers another system made without time metadata: the name's time is used.
    store = ObjectStore(tmp_path / "store")
    for name in ("u1_S1_20260301_083030", "u1_S1_20260302T083030Z",
                 "RejectedContent_20260303T120000Z_x", "RejectedContent_UnknownTime_y"):
        store.put_container("bodyworn", name, {"Userid": "u1"})
    reader = EvidenceReader(store, "bodyworn")
    rows = reader.recordings()
    assert [(r.container, r.start) for r in rows] == [
        ("u1_S1_20260302T083030Z", datetime(2026, 3, 2, 8, 30, 30, tzinfo=UTC)),
        ("u1_S1_20260301_083030", datetime(2026, 3, 1, 8, 30, 30, tzinfo=UTC)),
    ]
    day = date(2026, 3, 1)
    assert [r.container for r in reader.recordings(Filters(day_from=day, day_to=day))] == [
        "u1_S1_20260301_083030"]
    rejected = {r.container: r.start for r in reader.rejected()}
    assert rejected == {
        "RejectedContent_20260303T120000Z_x": datetime(2026, 3, 3, 12, tzinfo=UTC),
        "RejectedContent_UnknownTime_y": None,
    }
