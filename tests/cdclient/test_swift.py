"""The client against a real OpenStack Swift (tempauth) on loopback."""

from __future__ import annotations

import hashlib
import json
import os
import tracemalloc
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from bodyworn.cdclient import (
    CDClient,
    CDConnection,
    CDDevice,
    CDUser,
    RetryPolicy,
    SystemBindingError,
)
from bodyworn.cdclient.capabilities import DEFAULT_CATEGORIES, Category
from bodyworn.evidence.crypto import KeyFile, decrypt_chunks, open_key_file
from bodyworn.evidence.metadata import meta_get, parse_metadata

from .conftest import SwiftInstance
from .factories import SPEC_RECORDING_KEYS, make_recording, make_rsa

pytestmark = pytest.mark.swift

RETRY = RetryPolicy(attempts=3, timeout=30, wait_initial=0.05, wait_max=0.2, wait_jitter=0)


def connection(swift: SwiftInstance, account: str, **kw: object) -> CDConnection:
    user, key = swift.account(account)
    return CDConnection(uris=(swift.auth_url,), user=user, key=key, **kw)  # type: ignore[arg-type]


class Raw:
    """A plain Swift client for checking what the CD really stored."""

    def __init__(self, swift: SwiftInstance, account: str) -> None:
        user, key = swift.account(account)
        r = httpx.get(swift.auth_url, headers={"X-Auth-User": user, "X-Auth-Key": key})
        r.raise_for_status()
        self.url = r.headers["X-Storage-Url"]
        self.h = {"X-Auth-Token": r.headers["X-Auth-Token"]}

    def head(self, path: str) -> httpx.Response:
        return httpx.head(f"{self.url}/{path}", headers=self.h)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}/{path}", headers=self.h)

    def put(self, path: str, body: bytes = b"") -> None:
        headers = {**self.h, "ETag": hashlib.md5(body).hexdigest()} if body else self.h
        httpx.put(f"{self.url}/{path}", headers=headers, content=body).raise_for_status()

    def listing(self, container: str) -> list[str]:
        r = self.get(container)
        r.raise_for_status()
        return r.text.split()


async def test_full_delivery_encrypted(swift: SwiftInstance, tmp_path: Path) -> None:
    keys = make_rsa()
    conn = connection(
        swift,
        "bwfull",
        full_store_and_read=True,
        want_encryption=True,
        public_key_pem=keys.public_pem,
        public_key_id="contentkey.public.pem",
    )
    rec = make_recording(tmp_path, clips=3, clip_bytes=300_000)
    async with CDClient(conn, retry=RETRY) as client:
        await client.put_user(CDUser(rec.user_uuid, "Åsa Öberg", user_id="A-17"))
        await client.put_device(CDDevice(rec.bwc_serial, "Cam 1", "W110"))
        result = await client.deliver_recording(rec)
        await client.put_user(CDUser(rec.user_uuid, "Åsa Ö", active=False), update=True)
    assert result.outcome == "delivered"
    # Swift answers every PUT with the md5 as its ETag: every object is confirmed.
    assert result.unverified == () and result.verified == {c.path.name: True for c in rec.clips}
    assert result.container.endswith("_20260301T083030Z")

    raw = Raw(swift, "bwfull")
    meta = parse_metadata("container", raw.head(result.container).headers.multi_items())
    for key in SPEC_RECORDING_KEYS:
        assert meta_get(meta, key), key
    assert meta_get(meta, "Status") == "Complete"
    assert meta_get(meta, "TimeZone") == "Europe/Stockholm"
    assert sorted(raw.listing(result.container)) == sorted(result.objects)
    assert len(result.objects) == 3 * 2 + 2 + 2  # clips+keys, GNSS+key, bookmarks

    for clip in rec.clips:
        stem = f"{clip.start:%Y%m%d_%H%M%S}_{rec.recording_id}"
        body = raw.get(f"{result.container}/{stem}.mkv")
        assert body.headers["Etag"].strip('"') == hashlib.md5(body.content).hexdigest()
        key_file = KeyFile.from_bytes(raw.get(f"{result.container}/{stem}.key").content)
        assert key_file.public_key_id == "contentkey.public.pem"
        plain = b"".join(decrypt_chunks([body.content], open_key_file(key_file, keys.private)))
        assert plain == clip.path.read_bytes()
        clip_meta = parse_metadata("object", body.headers.multi_items())
        assert meta_get(clip_meta, "StartTimeISO") == f"{clip.start:%Y-%m-%dT%H:%M:%SZ}"

    note = raw.get(f"{result.container}/bookmark_20260301_083100_1")
    assert note.content.decode() == rec.bookmarks[0].note
    bm_meta = parse_metadata("object", note.headers.multi_items())
    assert meta_get(bm_meta, "CategoryName") == "Traffic"

    user = parse_metadata("object", raw.head(f"Users/{rec.user_uuid}").headers.multi_items())
    # An object POST replaces all metadata: UserID is gone because it was not sent again.
    assert user == {"Active": "False", "Name": "Åsa Ö"}
    device = parse_metadata("object", raw.head(f"Devices/{rec.bwc_serial}").headers.multi_items())
    assert device == {"Active": "True", "Name": "Cam 1", "Model": "W110"}


async def test_capabilities_categories_and_system_binding(swift: SwiftInstance) -> None:
    raw = Raw(swift, "bwcaps")
    raw.put("System")
    caps = {
        "Read": {"ReadCategories": True},
        "StoreAndRead": {"StoreReadSystemID": True},
        "Store": {"StoreBookmarks": False},
    }
    raw.put("System/Capabilities.json", json.dumps(caps).encode())
    raw.put("System/Categories.json", b'[{"Name": "Patrol", "Id": "1"}]')
    conn = connection(swift, "bwcaps")
    async with CDClient(conn, retry=RETRY) as client:
        got = await client.capabilities()
        assert got.supports("StoreReadSystemID") and not got.supports("StoreBookmarks")
        cats = await client.categories()
        assert cats.from_cd and cats.categories == (Category("1", "Patrol"),)
        with pytest.raises(SystemBindingError):
            await client.bind_system("sys-a", "conn-1", "North", expect_existing=True)
        assert await client.bind_system("sys-a", "conn-1", "North", expect_existing=False)
        assert await client.bind_system("sys-a", "conn-1", "North 2", expect_existing=True)
        with pytest.raises(SystemBindingError):
            await client.bind_system("sys-a", "conn-other", "North", expect_existing=True)
    sys_meta = parse_metadata("object", raw.head("System/sys-a").headers.multi_items())
    assert sys_meta == {"Connectionid": "conn-1", "Systemname": "North 2"}


async def test_bare_swift_supports_nothing(swift: SwiftInstance, tmp_path: Path) -> None:
    rec = make_recording(tmp_path, clips=1)
    async with CDClient(connection(swift, "bwnone"), retry=RETRY) as client:
        caps = await client.capabilities()
        assert caps.problem and not caps.supports("StoreBookmarks")
        assert (await client.categories()).categories == DEFAULT_CATEGORIES
        assert not await client.bind_system("s", "c", "n", expect_existing=True)
        result = await client.deliver_recording(rec)
    # Without capabilities only the clip goes: no GNSS, no bookmarks.
    assert result.objects == ("20260301_083000_4001.mkv",)
    assert Raw(swift, "bwnone").listing(result.container) == list(result.objects)


async def test_large_clip_streams_in_constant_memory(swift: SwiftInstance, tmp_path: Path) -> None:
    size = 48 * 1024 * 1024
    rec = make_recording(tmp_path, clips=1, clip_bytes=16)
    big = tmp_path / "big.mkv"
    with big.open("wb") as f:
        for _ in range(size // (1 << 20)):
            f.write(os.urandom(1 << 20))
    rec = replace(rec, clips=(replace(rec.clips[0], path=big),), gnss_track=(), bookmarks=())
    conn = connection(swift, "bwfull", full_store_and_read=True)
    async with CDClient(conn, retry=RETRY) as client:
        await client.capabilities()
        tracemalloc.start()
        try:
            result = await client.deliver_recording(rec)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert result.outcome == "delivered"
    print(f"peak traced memory {peak / 2**20:.1f} MiB for a 48 MiB clip")
    assert peak < 12 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for a 48 MiB clip"
    head = Raw(swift, "bwfull").head(f"{result.container}/{result.objects[0]}")
    assert int(head.headers["Content-Length"]) == size


async def test_a_wrong_camera_md5_is_replaced_by_our_own_after_swift_refuses_it(
    swift: SwiftInstance, tmp_path: Path
) -> None:
    rec = make_recording(tmp_path, clips=2, clip_bytes=4096)
    real = [hashlib.md5(c.path.read_bytes()).hexdigest() for c in rec.clips]
    # The first clip's md5 as the camera announced it is wrong; the second one is right.
    wrong = replace(rec.clips[0], md5="0" * 32)
    rec = replace(rec, clips=(wrong, replace(rec.clips[1], md5=real[1])))
    conn = connection(swift, "bwfull", full_store_and_read=True)
    async with CDClient(conn, retry=RETRY) as client:
        result = await client.deliver_recording(rec)
    assert result.outcome == "delivered"
    raw = Raw(swift, "bwfull")
    clips = sorted(o for o in result.objects if o.endswith((".mkv", ".mp4")))
    etags = [raw.head(f"{result.container}/{o}").headers["Etag"].strip('"') for o in clips]
    assert sorted(etags) == sorted(real)
