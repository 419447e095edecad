"""The client against a fault-injecting fake CD: auth, retries, the error table, TLS, rules."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bodyworn.cdclient import (
    CDAuthError,
    CDClient,
    CDConfigError,
    CDConnection,
    CDDevice,
    CDTLSError,
    CDUnavailable,
    CDUser,
    InsufficientStorage,
    LicenceError,
    RetryPolicy,
    SystemBindingError,
)
from bodyworn.cdclient.capabilities import DEFAULT_CATEGORIES, Category
from bodyworn.domain.clock import ManualClock
from bodyworn.evidence.crypto import KeyFile, decrypt_chunks, open_key_file
from bodyworn.evidence.metadata import meta_header

from .factories import SPEC_RECORDING_KEYS, closed_port, make_recording, make_rsa, make_tls_cert
from .fakecd import FakeCD, ResetProxy, ServerThread

FAST = RetryPolicy(attempts=4, timeout=20, wait_initial=0.01, wait_max=0.05, wait_jitter=0)
ALL_CAPS = {
    "Read": {"ReadCategories": True},
    "Store": {
        "StoreUserIDKey": True,
        "StoreBookmarks": True,
        "StoreGNSSTrackRecording": True,
        "StoreRejectedContent": True,
    },
    "StoreAndRead": {"StoreReadSystemID": True},
}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeCD, ServerThread]]:
    fake = FakeCD()
    with ServerThread(fake.app) as thread:
        yield fake, thread


@pytest.fixture()
def fake(server: tuple[FakeCD, ServerThread]) -> FakeCD:
    server[0].reset()
    return server[0]


@pytest.fixture()
def conn(server: tuple[FakeCD, ServerThread]) -> CDConnection:
    return CDConnection(
        uris=(f"http://127.0.0.1:{server[1].port}/auth/v1.0",), user="bw", key="secret"
    )


def publish(fake: FakeCD, caps: dict[str, dict[str, bool]] | None = None) -> None:
    fake.put_system_object("Capabilities.json", json.dumps(caps or ALL_CAPS).encode())


async def test_auth_tries_each_uri_and_uses_storage_url_verbatim(
    fake: FakeCD, conn: CDConnection
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/auth/v1.0"
    conn = replace(conn, uris=(dead, *conn.uris))
    async with CDClient(conn, retry=FAST) as client:
        await client.put_device(CDDevice("ACCC8E000001", "Cam 1", "W110"))
        assert client.storage_url is not None and client.storage_url.endswith("/v1.0/abc")
    assert fake.objects[("Devices", "ACCC8E000001")][1] == {
        "active": "True",
        "name": "Cam 1",
        "model": "W110",
    }
    puts = [r.path for r in fake.requests("PUT")]
    # Devices container before its object, both under the storage URL's own path.
    assert puts == ["/v1.0/abc/Devices", "/v1.0/abc/Devices/ACCC8E000001"]


async def test_wrong_credentials_are_an_auth_error(fake: FakeCD, conn: CDConnection) -> None:
    async with CDClient(replace(conn, key="nope"), retry=FAST) as client:
        with pytest.raises(CDAuthError):
            await client.authenticate()


async def test_401_renews_the_token_once(fake: FakeCD, conn: CDConnection) -> None:
    async with CDClient(conn, retry=FAST) as client:
        await client.authenticate()
        fake.revoke_tokens()
        await client.put_user(CDUser("u-1", "Ann"))
        assert fake.auth_count == 2
        fake.fault("PUT", r"/Users/u-2$", 401, times=1)
        await client.put_user(CDUser("u-2", "Bo"))
        assert fake.auth_count == 3
        fake.fault("PUT", r"/Users/u-3$", 401, times=5)
        with pytest.raises(CDAuthError):
            await client.put_user(CDUser("u-3", "Cy"))


async def test_503_waits_for_retry_after_then_succeeds(
    fake: FakeCD, conn: CDConnection, tmp_path: Path
) -> None:
    rec = make_recording(tmp_path, clips=1)
    fake.fault("PUT", r"\.mkv$", 503, times=1, headers={"Retry-After": "1"})
    async with CDClient(conn, retry=FAST) as client:
        began = time.monotonic()
        result = await client.deliver_recording(rec)
        waited = time.monotonic() - began
    assert result.outcome == "delivered"
    assert waited >= 0.9  # the FAST policy alone would wait 0.01 s
    clip_puts = [r for r in fake.requests("PUT") if r.path.endswith(".mkv")]
    assert [r.status for r in clip_puts] == [503, 201]
    # The retry re-read the file from its first byte.
    assert clip_puts[1].body_md5 == hashlib.md5(rec.clips[0].path.read_bytes()).hexdigest()


async def test_a_busy_login_waits_for_retry_after_too(fake: FakeCD, conn: CDConnection) -> None:
    fake.fault("GET", r"^/auth/v1\.0$", 503, times=1, headers={"Retry-After": "1"})
    async with CDClient(conn, retry=FAST) as client:
        began = time.monotonic()
        await client.put_user(CDUser("u-1", "Al"))
        waited = time.monotonic() - began
    assert waited >= 0.9  # the FAST policy alone would wait 0.01 s
    assert [r.status for r in fake.requests("GET") if r.path == "/auth/v1.0"] == [503, 200]


async def test_500_and_timeouts_retry_then_give_up(
    fake: FakeCD, conn: CDConnection, tmp_path: Path
) -> None:
    fake.fault("PUT", r"/Users/slow$", 201, times=1, delay=2.0)
    fake.fault("PUT", r"/Users/busy$", 500, times=2)
    async with CDClient(conn, retry=FAST, timeout=0.5) as client:
        await client.put_user(CDUser("slow", "Slow"))
        await client.put_user(CDUser("busy", "Busy"))
        fake.fault("PUT", r"/Users/down$", 503, times=99)
        with pytest.raises(CDUnavailable):
            await client.put_user(CDUser("down", "Down"))
    assert len([r for r in fake.requests("PUT") if r.path.endswith("/down")]) == FAST.attempts


async def test_connection_reset_is_retried(
    server: tuple[FakeCD, ServerThread], fake: FakeCD
) -> None:
    with ResetProxy(server[1].port, resets=2) as proxy:
        conn = CDConnection(
            uris=(f"http://127.0.0.1:{proxy.port}/auth/v1.0",), user="bw", key="secret"
        )
        async with CDClient(conn, retry=FAST) as client:
            await client.put_device(CDDevice("S1", "Cam", "W110"))
        assert proxy.resets == 0
    assert ("Devices", "S1") in fake.objects


async def test_507_is_distinct_and_not_retried(
    fake: FakeCD, conn: CDConnection, tmp_path: Path
) -> None:
    fake.fault("PUT", r"\.mkv$", 507, times=5)
    async with CDClient(conn, retry=FAST) as client:
        with pytest.raises(InsufficientStorage):
            await client.deliver_recording(make_recording(tmp_path, clips=1))
    assert len([r for r in fake.requests("PUT") if r.path.endswith(".mkv")]) == 1


async def test_402_is_a_licence_error(fake: FakeCD, conn: CDConnection) -> None:
    fake.fault("PUT", r"/Users/u-9$", 402)
    async with CDClient(conn, retry=FAST) as client:
        with pytest.raises(LicenceError):
            await client.put_user(CDUser("u-9", "Nine"))


async def test_400_without_rejected_content_is_not_transferred(
    fake: FakeCD, conn: CDConnection, tmp_path: Path
) -> None:
    fake.fault("PUT", r"\.mkv$", 400)
    async with CDClient(conn, retry=FAST) as client:
        result = await client.deliver_recording(make_recording(tmp_path))
    assert result.outcome == "not_transferred" and "400" in (result.reason or "")
    container = fake.containers[result.container]
    assert container["status"] == "Transferring"


async def test_400_with_rejected_content_goes_there(
    fake: FakeCD, conn: CDConnection, tmp_path: Path
) -> None:
    publish(fake)
    fake.fault("PUT", r"_\d{8}T\d{6}Z/\d{8}_\d{6}_\d+\.mkv$", 400)
    rec = make_recording(tmp_path)
    decided = datetime(2026, 3, 2, 9, 15, 7, tzinfo=UTC)  # the recording is from March 1
    async with CDClient(conn, retry=FAST, clock=ManualClock(decided)) as client:
        result = await client.deliver_recording(rec)
    assert result.outcome == "rejected_content"
    # Named after the decision to reject, not the recording: RejectedContent_<time>_<UUID>.
    m = re.fullmatch(r"RejectedContent_20260302T091507Z_([0-9a-f-]{36})", result.container)
    assert m is not None, result.container
    meta = fake.containers[result.container]
    assert "status" not in meta
    original = meta["rejectedcontentoriginalcontainer"]
    assert original == f"{rec.user_uuid}_ACCC8E000001_20260301T083030Z"
    assert meta["containername"] == result.container
    assert meta["rejectedcontenttime"] == "2026-03-02T09:15:07Z"
    assert "400" in meta["rejectedcontentreason"]
    assert meta["bwcserialnumber"] == rec.bwc_serial
    stored = {name: m for (c, name), (_b, m) in fake.objects.items() if c == result.container}
    # Clips and the GNSS track (the spec's rejected objects), no bookmarks; each object
    # names the container it was meant for.
    assert set(stored) == set(result.objects) and len(stored) == 2 + 1
    assert not any(n.startswith("bookmark_") for n in stored)
    assert all(m["rejectedcontentoriginalcontainer"] == original for m in stored.values())


async def test_recording_delivery_order_metadata_and_etags(
    fake: FakeCD, conn: CDConnection, tmp_path: Path
) -> None:
    publish(fake)
    rec = make_recording(tmp_path, clips=3)
    async with CDClient(conn, retry=FAST) as client:
        result = await client.deliver_recording(rec)
        first_log = list(fake.log)
        again = await client.deliver_recording(rec)
    assert result.outcome == "delivered"
    assert again.reason == "already Complete at the CD"
    name = result.container
    assert name == f"{rec.user_uuid}_ACCC8E000001_20260301T083030Z"
    meta = fake.containers[name]
    assert meta["status"] == "Complete"
    for key in SPEC_RECORDING_KEYS:
        assert key.lower() in meta, key
    assert meta["timezone"] == "Europe/Stockholm"
    assert meta["triggerontimeiso"] == "2026-03-01T08:30:30Z"
    objects = {n: m for (c, n), (_b, m) in fake.objects.items() if c == name}
    assert set(objects) == set(result.objects)
    clip = objects["20260301_083000_4003.mkv"]
    assert clip["containertype"] == "mkv" and clip["startlocation"].startswith("+55.718400")
    gnss = fake.objects[(name, "20260301_083000_4003_ACCC8E000001_gpstrail.json")][0]
    entries = json.loads(gnss)["CoordinateEntries"]
    assert entries[1] == {
        "LocationWKT": "POINT(13.221200 55.718500)",
        "SecondsFromStart": 10.0,
        "Timestamp": "2026-03-01T08:30:10Z",
    }
    body, bm = fake.objects[(name, "bookmark_20260301_083100_1")]
    assert body.decode() == rec.bookmarks[0].note
    assert bm["categoryid"] == "5" and bm["tags"] == "TriggerOn:Button;Unit:B12"
    assert bm["starttime"] == "2026-03-01T08:31:00Z" and bm["endtime"] == "2026-03-01T08:32:00Z"
    assert "endtime" not in fake.objects[(name, "bookmark_20260301_083300_2")][1]

    assert [r.method for r in fake.log[len(first_log) :]] == ["HEAD"]
    log = [r for r in first_log if r.path.startswith(f"/v1.0/abc/{name}")]
    # Container created first, Complete posted last, after every object.
    assert log[1].method == "PUT" and log[1].path.endswith(name)
    assert log[-1].method == "POST"
    assert log[-1].headers[meta_header("container", "Status").lower()] == "Complete"
    for r in log:
        if r.method == "PUT" and r.path != f"/v1.0/abc/{name}":
            assert r.headers["etag"] == r.body_md5


async def test_capabilities_and_the_etag_rule(fake: FakeCD, conn: CDConnection) -> None:
    async with CDClient(conn, retry=FAST) as client:
        assert (await client.capabilities()).problem is not None  # missing
        publish(fake)
        caps = await client.capabilities(refresh=True)
        assert caps.supports("StoreBookmarks") and not caps.supports("StoreSignedVideo")
        fake.etag_override["System/Capabilities.json"] = "0" * 32
        caps = await client.capabilities(refresh=True)
        assert not caps.supports("StoreBookmarks") and "corrupt" in (caps.problem or "")
        fake.etag_override.clear()
        fake.put_system_object("Capabilities.json", b'{"Store": {"StoreBookmarks": "yes"}}')
        assert not (await client.capabilities(refresh=True)).supports("StoreBookmarks")
    async with CDClient(replace(conn, full_store_and_read=True), retry=FAST) as client:
        assert (await client.capabilities()).supports("StoreSignedVideo")


async def test_categories(fake: FakeCD, conn: CDConnection) -> None:
    async with CDClient(conn, retry=FAST) as client:
        plain = await client.categories()
        assert plain.categories == DEFAULT_CATEGORIES and not plain.from_cd
    publish(fake)
    fake.put_system_object(
        "Categories.json", b'[{"Name": "Patrol", "Id": "p"}, {"Name": "X", "Id": 7}]'
    )
    async with CDClient(conn, retry=FAST) as client:
        got = await client.categories()
        assert got.from_cd and got.categories == (Category("p", "Patrol"), Category("7", "X"))
        fake.etag_override["System/Categories.json"] = "bad"
        bad = await client.categories(refresh=True)
        assert not bad.from_cd and "corrupt" in (bad.problem or "")


async def test_system_binding(fake: FakeCD, conn: CDConnection) -> None:
    async with CDClient(conn, retry=FAST) as client:
        assert await client.bind_system("sys-1", "conn-1", "North", expect_existing=False) is False
    publish(fake)
    async with CDClient(conn, retry=FAST) as client:
        with pytest.raises(SystemBindingError):
            await client.bind_system("sys-1", "conn-1", "North", expect_existing=True)
        assert await client.bind_system("sys-1", "conn-1", "North", expect_existing=False)
        assert fake.objects[("System", "sys-1")][1] == {
            "connectionid": "conn-1",
            "systemname": "North",
        }
        assert await client.bind_system("sys-1", "conn-1", "North Å", expect_existing=True)
        assert fake.objects[("System", "sys-1")][1]["systemname"] == "North Å"
        with pytest.raises(SystemBindingError):
            await client.bind_system("sys-1", "conn-2", "North", expect_existing=True)


async def test_users_devices_user_id_only_with_capability(fake: FakeCD, conn: CDConnection) -> None:
    async with CDClient(conn, retry=FAST) as client:
        await client.put_user(CDUser("u-1", "Ann", user_id="A-17"))
    assert fake.objects[("Users", "u-1")][1] == {"active": "True", "name": "Ann"}
    publish(fake)
    async with CDClient(conn, retry=FAST) as client:
        await client.put_user(CDUser("u-1", "Ann", user_id="A-17"))
        await client.put_user(CDUser("u-1", "Ann B", user_id="A-17", active=False), update=True)
        await client.put_device(CDDevice("S9", "Cam 9", "W110", active=False), update=True)
    assert fake.objects[("Users", "u-1")][1] == {
        "active": "False",
        "name": "Ann B",
        "userid": "A-17",
    }
    assert fake.objects[("Devices", "S9")][1]["active"] == "False"
    assert [r.method for r in fake.log if r.path.endswith("/Users/u-1")][-1] == "POST"


async def test_encrypted_delivery_decrypts(
    fake: FakeCD, conn: CDConnection, tmp_path: Path
) -> None:
    publish(fake)
    keys = make_rsa()
    conn = replace(conn, want_encryption=True, public_key_pem=keys.public_pem, public_key_id="k1")
    rec = make_recording(tmp_path, clips=2)
    async with CDClient(conn, retry=FAST, chunk_bytes=4096) as client:
        result = await client.deliver_recording(rec)
    name = result.container
    for clip, obj in zip(rec.clips, ["20260301_083000_4002", "20260301_083500_4002"], strict=True):
        key_body, key_meta = fake.objects[(name, obj + ".key")]
        assert key_meta == {"starttime": str(int(clip.start.timestamp())), "filetype": "key"}
        key_file = KeyFile.from_bytes(key_body)
        assert key_file.public_key_id == "k1"
        cipher = fake.objects[(name, obj + ".mkv")][0]
        assert cipher != clip.path.read_bytes()
        plain = b"".join(decrypt_chunks([cipher], open_key_file(key_file, keys.private)))
        assert plain == clip.path.read_bytes()
    gnss = fake.objects[(name, "20260301_083000_4002_ACCC8E000001_gpstrail.json")][0]
    gnss_key = KeyFile.from_bytes(
        fake.objects[(name, "20260301_083000_4002_ACCC8E000001_gpstrail.key")][0]
    )
    plain = b"".join(decrypt_chunks([gnss], open_key_file(gnss_key, keys.private)))
    assert json.loads(plain)["CoordinateEntries"]


async def test_encrypted_rejected_content_keys_name_the_original_container_too(
    fake: FakeCD, conn: CDConnection, tmp_path: Path
) -> None:
    publish(fake)
    fake.fault("PUT", r"_\d{8}T\d{6}Z/\d{8}_\d{6}_\d+\.key$", 400)
    keys = make_rsa()
    conn = replace(conn, want_encryption=True, public_key_pem=keys.public_pem, public_key_id="k1")
    rec = make_recording(tmp_path, clips=2)
    async with CDClient(conn, retry=FAST) as client:
        result = await client.deliver_recording(rec)
    assert result.outcome == "rejected_content"
    original = fake.containers[result.container]["rejectedcontentoriginalcontainer"]
    stored = {n: m for (c, n), (_b, m) in fake.objects.items() if c == result.container}
    # Two clips and the track, each with its key: all say where they were meant to go.
    assert len(stored) == 6 and sum(n.endswith(".key") for n in stored) == 3
    assert all(m["rejectedcontentoriginalcontainer"] == original for m in stored.values())
    assert all(m["filetype"] == "key" for n, m in stored.items() if n.endswith(".key"))


async def test_tls_pinning(tmp_path: Path) -> None:
    cert, key, der = make_tls_cert(tmp_path, "cd")
    _, _, other_der = make_tls_cert(tmp_path, "other")
    fake = FakeCD()
    with ServerThread(fake.app, certfile=cert, keyfile=key) as thread:
        uri = f"https://127.0.0.1:{thread.port}/auth/v1.0"
        good = CDConnection(uris=(uri,), user="bw", key="secret", certificates=(der,))
        async with CDClient(good, retry=FAST) as client:
            await client.put_device(CDDevice("S1", "Cam", "W110"))
            assert client.storage_url is not None and client.storage_url.startswith("https://")
        pem = cert.read_bytes()
        async with CDClient(replace(good, certificates=(other_der, pem)), retry=FAST) as client:
            await client.authenticate()
        async with CDClient(replace(good, certificates=(other_der,)), retry=FAST) as client:
            with pytest.raises(CDTLSError):
                await client.authenticate()
        # No certificates named: an https URI is checked against the system roots.
        async with CDClient(replace(good, certificates=()), retry=FAST) as client:
            with pytest.raises(CDTLSError):
                await client.authenticate()
    with pytest.raises(CDConfigError):
        CDConnection(uris=("http://127.0.0.1/auth/v1.0",), user="u", key="k", certificates=(der,))
    with pytest.raises(CDConfigError):
        CDClient(CDConnection(uris=(uri,), user="u", key="k", certificates=(b"junk",)))


def test_connection_validation() -> None:
    with pytest.raises(CDConfigError):
        CDConnection(uris=(), user="u", key="k")
    with pytest.raises(CDConfigError):
        CDConnection(uris=("ftp://x/auth",), user="u", key="k")
    with pytest.raises(CDConfigError):
        CDConnection(uris=("http://x/auth",), user="u", key="k", want_encryption=True)
    with pytest.raises(CDConfigError):
        CDConnection(
            uris=("http://x/auth",),
            user="u",
            key="k",
            want_encryption=True,
            public_key_pem=b"nope",
            public_key_id="k",
        )
    assert "key=" not in repr(CDConnection(uris=("http://x/a",), user="u", key="hunter2"))


async def test_categories_are_cached_for_a_day(fake: FakeCD, conn: CDConnection) -> None:
    publish(fake)
    fake.put_system_object("Categories.json", b'[{"Name": "A", "Id": "1"}]')
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    async with CDClient(conn, retry=FAST, clock=clock) as client:
        assert (await client.categories()).categories == (Category("1", "A"),)
        fake.put_system_object("Categories.json", b'[{"Name": "B", "Id": "2"}]')
        clock.advance(timedelta(hours=23))
        assert (await client.categories()).categories == (Category("1", "A"),)
        assert (await client.categories(refresh=True)).categories == (Category("2", "B"),)
        fake.put_system_object("Categories.json", b'[{"Name": "C", "Id": "3"}]')
        clock.advance(timedelta(hours=25))
        assert (await client.categories()).categories == (Category("3", "C"),)


def test_storage_url_may_not_downgrade() -> None:
    plain = CDConnection(uris=("http://cd/auth/v1.0",), user="u", key="k")
    assert plain.storage_url_allowed("http://cd/auth/v1.0", "http://cd/v1/AUTH_x")
    assert plain.storage_url_allowed("http://cd/auth/v1.0", "https://cd/v1/AUTH_x")
    tls = CDConnection(uris=("https://cd/auth/v1.0",), user="u", key="k")
    assert not tls.storage_url_allowed("https://cd/auth/v1.0", "http://cd/v1/AUTH_x")


def test_from_parsed_connection_file() -> None:
    keys = make_rsa()
    parsed = SimpleNamespace(
        authentication_token_uris=("http://cd/auth/v1.0", "http://cd2/auth/v1.0"),
        blob_api_user_name="bw",
        blob_api_key="secret",
        https_certificates=(),
        container_type="mp4",
        full_store_and_read_support=True,
        want_encryption=True,
        public_key_pem=keys.public_pem,
        public_key_id="kid",
    )
    conn = CDConnection.from_parsed(parsed)
    assert conn.uris == parsed.authentication_token_uris and conn.container_type == "mp4"
    assert conn.full_store_and_read and conn.want_encryption and conn.public_key_id == "kid"
    with pytest.raises(CDConfigError):
        CDConnection.from_parsed(SimpleNamespace(**{**vars(parsed), "container_type": "avi"}))


async def test_a_deleted_system_container_is_made_again(fake: FakeCD, conn: CDConnection) -> None:
    async with CDClient(conn, retry=FAST) as client:
        await client.put_user(CDUser("u-1", "Ann"))
        del fake.containers["Users"]
        await client.put_user(CDUser("u-2", "Bo"))
    assert ("Users", "u-2") in fake.objects


async def test_clips_of_a_recording_go_up_a_few_at_a_time(
    fake: FakeCD, conn: CDConnection, tmp_path: Path
) -> None:
    publish(fake)
    fake.slow_puts, fake.slow_seconds = re.compile(r"\.mkv$"), 0.2
    rec = make_recording(tmp_path, clips=5)
    async with CDClient(conn, retry=FAST, clip_uploads=3) as client:
        result = await client.deliver_recording(rec)
    assert result.outcome == "delivered"
    assert fake.most_puts_at_once == 3
    stored = sorted(n for (c, n) in fake.objects if c == result.container and n.endswith(".mkv"))
    assert len(stored) == 5
    # Complete only after every clip: the POST comes after the last clip PUT finished.
    log = [r for r in fake.log if r.path.startswith(f"/v1.0/abc/{result.container}")]
    assert log[-1].method == "POST"


async def test_one_clip_refused_stops_the_others_and_the_recording_is_rerouted(
    fake: FakeCD, conn: CDConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without rejected content: the recording is not transferred, and the other uploads of
    # it were cancelled rather than left running on their own in the background.
    fake.slow_puts, fake.slow_seconds = re.compile(r"_08(35|40|45|50)00_\d+\.mkv$"), 0.5
    fake.fault("PUT", r"_083000_\d+\.mkv$", 400)
    finished: list[str] = []
    real = CDClient._put_object

    async def noting(self: CDClient, container: str, name: str, *a: Any, **k: Any) -> Any:
        md5 = await real(self, container, name, *a, **k)
        finished.append(name)
        return md5

    monkeypatch.setattr(CDClient, "_put_object", noting)
    rec = make_recording(tmp_path, clips=5)
    async with CDClient(conn, retry=FAST, clip_uploads=5) as client:
        result = await client.deliver_recording(rec)
        await asyncio.sleep(0.7)  # longer than the held uploads: none finishes later
    assert result.outcome == "not_transferred" and "400" in (result.reason or "")
    assert not [n for n in finished if n.endswith(".mkv")], finished


async def test_clips_stored_early_are_checked_not_resent_unless_changed(
    fake: FakeCD, conn: CDConnection, tmp_path: Path
) -> None:
    publish(fake)
    rec = make_recording(tmp_path, clips=3)
    async with CDClient(conn, retry=FAST) as client:
        early: dict[str, str] = {}
        for clip in rec.clips[:2]:
            early.update(await client.store_clip(rec, clip))
        name = next(iter({c for (c, _) in fake.objects if c != "System"}))
        assert fake.containers[name]["status"] == "Transferring"
        assert len(early) == 2
        # One early object is lost at the CD before the recording is delivered.
        lost = sorted(early)[1]
        del fake.objects[(name, lost)]
        fake.log.clear()
        result = await client.deliver_recording(rec, early=early)
    assert result.outcome == "delivered"
    put = [r.path.rsplit("/", 1)[-1] for r in fake.requests("PUT")
           if r.path.endswith(".mkv")]
    kept = sorted(early)[0]
    assert kept not in put and lost in put and len(put) == 2, put
    assert fake.containers[name]["status"] == "Complete"
    assert {n for (c, n) in fake.objects if c == name} >= set(early)


async def test_nothing_is_stored_early_into_a_complete_recording(
    fake: FakeCD, conn: CDConnection, tmp_path: Path
) -> None:
    publish(fake)
    rec = make_recording(tmp_path, clips=2)
    async with CDClient(conn, retry=FAST) as client:
        await client.deliver_recording(rec)
        fake.log.clear()
        assert await client.store_clip(rec, rec.clips[0]) == {}
    assert [r.method for r in fake.log] == ["HEAD"]


async def test_put_answers_are_checked_by_their_etag_when_they_carry_one(
    fake: FakeCD, conn: CDConnection, tmp_path: Path
) -> None:
    publish(fake)
    rec = make_recording(tmp_path, clips=3)
    name = f"{rec.user_uuid}_ACCC8E000001_20260301T083030Z"
    clips = ["20260301_083000_4003.mkv", "20260301_083500_4003.mkv", "20260301_084000_4003.mkv"]
    # The first clip's answer names its md5; the second's names other bytes once, then its
    # md5; the third's carries none (as the reference server's).
    fake.put_etags[f"{name}/{clips[0]}"] = ["md5"]
    fake.put_etags[f"{name}/{clips[1]}"] = ["0" * 32, "md5"]
    async with CDClient(conn, retry=FAST) as client:
        result = await client.deliver_recording(rec)
    assert result.outcome == "delivered"
    puts = [r.path.rsplit("/", 1)[-1] for r in fake.requests("PUT")]
    assert [puts.count(c) for c in clips] == [1, 2, 1]
    assert result.verified == {"clip0.mkv": True, "clip1.mkv": True, "clip2.mkv": False}
    assert clips[2] in result.unverified and clips[0] not in result.unverified


async def test_an_early_clip_is_checked_by_etag_when_the_head_carries_one(
    fake: FakeCD, conn: CDConnection, tmp_path: Path
) -> None:
    # The fake answers PUT without an ETag but HEAD with one: the HEAD confirms the clip;
    # a HEAD naming other bytes has it sent again.
    publish(fake)
    rec = make_recording(tmp_path, clips=2)
    async with CDClient(conn, retry=FAST) as client:
        early: dict[str, str] = {}
        for clip in rec.clips:
            early.update(await client.store_clip(rec, clip))
        name = next(c for c in fake.containers if c not in ("System",))
        changed = sorted(early)[1]
        fake.etag_override[f"{name}/{changed}"] = "f" * 32
        fake.log.clear()
        result = await client.deliver_recording(rec, early=early)
    puts = [r.path.rsplit("/", 1)[-1] for r in fake.requests("PUT")]
    assert changed in puts and sorted(early)[0] not in puts
    assert result.verified["clip0.mkv"] is True


async def test_early_clips_are_trusted_when_the_cd_does_not_answer_head_on_objects(
    fake: FakeCD, conn: CDConnection, tmp_path: Path
) -> None:
    # HEAD is not in the spec's table of endpoints: a CD may refuse it on objects.
    publish(fake)
    rec = make_recording(tmp_path, clips=2)
    async with CDClient(conn, retry=FAST) as client:
        early = await client.store_clip(rec, rec.clips[0])
        fake.fault("HEAD", r"\.mkv$", 405, times=5)
        fake.log.clear()
        result = await client.deliver_recording(rec, early=early)
    assert result.outcome == "delivered"
    puts = [r.path.rsplit("/", 1)[-1] for r in fake.requests("PUT")]
    assert not set(early) & set(puts), puts
    assert result.verified == {"clip0.mkv": False, "clip1.mkv": False}
