"""The camera side of the dock link under hostile input: a corpus of bad requests, then
Hypothesis drawing signed and unsigned requests for every operation. Every request gets
an answer below 500 (a dropped connection counts as a failure too).

Derandomized in `make test`; random and time-boxed in `make fuzz` (tests/fuzzing.py).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bodyworn.controller.identity.keys import generate_identity_keypair
from bodyworn.devices.camera import Camera
from bodyworn.devices.docking import DockingStation, DockModel
from bodyworn.devices.docklink_server import MAX_BODY, DockLinkServer
from bodyworn.devices.video import ClipRenderer
from bodyworn.docklink import wire as proto
from bodyworn.docklink.client import DockLinkClient, Identity, sign_headers
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.profile import CameraProfile
from tests.devices.factories import new_camera
from tests.fuzzing import Findings, fuzz_settings, out_of_time, rounds

SYSTEM_ID = "sys-fuzz"
PROFILE = CameraProfile(name="Patrol", max_clip_length=timedelta(seconds=20),
                        pre_buffer=timedelta(seconds=2))


@dataclass
class Link:
    """One camera with a recording, in a station served on loopback, and the identity."""

    camera: Camera
    clock: ManualClock
    link_clock: ManualClock
    server: DockLinkServer
    identity: Identity
    public_pem: str
    clips: list[str]

    @property
    def target(self) -> str:
        return f"{proto.PREFIX}/cameras/{self.camera.serial}"

    def client(self) -> DockLinkClient:
        return DockLinkClient(self.server.camera_url(self.camera.serial), self.identity,
                              clock=self.link_clock)

    def restore(self) -> None:
        """Undo what a drawn request may have done: reset, lock, a far clock."""
        with self.server.lock:
            self.server._links.pop(self.camera.serial, None)  # a pushed time offset
            shipping, locked = self.camera.shipping_mode, self.camera.locked
        client = self.client()
        try:
            if shipping:
                client.add_to_system(SYSTEM_ID, self.public_pem)
            if locked:
                client.unlock()
        finally:
            client.close()


@pytest.fixture(scope="module")
def link(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Link]:
    folder: Path = tmp_path_factory.mktemp("docklink-fuzz")
    clock = ManualClock()
    camera, _ = new_camera(clock, clip_sink=ClipRenderer(folder / "camera"))
    station = DockingStation("DOCKFUZZ", DockModel.W700)
    station.connect("controller")
    station.insert(camera)
    link_clock = ManualClock(clock.now())
    private, public = generate_identity_keypair()
    server = DockLinkServer(station, link_clock=link_clock).start()
    identity = Identity(SYSTEM_ID, private)
    client = DockLinkClient(server.camera_url(camera.serial), identity, clock=link_clock)
    client.add_to_system(SYSTEM_ID, public.decode())
    client.configure(profile=PROFILE, user_id="officer-1")
    clock.advance(timedelta(seconds=30))
    station.take(camera)
    clock.advance(timedelta(seconds=30))
    assert camera.start_recording() is not None
    clock.advance(timedelta(seconds=25))
    camera.stop_recording()
    station.insert(camera)
    clock.advance(timedelta(seconds=30))
    clips = [c.name for r in client.manifest().recordings for c in r.clips]
    client.close()
    assert clips
    try:
        yield Link(camera, clock, link_clock, server, identity, public.decode(), clips)
    finally:
        server.stop()


def send(link: Link, method: str, suffix: str, body: bytes = b"", *, signed: bool = True,
         headers: dict[str, str] | None = None, length: str | None = None,
         chunked: bool = False) -> int:
    """One raw request; the status, or 0 when the camera dropped the connection unanswered."""
    parts = urlsplit(link.server.url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    target = link.target + suffix
    sent = dict(headers or {})
    if signed:
        sent = {**sign_headers(link.identity, method, target, body, clock=link.link_clock),
                **sent}
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in sent.items():
            connection.putheader(name, value.encode("latin-1", "replace"))
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        else:
            connection.putheader("Content-Length", length if length is not None
                                 else str(len(body)))
        connection.endheaders()
        if body and not chunked and length is None:
            connection.send(body)
        return connection.getresponse().status
    except (TimeoutError, ConnectionError, http.client.HTTPException):
        return 0
    finally:
        connection.close()


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


DEEP = b"[" * 100_000 + b"]" * 100_000
# (name, method, suffix, body, options) -> refused with a 4xx ("answered": any status < 500)
CORPUS: list[tuple[str, str, str, bytes, dict[str, Any]]] = [
    ("deep json config", "PUT", "/config", DEEP, {}),
    ("deep json profile", "PUT", "/config", b'{"profile": ' + DEEP + b"}", {}),
    ("duplicate keys", "PUT", "/config", b'{"user_id": "a", "user_id": "b"}', {}),
    ("nan", "PUT", "/config", b'{"profile": {"pre_buffer": NaN}}', {}),
    ("not utf-8", "PUT", "/config", b"\xff\xfe", {}),
    ("array not object", "PUT", "/config", b"[1, 2]", {}),
    ("pre-buffer 1e300", "PUT", "/config", _json({"profile": {"pre_buffer": 1e300}}), {}),
    ("clip length 10^15", "PUT", "/config",
     _json({"profile": {"max_clip_length": 10**15}}), {}),
    ("reminder as text", "PUT", "/config", _json({"profile": {"periodic_reminder": "60"}}), {}),
    ("overlay not a list", "PUT", "/config", _json({"profile": {"overlay": 5}}), {}),
    ("time year one", "PUT", "/config", _json({"time": "0001-01-01T00:00:00+01:00"}), {}),
    ("time year 9999", "PUT", "/config", _json({"time": "9999-12-31T23:59:59-01:00"}), {}),
    ("time naive", "PUT", "/config", _json({"time": "2026-01-01T00:00:00"}), {}),
    ("time zone path", "PUT", "/config", _json({"timezone": "../../../etc/passwd"}), {}),
    ("time zone nul", "PUT", "/config", _json({"timezone": "Europe/\x00"}), {}),
    ("categories nested", "PUT", "/config", _json({"categories": [[["x"]]]}), {}),
    ("user id nul", "PUT", "/config", _json({"user_id": "\x00"}), {}),
    ("holster wrong", "PUT", "/config", _json({"holster": 123456}), {}),
    ("self-assign profile junk", "POST", "/self-assign",
     _json({"user_id": "u", "profile": {"name": 5}}), {}),
    ("self-assign no user", "POST", "/self-assign", _json({"profile": None}), {}),
    ("add again", "POST", "/add", _json({"system_id": "x", "identity_public_key": "junk"}), {}),
    ("unlock not locked", "POST", "/unlock", _json({"signature": "é"}), {}),
    ("delete without challenge", "DELETE", "/clips/CLIP",
     _json({"sha256": "0", "challenge": "x", "confirmation": "é"}), {}),
    ("delete unknown clip", "DELETE", "/clips/nothing.mkv", b"{}", {}),
    ("clip range beyond", "GET", "/clips/CLIP", b"",
     {"headers": {"Range": "bytes=99999999999999999999-"}}),
    ("clip range reversed", "GET", "/clips/CLIP", b"", {"headers": {"Range": "bytes=9-1"}}),
    # A server may ignore a Range it does not serve and send the whole clip.
    ("clip range many", "GET", "/clips/CLIP", b"", {"headers": {"Range": "bytes=0-1,2-3"},
                                                    "answered": True}),
    ("clip name nul", "GET", "/clips/a%00b", b"", {}),
    ("clip name long", "GET", "/clips/" + "a" * 5000, b"", {}),
    ("firmware no version", "POST", "/firmware", b"image", {}),
    ("firmware version junk", "POST", "/firmware?version=1.2.3.4.5.6", b"image", {}),
    ("firmware two versions", "POST", "/firmware?version=1.0&version=2.0", b"image", {}),
    ("firmware empty", "POST", "/firmware?version=1.0", b"", {}),
    ("body over the limit", "PUT", "/config", b"", {"length": str(MAX_BODY + 1)}),
    ("negative length", "PUT", "/config", b"", {"length": "-5"}),
    ("length not a number", "PUT", "/config", b"", {"length": "12abc"}),
    ("length unicode digits", "PUT", "/config", b"", {"length": "²"}),
    ("length enormous", "PUT", "/config", b"", {"length": "9" * 40}),
    ("chunked body", "PUT", "/config", b"", {"chunked": True}),
    ("unsigned", "GET", "", b"", {"signed": False}),
    ("timestamp junk", "GET", "", b"",
     {"headers": {proto.HEADER_TIMESTAMP: "0001-01-01T00:00:00+01:00"}}),
    ("timestamp unicode", "GET", "", b"", {"headers": {proto.HEADER_TIMESTAMP: "２０２６"}}),
    ("nonce short", "GET", "", b"", {"headers": {proto.HEADER_NONCE: "x"}}),
    ("signature not base64", "GET", "", b"", {"headers": {proto.HEADER_SIGNATURE: "!!"}}),
    ("body hash wrong", "PUT", "/config", b"{}",
     {"headers": {proto.HEADER_CONTENT_SHA256: "0" * 64}}),
    ("unknown operation", "PATCH", "/config", b"{}", {}),
    ("head", "HEAD", "", b"", {}),
    ("options", "OPTIONS", "", b"", {}),
    ("path junk", "GET", "/%ff%00/..", b"", {}),
]


def _suffix(link: Link, suffix: str) -> str:
    return suffix.replace("CLIP", quote(link.clips[0]))


@pytest.mark.parametrize(("method", "suffix", "body", "options"), [c[1:] for c in CORPUS],
                         ids=[c[0] for c in CORPUS])
def test_corpus_of_bad_requests_is_refused_cleanly(link: Link, method: str, suffix: str,
                                                   body: bytes, options: dict[str, Any]) -> None:
    link.restore()
    options = dict(options)
    lowest = 200 if options.pop("answered", False) else 400
    status = send(link, method, _suffix(link, suffix), body, **options)
    assert lowest <= status < 500, status
    link.restore()
    assert link.client().info().system_id == SYSTEM_ID  # still answering, still ours


def test_station_paths_outside_any_camera_are_not_found(link: Link) -> None:
    for path in ("/", "/docklink/v1/station/x", "/docklink/v1/cameras", "/%00"):
        connection = http.client.HTTPConnection(urlsplit(link.server.url).hostname,
                                                urlsplit(link.server.url).port, timeout=10)
        connection.request("GET", path)
        assert connection.getresponse().status == 404
        connection.close()


# --- Hypothesis ------------------------------------------------------------------------------

OPERATIONS = [("GET", ""), ("POST", "/add"), ("GET", "/recordings"), ("GET", "/clips/CLIP"),
              ("POST", "/clips/CLIP/challenge"), ("DELETE", "/clips/CLIP"), ("PUT", "/config"),
              ("POST", "/firmware"), ("POST", "/lock"), ("GET", "/unlock-challenge"),
              ("POST", "/unlock"), ("POST", "/factory-reset"), ("POST", "/self-assign")]
KEYS = ["profile", "user_id", "time", "timezone", "categories", "holster", "system_id",
        "identity_public_key", "signature", "sha256", "challenge", "confirmation",
        "pre_buffer", "max_clip_length", "periodic_reminder", "resolution", "overlay", "name",
        "audio", "notification"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False), st.text(max_size=30),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "2026-03-01T08:00:00Z", "UTC",
                     "Europe/Stockholm", "1080p", "user_id", "123456", "", "\x00"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5),
    max_leaves=12,
)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6).map(_json),
    json_values.map(_json),
    st.binary(max_size=200),
)
header_tweaks = st.dictionaries(
    st.sampled_from([proto.HEADER_TIMESTAMP, proto.HEADER_NONCE, proto.HEADER_SIGNATURE,
                     proto.HEADER_SYSTEM, proto.HEADER_CONTENT_SHA256, "Range"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40),
    max_size=2,
)


@st.composite
def link_requests(draw: st.DrawFn) -> dict[str, Any]:
    method, suffix = draw(st.sampled_from(OPERATIONS))
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(["GET", "PUT", "POST", "DELETE", "PATCH"]))
    if suffix == "/firmware":
        suffix += "?version=" + quote(draw(st.sampled_from(["1.0", "9.9.9.9", "x"])
                                           | st.text(max_size=10)), safe="")
    if "CLIP" in suffix and draw(st.booleans()):
        suffix = suffix.replace("CLIP", quote(draw(st.text(min_size=1, max_size=20)), safe=""))
    return {"method": method, "suffix": suffix, "body": draw(bodies),
            "signed": draw(st.integers(0, 9)) > 0, "headers": draw(header_tweaks)}


@pytest.mark.fuzz
def test_no_request_makes_the_camera_fail(link: Link) -> None:
    findings = Findings("docklink-camera")

    @fuzz_settings(150)
    @given(link_requests())
    @example({"method": "PUT", "suffix": "/config", "body": DEEP, "signed": True,
              "headers": {}})
    @example({"method": "PUT", "suffix": "/config", "signed": True, "headers": {},
              "body": _json({"profile": {"pre_buffer": 1e300}})})
    @example({"method": "PUT", "suffix": "/config", "signed": True, "headers": {},
              "body": _json({"time": "0001-01-01T00:00:00+01:00"})})
    @example({"method": "GET", "suffix": "", "body": b"", "signed": True,
              "headers": {proto.HEADER_TIMESTAMP: "0001-01-01T00:00:00+01:00"}})
    def check(request: dict[str, Any]) -> None:
        if out_of_time():
            return
        link.restore()
        findings.sent()
        status = send(link, request["method"], _suffix(link, request["suffix"]),
                      request["body"], signed=request["signed"], headers=request["headers"])
        if status >= 500 or status == 0:
            findings.server_error(status, **request)

    rounds([check], findings)
