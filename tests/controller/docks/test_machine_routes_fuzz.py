"""The controller's side of the dock link (the two machine routes stations and readers use)
under hostile input: a corpus of bad events and taps, then Hypothesis drawing bodies.
Every request carries the dock port token, so the routes' own parsing is what is tested.

Derandomized in `make test`; random and time-boxed in `make fuzz` (tests/fuzzing.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import strategies as st

from bodyworn.controller.app import build_context, create_app
from bodyworn.controller.docks.service import ensure_token
from bodyworn.controller.settings import ControllerSettings
from bodyworn.domain.clock import ManualClock
from tests.controller.conftest import set_up
from tests.fuzzing import Findings, fuzz_settings, out_of_time, rounds

EVENTS, TAPS = "/docklink/v1/events", "/docklink/v1/rfid/taps"
# Nothing listens on port 9 of loopback: a station URL there fails at once.
CAMERA_URL = "http://127.0.0.1:9/docklink/v1/cameras/B8A44F000001"


@pytest.fixture(scope="module")
def machine() -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A set-up controller and the dock port token's Authorization header."""
    with TemporaryDirectory() as tmp:
        ctx = build_context(ControllerSettings(data_dir=Path(tmp)),
                            clock=ManualClock(datetime(2026, 11, 27, 8, tzinfo=UTC)))
        set_up(ctx, camera_assignment="self-assign")
        client = TestClient(create_app(ctx), base_url="https://testserver",
                            raise_server_exceptions=False)
        yield client, {"Authorization": f"Bearer {ensure_token(ctx.data_dir)}"}
        ctx.engine.dispose()


def _event(**change: Any) -> bytes:
    event = {"station_serial": "DOCK1", "bay": 0, "event": "dock",
             "camera_serial": "B8A44F000001", "camera_url": CAMERA_URL}
    return json.dumps({**event, **change}).encode()


DEEP = b"[" * 100_000 + b"]" * 100_000
CORPUS: list[tuple[str, str, bytes]] = [
    ("deep array", EVENTS, DEEP),
    ("deep object value", EVENTS, b'{"bay": ' + DEEP + b"}"),
    ("duplicate keys", EVENTS, b'{"event": "dock", "event": "undock"}'),
    ("nan bay", EVENTS, b'{"bay": NaN}'),
    ("not utf-8", EVENTS, b"\xff\xfe\x00"),
    ("not an object", EVENTS, b"[1]"),
    ("empty", EVENTS, b""),
    ("bay huge", EVENTS, _event(bay=10**30)),
    ("bay float", EVENTS, _event(bay=1.5)),
    ("serial nul", EVENTS, _event(camera_serial="\x00")),
    ("url without host", EVENTS, _event(camera_url="http:///docklink/v1/cameras/B8A44F000001")),
    ("url with a bad ipv6 host", EVENTS,
     _event(camera_url="http://[::1/docklink/v1/cameras/B8A44F000001")),
    ("url with nul", EVENTS, _event(camera_url="http://\x00/docklink/v1/cameras/B8A44F000001")),
    ("url with space", EVENTS, _event(camera_url="http://a b/docklink/v1/cameras/B8A44F000001")),
    ("url port too big", EVENTS,
     _event(camera_url="http://127.0.0.1:99999/docklink/v1/cameras/B8A44F000001")),
    ("url with credentials", EVENTS,
     _event(camera_url="http://u:p@127.0.0.1:9/docklink/v1/cameras/B8A44F000001")),
    ("url file scheme", EVENTS, _event(camera_url="file:///docklink/v1/cameras/B8A44F000001")),
    ("url very long", EVENTS, _event(camera_url="http://h/" + "a" * 600)),
    ("tap deep", TAPS, DEEP),
    ("tap duplicate", TAPS, b'{"tag": "a", "tag": "b"}'),
    ("tap not text", TAPS, b'{"tag": 5}'),
    ("tap extra", TAPS, b'{"tag": "125kHz:0123456789", "x": 1}'),
    ("tap tag long", TAPS, json.dumps({"tag": "1" * 1000}).encode()),
    ("tap tag junk", TAPS, json.dumps({"tag": "\x00:\x00"}).encode()),
]


@pytest.mark.parametrize(("path", "body"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_corpus_of_bad_machine_requests_is_refused(machine: tuple[TestClient, dict[str, str]],
                                                   path: str, body: bytes) -> None:
    client, token = machine
    r = client.post(path, content=body, headers={**token, "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])


# --- Hypothesis ------------------------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**20), 10**20),
                    st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(
    scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c,
                                                                  max_size=3),
    max_leaves=10)
hosts = st.sampled_from(["127.0.0.1:9", "[::1]:9", "localhost:9", "127.0.0.1:99999", "a b",
                         "[::1", "", "\x00", "é.invalid:9", "u:p@127.0.0.1:9", ":0"])
serials = st.one_of(st.just("B8A44F000001"), st.text(max_size=40))


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    serial = draw(serials)
    scheme = draw(st.sampled_from(["http", "https", "ftp", "HTTP"]))
    event: dict[str, Any] = {
        "station_serial": draw(st.one_of(st.just("DOCK1"), st.text(max_size=40))),
        "bay": draw(st.one_of(st.integers(-2, 70), json_values)),
        "event": draw(st.sampled_from(["dock", "undock", "eject", ""])),
        "camera_serial": serial,
        "camera_url": f"{scheme}://{draw(hosts)}/docklink/v1/cameras/{serial}",
    }
    drop = draw(st.sets(st.sampled_from(sorted(event)), max_size=2))
    extra = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2))
    return {**{k: v for k, v in event.items() if k not in drop}, **extra}


bodies = st.one_of(
    events().map(lambda e: (EVENTS, json.dumps(e).encode())),
    st.dictionaries(st.sampled_from(["tag", "reader"]) | st.text(max_size=6), json_values,
                    max_size=3).map(lambda t: (TAPS, json.dumps(t).encode())),
    st.tuples(st.sampled_from([EVENTS, TAPS]), st.binary(max_size=200)),
)


@pytest.mark.fuzz
def test_no_body_makes_the_machine_routes_fail(machine: tuple[TestClient, dict[str, str]]
                                               ) -> None:
    client, token = machine
    findings = Findings("docklink-controller")

    @fuzz_settings(200)
    @given(bodies, st.sampled_from(["application/json", "text/plain", ""]))
    @example((EVENTS, _event(camera_url="http://[::1/docklink/v1/cameras/B8A44F000001")),
             "application/json")
    @example((EVENTS, DEEP), "")
    def check(request: tuple[str, bytes], content_type: str) -> None:
        if out_of_time():
            return
        path, body = request
        headers = {**token, **({"Content-Type": content_type} if content_type else {})}
        r = client.post(path, content=body, headers=headers)
        findings.sent()
        if r.status_code >= 500:
            findings.server_error(r.status_code, path=path, body=body[:2000],
                                  answer=r.text[:300])

    rounds([check], findings)
