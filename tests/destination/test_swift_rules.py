"""Regression tests: listings page, EMS checks on every write path, rejected content only
when published, a quiet interrupted upload, Swift's usage and transaction headers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from starlette.types import Message

from bodyworn.destination.publish import publish_capabilities
from bodyworn.destination.swift import ListingQuery, SwiftApp, page_names
from bodyworn.domain.clock import ManualClock

from .test_swift_app import login, make_app, raw


@pytest.fixture()
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, tzinfo=UTC))


@pytest.fixture()
def swift(tmp_path: Path, clock: ManualClock) -> SwiftApp:
    return make_app(tmp_path, clock)


@pytest.fixture()
def plain(tmp_path: Path, clock: ManualClock) -> SwiftApp:
    return make_app(tmp_path, clock, careful=False)


REC = "u1_S1_20260301_083030"
GOOD = {
    "X-Container-Meta-Userid": "u1",
    "X-Container-Meta-Bwcserialnumber": "S1",
    "X-Container-Meta-Triggerontime": "1772353830",
    "X-Container-Meta-Starttime": "1772353800",
    "X-Container-Meta-Stoptime": "1772354100",
}
ACCOUNT = "/v1/AUTH_bodyworn"


@pytest.mark.parametrize(
    ("query", "page"),
    [
        (ListingQuery(), ["a", "a/b", "a/c", "b", "c/d"]),
        (ListingQuery(limit=2), ["a", "a/b"]),
        (ListingQuery(marker="a/b", limit=2), ["a/c", "b"]),
        (ListingQuery(marker="c/d"), []),
        (ListingQuery(prefix="a/"), ["a/b", "a/c"]),
        (ListingQuery(end_marker="b"), ["a", "a/b", "a/c"]),
        (ListingQuery(delimiter="/"), ["a", "a/", "b", "c/"]),
        (ListingQuery(delimiter="/", marker="a/"), ["b", "c/"]),
        (ListingQuery(delimiter="/", prefix="a/"), ["a/b", "a/c"]),
    ],
)
def test_page_names(query: ListingQuery, page: list[str]) -> None:
    names = ["a", "a/b", "a/c", "b", "c/d"]
    assert [n for n, _ in page_names(names, query)] == page


async def test_listings_page_until_empty(plain: SwiftApp) -> None:
    async with raw(plain) as http:
        h = await login(http)
        await http.put(f"{ACCOUNT}/box", headers=h)
        for name in ("x/1", "x/2", "y"):
            await http.put(f"{ACCOUNT}/box/{name}", headers=h, content=name.encode())
        seen: list[str] = []
        marker = ""
        for _ in range(10):  # a server that ignores marker would never end this loop
            r = await http.get(
                f"{ACCOUNT}/box", params={"format": "json", "limit": 2, "marker": marker}, headers=h
            )
            page = r.json()
            if not page:
                break
            seen += [d["name"] for d in page]
            marker = page[-1]["name"]
        assert seen == ["x/1", "x/2", "y"]
        empty = await http.get(f"{ACCOUNT}/box", params={"marker": "y"}, headers=h)
        assert empty.status_code == 204 and empty.text == ""
        dirs = await http.get(
            f"{ACCOUNT}/box", params={"delimiter": "/", "format": "json"}, headers=h
        )
        assert dirs.json()[0] == {"subdir": "x/"}
        assert dirs.json()[1]["name"] == "y" and dirs.json()[1]["bytes"] == 1
        bad = await http.get(f"{ACCOUNT}/box", params={"limit": "99999"}, headers=h)
        assert bad.status_code == 412
        accounts = await http.get(ACCOUNT, params={"format": "json"}, headers=h)
        assert accounts.json()[0]["name"] == "box" and accounts.json()[0]["count"] == 3
        assert accounts.json()[0]["bytes"] == 7 and "last_modified" in accounts.json()[0]
        assert (await http.get(ACCOUNT, params={"marker": "box"}, headers=h)).status_code == 204


async def test_usage_timestamp_and_trans_id_headers(plain: SwiftApp) -> None:
    async with raw(plain) as http:
        h = await login(http)
        await http.put(f"{ACCOUNT}/one", headers=h)
        await http.put(f"{ACCOUNT}/two", headers=h)
        await http.put(f"{ACCOUNT}/one/a", headers=h, content=b"12345")
        await http.put(f"{ACCOUNT}/two/b", headers=h, content=b"678")
        acc = await http.head(ACCOUNT, headers=h)
        assert acc.headers["X-Account-Container-Count"] == "2"
        assert acc.headers["X-Account-Object-Count"] == "2"
        assert acc.headers["X-Account-Bytes-Used"] == "8"
        cont = await http.head(f"{ACCOUNT}/one", headers=h)
        assert cont.headers["X-Container-Object-Count"] == "1"
        assert cont.headers["X-Container-Bytes-Used"] == "5"
        # Usage is cached per container; a write must show at once.
        await http.put(f"{ACCOUNT}/one/a", headers=h, content=b"1234567")
        await http.put(f"{ACCOUNT}/one/c", headers=h, content=b"")
        again = await http.head(f"{ACCOUNT}/one", headers=h)
        assert again.headers["X-Container-Object-Count"] == "2"
        assert again.headers["X-Container-Bytes-Used"] == "7"
        assert (await http.head(ACCOUNT, headers=h)).headers["X-Account-Bytes-Used"] == "10"
        obj = await http.head(f"{ACCOUNT}/one/a", headers=h)
        stamp = float(obj.headers["X-Timestamp"])
        assert abs(stamp - datetime.now(UTC).timestamp()) < 60
        assert re.fullmatch(r"\d{10}\.\d{5}", cont.headers["X-Timestamp"])
        ids = {acc.headers["X-Trans-Id"], cont.headers["X-Trans-Id"], obj.headers["X-Trans-Id"]}
        assert len(ids) == 3 and all(i.startswith("tx") for i in ids)
        assert (await http.get(f"{ACCOUNT}/nope/x", headers=h)).headers["X-Trans-Id"]
        # Deleting evidence is not part of the API: refused, and the object stays.
        assert (await http.delete(f"{ACCOUNT}/one/a", headers=h)).status_code == 405
        assert (await http.delete(f"{ACCOUNT}/one", headers=h)).status_code == 405
        assert (await http.head(f"{ACCOUNT}/one/a", headers=h)).status_code == 200


async def _users_and_devices(http: object, h: dict[str, str]) -> None:
    for c, o in (("Users", "u1"), ("Devices", "S1"), ("Users", "u2")):
        await http.put(f"{ACCOUNT}/{c}", headers=h)  # type: ignore[attr-defined]
        await http.put(f"{ACCOUNT}/{c}/{o}", headers=h, content=b"")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"X-Container-Meta-Userid": "nobody"}, "unknown user"),
        ({"X-Container-Meta-Bwcserialnumber": "S9"}, "unknown device"),
        ({"X-Container-Meta-Starttime": "soon"}, "malformed timestamp"),
        ({"X-Container-Meta-Stoptime": "100"}, "out of bounds"),
        ({"X-Container-Meta-Userid": "u2"}, "container name does not match"),
    ],
)
async def test_container_post_is_checked_too(
    swift: SwiftApp, change: dict[str, str], reason: str
) -> None:
    async with raw(swift) as http:
        h = await login(http)
        await _users_and_devices(http, h)
        assert (await http.put(f"{ACCOUNT}/{REC}", headers={**h, **GOOD})).status_code == 201
        r = await http.post(f"{ACCOUNT}/{REC}", headers={**h, **change})
        assert r.status_code == 400 and reason in r.text
        head = await http.head(f"{ACCOUNT}/{REC}", headers=h)
        assert head.headers["X-Container-Meta-Userid"] == "u1"  # nothing changed
        ok = {**h, "X-Container-Meta-Status": "Complete"}
        assert (await http.post(f"{ACCOUNT}/{REC}", headers=ok)).status_code == 204


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("u1_S1_20260301T083030Z", 201),  # the spec's form since v1.6.8
        ("u1_S1_20260301_083030", 201),  # the older form, still written by old systems
        ("u1_S1_20260301T083031Z", 400),  # a second off TriggerOnTime
        ("u1_S1_20260301T083030", 400),  # no Z: neither form
    ],
)
async def test_recording_names_in_either_time_form(
    swift: SwiftApp, name: str, status: int
) -> None:
    async with raw(swift) as http:
        h = await login(http)
        await _users_and_devices(http, h)
        r = await http.put(f"{ACCOUNT}/{name}", headers={**h, **GOOD})
        assert r.status_code == status, r.text
        if status == 400:
            # Still a recording (its name or metadata says so), so it was checked, not kept.
            assert "container name does not match" in r.text
            assert not swift.store.container_exists("bodyworn", name)


async def test_renamed_recording_and_objects_in_bad_containers(
    tmp_path: Path, clock: ManualClock
) -> None:
    loose = make_app(tmp_path, clock, careful=False)
    async with raw(loose) as http:
        h = await login(http)
        await _users_and_devices(http, h)
        # Made before the checks applied (or by hand): no metadata at all.
        await http.put(f"{ACCOUNT}/{REC}", headers=h)
        await http.put(f"{ACCOUNT}/elsewhere", headers=h)
    careful = make_app(tmp_path, clock)
    async with raw(careful) as http:
        h = await login(http)
        r = await http.put(f"{ACCOUNT}/{REC}/clip.mkv", headers=h, content=b"x")
        assert r.status_code == 400 and "UserID" in r.text
        assert (await http.post(f"{ACCOUNT}/{REC}/clip.mkv", headers=h)).status_code == 400
        # A plain container may hold anything; once it claims to be a recording it is checked.
        assert (
            await http.put(f"{ACCOUNT}/elsewhere/o", headers=h, content=b"x")
        ).status_code == 201
        r = await http.post(f"{ACCOUNT}/elsewhere", headers={**h, **GOOD})
        assert r.status_code == 400 and "container name" in r.text
        r = await http.put(f"{ACCOUNT}/tool-made", headers=h)
        assert r.status_code == 201
        assert (await http.post(f"{ACCOUNT}/nothere", headers=h)).status_code == 404


async def test_rejected_content_only_when_published(swift: SwiftApp) -> None:
    name = f"{ACCOUNT}/RejectedContent_20260301_083030_abc"
    async with raw(swift) as http:
        h = await login(http)
        r = await http.put(name, headers=h)
        assert r.status_code == 400 and "rejected content" in r.text
        await publish_capabilities(swift.store, "bodyworn", {"Store": ["StoreBookmarks"]})
        assert (await http.put(name, headers=h)).status_code == 400
        await publish_capabilities(swift.store, "bodyworn", {"Store": ["StoreRejectedContent"]})
        assert (await http.put(name, headers=h)).status_code == 201
        assert (await http.put(f"{name}/clip.mkv", headers=h, content=b"x")).status_code == 201
        await publish_capabilities(swift.store, "bodyworn", {})
        # Already accepted content stays writable, so an interrupted delivery can finish.
        assert (await http.put(f"{name}/clip2.mkv", headers=h, content=b"x")).status_code == 201


async def test_interrupted_upload_logs_one_line_and_leaves_nothing(
    plain: SwiftApp, tmp_path: Path
) -> None:
    async with raw(plain) as http:
        h = await login(http)
        await http.put(f"{ACCOUNT}/C", headers=h)
    messages: list[Message] = [
        {"type": "http.request", "body": b"x" * 1000, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "server": ("cd.test", 80),
        "path": f"{ACCOUNT}/C/clip.mkv",
        "raw_path": f"{ACCOUNT}/C/clip.mkv".encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"cd.test"),
            (b"x-auth-token", h["X-Auth-Token"].encode()),
            (b"content-length", b"5000"),
        ],
    }
    with structlog.testing.capture_logs() as logs:
        await plain.app(scope, receive, send)  # must not raise
    assert [e["event"] for e in logs] == ["upload interrupted"]
    assert logs[0]["object"] == "clip.mkv" and "exc_info" not in logs[0]
    leftovers = [p.name for p in (tmp_path / "data/accounts/bodyworn/C").iterdir()]
    assert leftovers == ["container.json"]


async def test_complete_recordings_are_final(swift: SwiftApp) -> None:
    async with raw(swift) as http:
        h = await login(http)
        await _users_and_devices(http, h)
        await http.put(f"{ACCOUNT}/{REC}", headers={**h, **GOOD})
        assert (
            await http.put(f"{ACCOUNT}/{REC}/clip.mkv", headers=h, content=b"v1")
        ).status_code == 201
        done = {**h, "X-Container-Meta-Status": "Complete"}
        assert (await http.post(f"{ACCOUNT}/{REC}", headers=done)).status_code == 204
        # A retried Complete changes nothing and is fine; any change is refused.
        assert (await http.post(f"{ACCOUNT}/{REC}", headers=done)).status_code == 204
        assert (await http.put(f"{ACCOUNT}/{REC}", headers={**h, **GOOD})).status_code == 202
        r = await http.post(
            f"{ACCOUNT}/{REC}", headers={**h, "X-Container-Meta-Status": "Transferring"}
        )
        assert r.status_code == 403 and "Complete" in r.text
        r = await http.put(f"{ACCOUNT}/{REC}/clip.mkv", headers=h, content=b"v2")
        assert r.status_code == 403
        assert (await http.post(f"{ACCOUNT}/{REC}/clip.mkv", headers=h)).status_code == 403
        assert (await http.get(f"{ACCOUNT}/{REC}/clip.mkv", headers=h)).content == b"v1"
