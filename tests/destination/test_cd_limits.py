"""The embedded CD under hostile input: names, sizes and timestamps are 4xx, never 500."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bodyworn.destination.browser import HSTS
from bodyworn.destination.browser import MAX_BODY as BROWSER_MAX_BODY
from bodyworn.destination.browser_auth import ensure_browser_password
from bodyworn.destination.config import Site, build_site, init_destination
from bodyworn.destination.store import ObjectStore
from bodyworn.destination.swift import MAX_OTHER_BODY, SwiftAccount, SwiftApp
from bodyworn.domain.clock import ManualClock
from tests.bodies import MIB, stream_body
from tests.cd_server import serving

from .test_swift_app import login, make_app, raw

ACCOUNT = "/v1/AUTH_bodyworn"
PASSWORD = "correct horse battery staple"


@pytest.fixture()
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, tzinfo=UTC))


BAD_NAMES = [
    ("ab%00cd", "NUL"),
    ("a" * 256, "longer than 255 bytes"),
    ("%C3%A9" * 128, "longer than 255 bytes"),
    ("%2e%2e", "not allowed"),
]


@pytest.mark.parametrize(("name", "why"), BAD_NAMES)
@pytest.mark.parametrize("method", ["PUT", "POST", "HEAD", "GET"])
async def test_bad_container_names_are_400(tmp_path: Path, clock: ManualClock, name: str,
                                           why: str, method: str) -> None:
    swift = make_app(tmp_path, clock, careful=False)
    async with raw(swift) as http:
        h = await login(http)
        r = await http.request(method, f"{ACCOUNT}/{name}", headers=h)
        assert r.status_code == 400, r.text
        if method != "HEAD":
            assert why in r.text
        r = await http.request(method, f"{ACCOUNT}/{name}/obj", headers=h, content=b"x")
        assert r.status_code == 400
    assert list((tmp_path / "data" / "accounts").rglob("*")) == []


@pytest.mark.parametrize(("name", "status"), [
    ("ab%00cd", 400), ("a" * 1025, 400), ("a" * 256, 201), ("%2e%2e", 201), ("%ff%fe", 201),
])
async def test_object_names_are_checked_not_crashed_on(tmp_path: Path, clock: ManualClock,
                                                       name: str, status: int) -> None:
    swift = make_app(tmp_path, clock, careful=False)
    async with raw(swift) as http:
        h = await login(http)
        await http.put(f"{ACCOUNT}/box", headers=h)
        assert (await http.put(f"{ACCOUNT}/box/{name}", headers=h, content=b"x")).status_code \
            == status
        for method in ("GET", "HEAD", "POST"):
            r = await http.request(method, f"{ACCOUNT}/box/{name}", headers=h)
            assert r.status_code < 500, (method, r.status_code)


@pytest.mark.parametrize("stamp", ["9" * 30, "99999999999", "%C2%B2", "9" * 200, "-1"])
async def test_recording_timestamps_out_of_range_are_refused(tmp_path: Path,
                                                              clock: ManualClock,
                                                              stamp: str) -> None:
    swift = make_app(tmp_path, clock)
    async with raw(swift) as http:
        h = await login(http)
        for where, name in (("Users", "u1"), ("Devices", "S1")):
            await http.put(f"{ACCOUNT}/{where}", headers=h)
            await http.put(f"{ACCOUNT}/{where}/{name}", headers=h, content=b"{}")
        meta = {
            "X-Container-Meta-Userid": "u1", "X-Container-Meta-Bwcserialnumber": "S1",
            "X-Container-Meta-Triggerontime": "1772353830",
            "X-Container-Meta-Starttime": stamp, "X-Container-Meta-Stoptime": "1772354100",
        }
        r = await http.put(f"{ACCOUNT}/u1_S1_20260301_083030", headers={**h, **meta})
        assert r.status_code == 400 and "timestamp" in r.text
        r = await http.put(f"{ACCOUNT}/u1_S1_20260301_083030", headers={
            **h, **meta, "X-Container-Meta-Starttime": "1772353800",
            "X-Container-Meta-Starttimeiso": "0001-01-01T00:00:00+01:00"})
        assert r.status_code == 400 and "timestamp" in r.text


def _store_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_object_over_the_limit_is_refused_while_it_streams(tmp_path: Path,
                                                              clock: ManualClock,
                                                              chunked: bool) -> None:
    swift = make_app(tmp_path, clock, careful=False, max_object_size=2 * MIB)

    async def prepare() -> dict[str, str]:
        async with raw(swift) as http:
            h = await login(http)
            await http.put(f"{ACCOUNT}/box", headers=h)
            return h

    h = asyncio.run(prepare())
    before = _store_files(tmp_path / "data")
    with serving(swift.app) as url:
        refused = stream_body(f"{url}{ACCOUNT}/box/big", method="PUT", total=50 * MIB,
                              chunked=chunked, headers=h)
        assert refused.status == 413
        assert refused.body_bytes_sent < 10 * MIB
        # Exactly the limit still goes through.
        ok = httpx.put(f"{url}{ACCOUNT}/box/fits", headers=h, content=b"x" * (2 * MIB))
        assert ok.status_code == 201
    after = _store_files(tmp_path / "data")
    # Nothing of the refused upload is left behind (no object, no temporary file).
    assert [p for p in after if p not in before and ".tmp-" in p.name] == []
    assert len(after) == len(before) + 2  # the one that fits: its data and its sidecar


def test_other_swift_requests_do_not_read_big_bodies(tmp_path: Path, clock: ManualClock) -> None:
    swift = make_app(tmp_path, clock, careful=False)
    with serving(swift.app) as url:
        for method, path in (("GET", "/auth/v1.0"), ("PUT", f"{ACCOUNT}/box"),
                             ("POST", f"{ACCOUNT}/box")):
            refused = stream_body(f"{url}{path}", method=method, total=50 * MIB, chunked=True)
            assert refused.status is not None and refused.status < 500
            assert refused.body_bytes_sent < 10 * MIB
    assert MAX_OTHER_BODY <= MIB


def test_the_object_limit_is_swifts_by_default(tmp_path: Path) -> None:
    swift = SwiftApp(ObjectStore(tmp_path), [SwiftAccount("a", "b", "c")])
    assert swift.max_object_size == 5 * 1024**3


# --- the evidence browser -------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    data = tmp_path_factory.mktemp("cd")
    init_destination(data, site_name="HQ")
    pw = data / "pw.txt"
    pw.write_text(PASSWORD + "\n")
    ensure_browser_password(data, pw)
    return asyncio.run(build_site(init_destination(data), data))


async def _logged_in(http: httpx.AsyncClient) -> None:
    page = await http.get("/browser/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token
    r = await http.post("/browser/login", data={"login_token": token.group(1),
                                                "password": PASSWORD})
    assert r.status_code == 303


@pytest.mark.parametrize("name", ["%2e%2e", "ab%00cd", "a" * 300, "%C3%A9" * 200,
                                  "%2e%2e%2f%2e%2e%2fetc"])
async def test_browser_names_that_cannot_exist_are_not_found(site: Site, name: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=site.app),
                                 base_url="http://cd.test") as http:
        await _logged_in(http)
        r = await http.get(f"/browser/recordings/{name}")
        assert r.status_code in (400, 404), r.status_code
        r = await http.get(f"/browser/recordings/{name}/play/{name}")
        assert r.status_code in (400, 404), r.status_code
        r = await http.get(f"/browser/recordings/Users/play/{name}")
        assert r.status_code in (400, 404), r.status_code


async def test_browser_sends_hsts_over_https_only(site: Site) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=site.app),
                                 base_url="https://cd.test") as http:
        r = await http.get("/browser/login")
        assert r.headers["strict-transport-security"] == HSTS
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=site.app),
                                 base_url="http://cd.test") as http:
        assert "strict-transport-security" not in (await http.get("/browser/login")).headers


def test_browser_login_refuses_a_huge_body_unread(site: Site) -> None:
    with serving(site.app) as url:
        refused = stream_body(f"{url}/browser/login", total=50 * MIB, chunked=True,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert refused.status == 413 and refused.body_bytes_sent < 8 * MIB
        refused = stream_body(f"{url}/browser/login", total=BROWSER_MAX_BODY + 1,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert refused.status == 413
