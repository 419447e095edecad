"""The embedded CD's test-only faults over a real connection, and its request counter."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bodyworn.cdclient import CDClient, CDConnection, CDDevice, CDUnavailable, RetryPolicy
from bodyworn.destination.store import NotFound, ObjectStore
from bodyworn.destination.swift import FaultKind, FaultRule, SwiftAccount, SwiftApp
from bodyworn.domain.clock import ManualClock
from tests.cd_server import serving, wait_idle

FAST = RetryPolicy(attempts=3, timeout=10, wait_initial=0.01, wait_max=0.02, wait_jitter=0)
PUT = frozenset({"PUT"})


@pytest.fixture()
def swift(tmp_path: Path) -> SwiftApp:
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    return SwiftApp(ObjectStore(tmp_path / "data"), [SwiftAccount("bw", "secret", "bodyworn")],
                    clock=clock, token_ttl=timedelta(minutes=15))


@pytest.fixture()
def base(swift: SwiftApp) -> Iterator[str]:
    with serving(swift.app) as url:
        yield url


def _login(http: httpx.Client, base: str) -> tuple[str, dict[str, str]]:
    r = http.get(f"{base}/auth/v1.0", headers={"X-Auth-User": "bw", "X-Auth-Key": "secret"})
    assert r.status_code == 200
    return r.headers["X-Storage-Url"], {"X-Auth-Token": r.headers["X-Auth-Token"]}


def _stored(swift: SwiftApp, container: str, name: str) -> bytes | None:
    try:
        return swift.store.get_object("bodyworn", container, name).path.read_bytes()
    except NotFound:
        return None


def test_reset_drops_the_connection_before_anything_is_done(swift: SwiftApp, base: str) -> None:
    with httpx.Client(timeout=5) as http:
        storage, token = _login(http, base)
        assert http.put(f"{storage}/Devices", headers=token).status_code == 201
        swift.faults.append(FaultRule.reset("Devices/", methods=PUT, times=1))
        with pytest.raises(httpx.TransportError):
            http.put(f"{storage}/Devices/S1", headers=token, content=b"x" * 300_000)
        wait_idle(swift)
        assert _stored(swift, "Devices", "S1") is None
        # A HEAD has no body to cut: a reset still leaves the client without an answer.
        swift.faults.append(FaultRule.reset("Devices", methods=frozenset({"HEAD"}), times=1))
        with pytest.raises(httpx.TransportError):
            http.head(f"{storage}/Devices", headers=token)
        # Used up: the same requests work again.
        assert http.head(f"{storage}/Devices", headers=token).status_code == 204
        r = http.put(f"{storage}/Devices/S1", headers=token, content=b"y")
        assert r.status_code == 201 and _stored(swift, "Devices", "S1") == b"y"
        swift.faults.append(FaultRule.reset("auth", times=1))
        with pytest.raises(httpx.TransportError):
            _login(http, base)
    assert [(r.times, r.hits) for r in swift.faults] == [(0, 1), (0, 1), (0, 1)]


def test_cut_carries_the_request_out_but_loses_the_answer(swift: SwiftApp, base: str) -> None:
    body = bytes(range(256)) * 1000
    with httpx.Client(timeout=5) as http:
        storage, token = _login(http, base)
        http.put(f"{storage}/Devices", headers=token)
        swift.faults.append(FaultRule.cut("Devices/", times=3))
        with pytest.raises(httpx.TransportError):
            http.put(f"{storage}/Devices/S1", headers=token, content=body)
        wait_idle(swift)
        assert _stored(swift, "Devices", "S1") == body, "carried out although unanswered"
        # A GET gets its head and half the body its Content-Length promised, then nothing.
        received = bytearray()
        with pytest.raises(httpx.RemoteProtocolError), http.stream(
            "GET", f"{storage}/Devices/S1", headers=token
        ) as r:
            assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(body)
            for chunk in r.iter_bytes():
                received += chunk
        assert received == body[: len(body) // 2]
        with pytest.raises(httpx.TransportError):
            http.head(f"{storage}/Devices/S1", headers=token)
        assert http.get(f"{storage}/Devices/S1", headers=token).content == body


def test_slow_answers_time_out_and_a_patient_client_gets_them(
    swift: SwiftApp, base: str
) -> None:
    with httpx.Client(timeout=5) as http:
        storage, token = _login(http, base)
        http.put(f"{storage}/Devices", headers=token)
        swift.faults.append(FaultRule.slow("Devices/", 1.0, times=1))
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            http.put(f"{storage}/Devices/S1", headers=token, content=b"late",
                     timeout=httpx.Timeout(5, read=0.2))
        assert time.monotonic() - started < 0.9
        # The client hung up before the CD got round to it: nothing was stored.
        wait_idle(swift)
        assert _stored(swift, "Devices", "S1") is None
        swift.faults.append(FaultRule.slow("Devices/", 0.3, times=1))
        started = time.monotonic()
        r = http.put(f"{storage}/Devices/S1", headers=token, content=b"late")
        assert r.status_code == 201 and time.monotonic() - started >= 0.3
        assert _stored(swift, "Devices", "S1") == b"late"


def test_expire_tokens_makes_every_issued_token_invalid(swift: SwiftApp, base: str) -> None:
    with httpx.Client(timeout=5) as http:
        storage, first = _login(http, base)
        _, second = _login(http, base)
        assert http.put(f"{storage}/Devices", headers=first).status_code == 201
        swift.faults.append(FaultRule.expire_tokens("Devices", times=1))
        assert http.head(f"{storage}/Devices", headers=first).status_code == 401
        assert http.head(f"{storage}/Devices", headers=second).status_code == 401
        _, fresh = _login(http, base)
        assert http.head(f"{storage}/Devices", headers=fresh).status_code == 204
        assert swift.expire_tokens() == 1  # the fresh one; the others went already
        assert http.head(f"{storage}/Devices", headers=fresh).status_code == 401


def test_requests_are_counted_per_method_with_logins_and_faults(
    swift: SwiftApp, base: str
) -> None:
    with httpx.Client(timeout=5) as http:
        storage, token = _login(http, base)
        before = swift.requests.snapshot()
        http.put(f"{storage}/Devices", headers=token)
        http.head(f"{storage}/Devices", headers=token)
        swift.faults.append(FaultRule(503, "Devices", retry_after=1, times=1))
        r = http.head(f"{storage}/Devices", headers=token)
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        http.get(f"{base}/nowhere")
        _login(http, base)
        now = swift.requests.snapshot()
    assert before.total == 1 and before.logins == 1 and before.by_method == {"GET": 1}
    delta = now.since(before)
    assert delta.total == 5 and delta.logins == 1
    assert delta.by_method == {"PUT": 1, "HEAD": 2, "GET": 2}
    assert swift.requests.total == 6 and swift.requests.in_flight == 0


async def test_the_client_retries_resets_cuts_slowness_and_expiry(
    swift: SwiftApp, base: str
) -> None:
    conn = CDConnection(uris=(f"{base}/auth/v1.0",), user="bw", key="secret")
    swift.faults += [
        FaultRule.reset("Devices/S1", times=1),
        FaultRule.cut("Devices/S1", times=1),
        FaultRule.slow("Devices/S1", 1.0, times=1),
        FaultRule.expire_tokens("Devices/S1", times=1),
    ]
    retry = RetryPolicy(attempts=4, timeout=10, wait_initial=0.01, wait_max=0.02,
                        wait_jitter=0)
    async with CDClient(conn, retry=retry, timeout=0.3) as client:
        await client.put_device(CDDevice("S1", "Cam", "W110"))
        counted = swift.requests.snapshot()
        # Reset, cut and slow each cost a try and a new login (the client cannot tell a
        # refused token from a broken connection); expiry costs a 401 and a login.
        assert all(r.times == 0 for r in swift.faults)
        assert counted.logins == 1 + 3 + 1
        assert counted.by_method == {"GET": 5, "PUT": 1 + 4 + 1}  # container, tries, 401
        swift.faults.append(FaultRule.reset("Devices/S2", times=4))
        with pytest.raises(CDUnavailable, match="gave up after retries"):
            await client.put_device(CDDevice("S2", "Cam", "W110"))
        assert swift.requests.snapshot().since(counted).by_method.get("PUT", 0) <= 5
    assert _stored(swift, "Devices", "S1") == b""
    assert {r.kind for r in swift.faults} == set(FaultKind) - {FaultKind.STATUS}
