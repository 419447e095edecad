"""The embedded CD in reference-like mode: answers as the CD API's reference server does.

What that server does (its README and how it answers, not its code): no ETag in PUT or
HEAD answers and no check of the request's, 15-minute tokens, GET only for the two
System objects, containers needed before objects, no 400 for unknown users. Our client
must work against it: deliver, trust 201s, never send the same bytes twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.types import ASGIApp

from bodyworn.cdclient import CDClient, CDConnection, CDDevice, CDUser, RetryPolicy
from bodyworn.cdclient.capabilities import DEFAULT_CATEGORIES, KNOWN_CAPABILITIES
from bodyworn.destination.publish import publish_capabilities, publish_categories
from bodyworn.destination.swift import CDMode, SwiftApp
from bodyworn.domain.clock import ManualClock
from tests.cd_server import RequestLog

from ..cdclient.factories import make_recording
from .test_swift_app import login, make_app, raw

FAST = RetryPolicy(attempts=3, timeout=10, wait_initial=0.01, wait_max=0.02, wait_jitter=0)
BASE = "http://cd.test"
ACCOUNT = "/v1/AUTH_bodyworn"


@pytest.fixture()
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, 12, tzinfo=UTC))


@pytest.fixture()
async def reference(tmp_path: Path, clock: ManualClock) -> SwiftApp:
    """The embedded CD in reference-like mode, publishing every capability."""
    app = make_app(tmp_path, clock, mode=CDMode.REFERENCE)
    await publish_capabilities(app.store, "bodyworn", {"Store": list(KNOWN_CAPABILITIES)})
    await publish_categories(app.store, "bodyworn", DEFAULT_CATEGORIES)
    return app


@pytest.fixture()
def logged(reference: SwiftApp) -> Iterator[RequestLog]:
    yield RequestLog(reference.app)


def client_of(app: ASGIApp, clock: ManualClock) -> CDClient:
    conn = CDConnection(uris=(f"{BASE}/auth/v1.0",), user="bw", key="secret")
    return CDClient(conn, retry=FAST, clock=clock, transport=httpx.ASGITransport(app=app))


async def test_it_answers_like_the_reference_server(
    reference: SwiftApp, clock: ManualClock
) -> None:
    async with raw(reference) as http:
        h = await login(http)
        # Containers before objects.
        assert (await http.put(f"{ACCOUNT}/Users/u1", headers=h, content=b"")).status_code == 404
        assert (await http.put(f"{ACCOUNT}/Users", headers=h)).status_code == 201
        assert (await http.put(f"{ACCOUNT}/Users", headers=h)).status_code == 202
        # No ETag in the answer, and none checked: a wrong one is stored all the same.
        put = await http.put(f"{ACCOUNT}/Users/u1", headers={**h, "ETag": "0" * 32,
                                                            "X-Object-Meta-Name": "Ann"},
                             content=b"body")
        assert put.status_code == 201 and "etag" not in put.headers
        head = await http.head(f"{ACCOUNT}/Users/u1", headers=h)
        assert head.status_code == 200 and "etag" not in head.headers
        assert head.headers["X-Object-Meta-Name"] == "Ann"
        cont = await http.head(f"{ACCOUNT}/Users", headers=h)
        assert cont.status_code == 200 and "x-container-object-count" not in cont.headers
        # GET reads the two System objects only (with their ETag); no listings.
        caps = await http.get(f"{ACCOUNT}/System/Capabilities.json", headers=h)
        assert caps.status_code == 200
        assert caps.headers["Etag"] == hashlib.md5(caps.content).hexdigest()
        assert (await http.get(f"{ACCOUNT}/System/Categories.json", headers=h)).status_code == 200
        for path in (f"{ACCOUNT}/Users/u1", f"{ACCOUNT}/Users", ACCOUNT,
                     f"{ACCOUNT}/System/other.json"):
            assert (await http.get(path, headers=h)).status_code == 403, path
        # No sub-folders in object names.
        assert (await http.put(f"{ACCOUNT}/Users/a/b", headers=h, content=b"")).status_code == 400
        # No EMS: a recording for a user nobody created is stored.
        rec = f"{ACCOUNT}/nobody_S1_20260301T083030Z"
        meta = {"X-Container-Meta-Userid": "nobody", "X-Container-Meta-Bwcserialnumber": "S1"}
        assert (await http.put(rec, headers={**h, **meta})).status_code == 201
        # Tokens last 15 minutes.
        clock.advance(timedelta(minutes=15))
        assert (await http.head(f"{ACCOUNT}/Users", headers=h)).status_code == 401


async def test_a_recording_is_delivered_and_marked_unverified_by_the_cd(
    reference: SwiftApp, logged: RequestLog, clock: ManualClock, tmp_path: Path
) -> None:
    rec = make_recording(tmp_path, clips=3, start=clock.now() - timedelta(hours=1))
    async with client_of(logged, clock) as client:
        await client.put_user(CDUser(rec.user_uuid, "Ann"))
        await client.put_device(CDDevice(rec.bwc_serial, "Cam", "W110"))
        result = await client.deliver_recording(rec)
    assert result.outcome == "delivered"
    assert set(result.unverified) == set(result.objects)
    assert result.verified == {c.path.name: False for c in rec.clips}
    stored = {o.name: o.md5 for o in reference.store.list_objects("bodyworn", result.container)}
    for clip in rec.clips:
        name = next(n for n in stored if n.endswith(".mkv") and clip.start.strftime(
            "%Y%m%d_%H%M%S") in n)
        assert stored[name] == hashlib.md5(clip.path.read_bytes()).hexdigest()
    meta = reference.store.container_metadata("bodyworn", result.container)
    assert meta["Status"] == "Complete"
    # Users and devices are created with one PUT each: no POST answered 404 first.
    assert logged.paths("POST", "/Users/" + rec.user_uuid) == []
    assert len(logged.paths("PUT", "/Users/" + rec.user_uuid)) == 1
    assert logged.paths("POST", "/Devices/" + rec.bwc_serial) == []


async def test_clips_sent_ahead_are_not_sent_again_when_the_cd_gives_no_etag(
    reference: SwiftApp, logged: RequestLog, clock: ManualClock, tmp_path: Path
) -> None:
    rec = make_recording(tmp_path, clips=3, start=clock.now() - timedelta(hours=1))
    async with client_of(logged, clock) as client:
        early: dict[str, str] = {}
        for clip in rec.clips[:2]:
            early.update(await client.store_clip(rec, clip))
        # A quarter of an hour later the first token has expired: the client logs in again.
        clock.advance(timedelta(minutes=16))
        result = await client.deliver_recording(rec, early=early)
    assert result.outcome == "delivered"
    for name in early:
        assert len(logged.paths("PUT", "/" + name)) == 1, name  # checked by HEAD, not resent
        assert len(logged.paths("HEAD", "/" + name)) == 1, name
    clips = [n for n in result.objects if n.endswith(".mkv")]
    assert len(clips) == 3 and all(len(logged.paths("PUT", "/" + n)) == 1 for n in clips)
    assert result.verified == {c.path.name: False for c in rec.clips}
    assert len(logged.paths("GET", "/auth/v1.0")) == 2
