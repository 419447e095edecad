"""The embedded CD's Swift subset, driven by our client and by plain HTTP."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bodyworn.cdclient import (
    CDClient,
    CDConnection,
    CDDevice,
    CDUnavailable,
    CDUser,
    InsufficientStorage,
    RetryPolicy,
)
from bodyworn.cdclient.capabilities import Category
from bodyworn.destination.publish import publish_capabilities, publish_categories
from bodyworn.destination.store import ObjectStore
from bodyworn.destination.swift import FaultRule, SwiftAccount, SwiftApp
from bodyworn.domain.clock import ManualClock
from bodyworn.evidence.crypto import KeyFile, decrypt_chunks, open_key_file
from bodyworn.evidence.metadata import meta_get, parse_metadata

from ..cdclient.factories import SPEC_RECORDING_KEYS, make_recording, make_rsa

FAST = RetryPolicy(attempts=3, timeout=10, wait_initial=0.01, wait_max=0.02, wait_jitter=0)
BASE = "http://cd.test"


@pytest.fixture()
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, tzinfo=UTC))


def make_app(tmp_path: Path, clock: ManualClock, **kw: object) -> SwiftApp:
    return SwiftApp(
        ObjectStore(tmp_path / "data"),
        [SwiftAccount("bw", "secret", "bodyworn"), SwiftAccount("other", "pw", "other")],
        clock=clock,
        token_ttl=timedelta(minutes=15),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture()
def swift(tmp_path: Path, clock: ManualClock) -> SwiftApp:
    """The embedded CD as shipped: recording containers are checked like a careful EMS."""
    return make_app(tmp_path, clock)


@pytest.fixture()
def plain(tmp_path: Path, clock: ManualClock) -> SwiftApp:
    """A plain Swift store: any container name is fine."""
    return make_app(tmp_path, clock, careful=False)


def client_for(swift: SwiftApp, **kw: object) -> CDClient:
    conn = CDConnection(uris=(f"{BASE}/auth/v1.0",), user="bw", key="secret", **kw)  # type: ignore[arg-type]
    return CDClient(conn, retry=FAST, transport=httpx.ASGITransport(app=swift.app))


def raw(swift: SwiftApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=swift.app), base_url=BASE)


async def login(http: httpx.AsyncClient, user: str = "bw", key: str = "secret") -> dict[str, str]:
    r = await http.get("/auth/v1.0", headers={"X-Auth-User": user, "X-Auth-Key": key})
    assert r.status_code == 200
    assert r.headers["X-Storage-Url"] == f"{BASE}/v1/AUTH_{'bodyworn' if user == 'bw' else 'other'}"
    return {"X-Auth-Token": r.headers["X-Auth-Token"]}


async def test_client_delivers_everything(swift: SwiftApp, tmp_path: Path) -> None:
    keys = make_rsa()
    rec = make_recording(tmp_path / "rec", clips=2)
    client = client_for(
        swift,
        full_store_and_read=True,
        want_encryption=True,
        public_key_pem=keys.public_pem,
        public_key_id="k1",
    )
    async with client:
        await client.put_user(CDUser(rec.user_uuid, "Åsa", user_id="A-1"))
        await client.put_device(CDDevice(rec.bwc_serial, "Cam", "W110"))
        assert await client.bind_system("sys", "conn", "North", expect_existing=False)
        result = await client.deliver_recording(rec)
    assert result.outcome == "delivered"
    store = swift.store
    meta = store.container_metadata("bodyworn", result.container)
    decoded = parse_metadata("container", [(f"X-Container-Meta-{k}", v) for k, v in meta.items()])
    for key in SPEC_RECORDING_KEYS:
        assert meta_get(decoded, key), key
    assert meta_get(decoded, "Status") == "Complete"
    names = [o.name for o in store.list_objects("bodyworn", result.container)]
    assert sorted(names) == sorted(result.objects)
    clip = rec.clips[0]
    key_obj = store.get_object("bodyworn", result.container, "20260301_083000_4002.key")
    clip_obj = store.get_object("bodyworn", result.container, "20260301_083000_4002.mkv")
    content_key = open_key_file(KeyFile.from_bytes(key_obj.path.read_bytes()), keys.private)
    assert b"".join(decrypt_chunks([clip_obj.path.read_bytes()], content_key)) == (
        clip.path.read_bytes()
    )
    assert clip_obj.md5 == hashlib.md5(clip_obj.path.read_bytes()).hexdigest()


async def test_tokens_expire_and_the_client_renews(swift: SwiftApp, clock: ManualClock) -> None:
    async with client_for(swift) as client:
        await client.put_user(CDUser("u1", "One"))
        first = client._token
        clock.advance(timedelta(minutes=16))
        await client.put_user(CDUser("u2", "Two"))
        assert client._token != first
    async with raw(swift) as http:
        headers = await login(http)
        clock.advance(timedelta(minutes=16))
        assert (await http.head("/v1/AUTH_bodyworn/Users", headers=headers)).status_code == 401


async def test_tokens_open_only_their_account(plain: SwiftApp) -> None:
    async with raw(plain) as http:
        other = await login(http, "other", "pw")
        assert (await http.put("/v1/AUTH_bodyworn/X", headers=other)).status_code == 401
        assert (await http.put("/v1/AUTH_other/X", headers=other)).status_code == 201
        assert (await http.get("/auth/v1.0", headers={"X-Auth-User": "bw"})).status_code == 401
        assert (await http.put("/v1/AUTH_other/X")).status_code == 401


async def test_etag_mismatch_leaves_nothing(plain: SwiftApp, tmp_path: Path) -> None:
    async with raw(plain) as http:
        h = await login(http)
        assert (await http.put("/v1/AUTH_bodyworn/C", headers=h)).status_code == 201
        r = await http.put(
            "/v1/AUTH_bodyworn/C/a/b.mkv", headers={**h, "ETag": "0" * 32}, content=b"x"
        )
        assert r.status_code == 422
        assert (await http.head("/v1/AUTH_bodyworn/C/a/b.mkv", headers=h)).status_code == 404
        leftovers = [p.name for p in (tmp_path / "data/accounts/bodyworn/C").iterdir()]
        assert leftovers == ["container.json"]
        r = await http.put("/v1/AUTH_bodyworn/Missing/o", headers=h, content=b"x")
        assert r.status_code == 404


async def test_metadata_semantics_listings_and_range(plain: SwiftApp) -> None:
    async with raw(plain) as http:
        h = await login(http)
        url = "/v1/AUTH_bodyworn/Rec"
        await http.put(
            url, headers={**h, "X-Container-Meta-Status": "Transferring", "X-Container-Meta-A": "1"}
        )
        assert (
            await http.post(
                url, headers={**h, "X-Container-Meta-Status": "Complete", "X-Container-Meta-A": ""}
            )
        ).status_code == 204
        head = await http.head(url, headers=h)
        assert head.headers["X-Container-Meta-Status"] == "Complete"
        assert "X-Container-Meta-A" not in head.headers

        body = b"0123456789" * 10
        r = await http.put(
            f"{url}/clip.mkv",
            headers={**h, "X-Object-Meta-Name": "%C3%85sa", "X-Object-Meta-Keep": "1"},
            content=body,
        )
        assert r.status_code == 201
        assert (
            await http.post(f"{url}/clip.mkv", headers={**h, "X-Object-Meta-Name": "B"})
        ).status_code == 202
        got = await http.get(f"{url}/clip.mkv", headers=h)
        assert got.content == body and got.headers["Etag"] == hashlib.md5(body).hexdigest()
        assert got.headers["X-Object-Meta-Name"] == "B" and "X-Object-Meta-Keep" not in got.headers
        part = await http.get(f"{url}/clip.mkv", headers={**h, "Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == body[10:20]

        listing = await http.get(url, headers=h)
        assert listing.text == "clip.mkv\n"
        docs = (await http.get(url, params={"format": "json"}, headers=h)).json()
        assert datetime.fromisoformat(docs[0].pop("last_modified")).year >= 2026
        assert docs == [
            {
                "name": "clip.mkv",
                "bytes": 100,
                "hash": hashlib.md5(body).hexdigest(),
                "content_type": "application/octet-stream",
            }
        ]
        accounts = await http.get("/v1/AUTH_bodyworn", headers=h)
        assert accounts.text == "Rec\n"
        too_long = {**h, "X-Object-Meta-Big": "x" * 300}
        assert (await http.put(f"{url}/big", headers=too_long, content=b"")).status_code == 400


async def test_published_capabilities_and_categories_reach_the_client(swift: SwiftApp) -> None:
    await publish_capabilities(
        swift.store, "bodyworn", {"Read": ["ReadCategories"], "Store": ["StoreBookmarks"]}
    )
    await publish_categories(
        swift.store, "bodyworn", [Category("1", "Patrol"), Category("2", "Åtal")]
    )
    async with client_for(swift) as client:
        caps = await client.capabilities()
        assert caps.supports("StoreBookmarks") and not caps.supports("StoreReadSystemID")
        cats = await client.categories()
        assert cats.from_cd and [c.name for c in cats.categories] == ["Patrol", "Åtal"]


async def test_streamed_upload_is_written_whole(plain: SwiftApp) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(64):
            yield bytes([i]) * 65536

    data = b"".join(bytes([i]) * 65536 for i in range(64))
    async with raw(plain) as http:
        h = await login(http)
        await http.put("/v1/AUTH_bodyworn/S", headers=h)
        r = await http.put(
            "/v1/AUTH_bodyworn/S/big",
            headers={**h, "ETag": hashlib.md5(data).hexdigest()},
            content=chunks(),
        )
        assert r.status_code == 201
        obj = plain.store.get_object("bodyworn", "S", "big")
        assert obj.size == len(data) and obj.path.read_bytes() == data
        assert json.loads((await http.get("/v1/AUTH_bodyworn/S?format=json", headers=h)).text)[0][
            "bytes"
        ] == len(data)


async def test_careful_ems_rejects_unknown_user_and_device(swift: SwiftApp, tmp_path: Path) -> None:
    rec = make_recording(tmp_path / "rec", clips=1)
    async with client_for(swift) as client:
        result = await client.deliver_recording(rec)
        assert result.outcome == "not_transferred"
        assert "unknown user" in (result.reason or "")
        await client.put_user(CDUser(rec.user_uuid, "Ann"))
        result = await client.deliver_recording(rec)
        assert "unknown device" in (result.reason or "")
    await publish_capabilities(swift.store, "bodyworn", {"Store": ["StoreRejectedContent"]})
    async with client_for(swift) as client:
        result = await client.deliver_recording(rec)
        assert result.outcome == "rejected_content"
        assert swift.store.list_objects("bodyworn", result.container)
        await client.put_device(CDDevice(rec.bwc_serial, "Cam", "W110"))
        assert (await client.deliver_recording(rec)).outcome == "delivered"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"X-Container-Meta-Starttime": "yesterday"}, "malformed timestamp"),
        ({"X-Container-Meta-Stoptimeiso": "2026-13-01T00:00:00Z"}, "malformed timestamp"),
        ({"X-Container-Meta-Starttime": "100"}, "out of bounds"),
        ({"X-Container-Meta-Stoptime": "4102444800"}, "out of bounds"),
        ({"X-Container-Meta-Userid": ""}, "required"),
    ],
)
async def test_careful_ems_checks_times(
    swift: SwiftApp, change: dict[str, str], reason: str
) -> None:
    name = "u1_S1_20260301_083030"
    good = {
        "X-Container-Meta-Userid": "u1",
        "X-Container-Meta-Bwcserialnumber": "S1",
        "X-Container-Meta-Triggerontime": "1772353830",
        "X-Container-Meta-Starttime": "1772353800",
        "X-Container-Meta-Stoptime": "1772354100",
        "X-Container-Meta-Stoptimeiso": "2026-03-01T08:35:00Z",
    }
    async with raw(swift) as http:
        h = await login(http)
        for c, o in (("Users", "u1"), ("Devices", "S1")):
            await http.put(f"/v1/AUTH_bodyworn/{c}", headers=h)
            await http.put(f"/v1/AUTH_bodyworn/{c}/{o}", headers=h, content=b"")
        r = await http.put(f"/v1/AUTH_bodyworn/{name}", headers={**h, **good, **change})
        assert r.status_code == 400 and reason in r.text
        assert (
            await http.put(f"/v1/AUTH_bodyworn/x_{name}", headers={**h, **good})
        ).status_code == 400
        assert (
            await http.put(f"/v1/AUTH_bodyworn/{name}", headers={**h, **good})
        ).status_code == 201


async def test_fault_injection(tmp_path: Path, clock: ManualClock) -> None:
    faults = [
        FaultRule(503, "Users/", times=1, retry_after=0),
        FaultRule(507, "Devices/", methods=frozenset({"PUT"})),
    ]
    app = make_app(tmp_path, clock, faults=faults)
    async with client_for(app) as client:
        await client.put_user(CDUser("u1", "One"))
        assert faults[0].times == 0
        with pytest.raises(InsufficientStorage):
            await client.put_device(CDDevice("S1", "Cam", "W110"))
    app.faults = [FaultRule(500, "auth")]
    async with client_for(app) as client:
        with pytest.raises(CDUnavailable):
            await client.authenticate()
