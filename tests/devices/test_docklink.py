"""The dock link end to end over loopback: a real stdlib server, the real httpx client."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bodyworn.controller.identity.keys import generate_identity_keypair
from bodyworn.devices.camera import Camera
from bodyworn.devices.docking import DockingStation, DockModel
from bodyworn.devices.docklink_server import DockLinkServer, LinkError, parse_range
from bodyworn.devices.gnss import Receiver, Route, Waypoint
from bodyworn.devices.video import ClipRenderer
from bodyworn.docklink import wire as proto
from bodyworn.docklink.client import DockLinkClient, DockLinkError, Identity, sign_headers
from bodyworn.docklink.messages import CameraInfo, DeleteResult, HolsterLink
from bodyworn.docklink.signing import sign_with_pem
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.profile import CameraProfile
from tests.devices.factories import new_camera
from tests.devices.media import probe

SYSTEM_ID = "sys-dock-link"
PROFILE = CameraProfile(
    name="Patrol", location_data=True, fall_detection=True,
    max_clip_length=timedelta(seconds=40), pre_buffer=timedelta(seconds=5),
)


@dataclass
class Rig:
    """A camera in a 1-bay station served on loopback, and the system's identity."""

    camera: Camera
    clock: ManualClock
    link_clock: ManualClock
    station: DockingStation
    server: DockLinkServer
    identity: Identity
    public_pem: str

    def client(self, identity: Identity | str | None = "ours", clock: ManualClock | None = None
               ) -> DockLinkClient:
        """A client signing as `identity` ("ours": the system's; None: unsigned)."""
        return DockLinkClient(
            self.server.camera_url(self.camera.serial),
            self.identity if identity == "ours" else identity,  # type: ignore[arg-type]
            clock=clock or self.link_clock,
        )

    def record(self, seconds: int = 90) -> None:
        """Take the camera out, record `seconds` outdoors on a route, tag it, dock it."""
        self.station.take(self.camera)
        # Start-up (20 s) and a cold GNSS first fix (35 s) before the trigger.
        self.clock.advance(timedelta(seconds=60))
        recording = self.camera.start_recording()
        assert recording is not None
        self.clock.advance(timedelta(seconds=seconds))
        self.camera.stop_recording()
        self.camera.add_category(recording.id, "Traffic")
        self.camera.add_note(recording.id, "Speeding at the gate.")
        self.station.insert(self.camera)
        self.clock.advance(timedelta(seconds=30))


def _keypair() -> tuple[bytes, str]:
    private, public = generate_identity_keypair()
    return private, public.decode()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    clock = ManualClock()
    route = Route([
        Waypoint(clock.now(), 59.3293, 18.0686),
        Waypoint(clock.now() + timedelta(hours=1), 59.3326, 18.0649),
    ])
    camera, _ = new_camera(clock, clip_sink=ClipRenderer(tmp_path / "camera"),
                           gnss=Receiver(route))
    from bodyworn.devices.environment import Environment

    camera.set_environment(Environment(outdoor=True))
    station = DockingStation("DOCK0001", DockModel.W700)
    station.connect("controller")
    station.insert(camera)
    link_clock = ManualClock(clock.now())
    private, public = _keypair()
    server = DockLinkServer(station, link_clock=link_clock).start()
    try:
        yield Rig(camera, clock, link_clock, station, server, Identity(SYSTEM_ID, private), public)
    finally:
        server.stop()


def _added(rig: Rig) -> DockLinkClient:
    client = rig.client()
    client.add_to_system(SYSTEM_ID, rig.public_pem)
    client.configure(profile=PROFILE, user_id="officer-17", categories=["Traffic", "Incident"],
                     timezone="Europe/Stockholm")
    rig.clock.advance(timedelta(seconds=30))
    return client


def _refused(call: object, status: int, reason: str) -> DockLinkError:
    assert callable(call)
    with pytest.raises(DockLinkError) as caught:
        call()
    assert (caught.value.status, caught.value.reason) == (status, reason), caught.value
    return caught.value


def test_shipping_mode_answers_info_and_add_only(rig: Rig) -> None:
    anyone = rig.client(identity=None)
    info = anyone.info()
    assert info.shipping_mode and info.serial == rig.camera.serial
    assert info.model == rig.camera.model and str(info.leds["docking"]) == "flashing amber"
    _refused(anyone.manifest, 403, "shipping_mode")
    client = _added(rig)
    info = client.info()
    assert info.system_id == SYSTEM_ID and info.user_id == "officer-17"
    assert info.timezone == "Europe/Stockholm" and info.profile == PROFILE
    assert info.categories == ("Traffic", "Incident")
    assert 0 < info.battery.charge <= 1 and info.storage.used_bytes >= 0
    # What the camera sends is exactly what the typed info writes back.
    raw = client.send("GET").json()
    assert CameraInfo.from_json(raw).to_json() == raw
    # Once added, the same unsigned request is refused, and a second add too.
    _refused(anyone.info, 403, "unsigned")
    _refused(lambda: client.add_to_system(SYSTEM_ID, rig.public_pem), 409, "already_added")


def test_manifest_lists_clips_and_metadata(rig: Rig) -> None:
    client = _added(rig)
    rig.record(seconds=90)
    manifest = client.manifest()
    [recording] = manifest.recordings
    assert recording.user_id == "officer-17" and recording.trigger == "button"
    assert recording.categories == ("Traffic",)
    assert recording.notes == ("Speeding at the gate.",)
    assert recording.trigger_on and recording.trigger_off
    assert recording.trigger_on_location is not None
    assert recording.trigger_on_location.latitude == pytest.approx(59.33, abs=0.01)
    assert recording.gnss_track and recording.timezone == "Europe/Stockholm"
    clips = recording.clips
    assert len(clips) >= 3  # 95 s (pre-buffer included) split every 40 s
    for clip in clips:
        path = rig.camera.recordings[0].clips[clip.index].path
        assert path is not None and path.name == clip.name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == clip.sha256
        assert path.stat().st_size == clip.size
        found = probe(path)
        assert found.streams["video"] == "h264"
        assert found.duration == pytest.approx(clip.duration_s, abs=0.2)
    # The JSON on the wire is what the typed manifest writes, byte for byte.
    raw = client.send("GET", "/recordings").content
    assert raw == json.dumps(manifest.to_json(), separators=(",", ":")).encode()


def test_ranged_reads_resume_a_download(rig: Rig, tmp_path: Path) -> None:
    client = _added(rig)
    rig.record(seconds=30)
    clip = client.manifest().clips[0]
    head = client.read_clip(clip.name, 0, 99)
    whole = client.read_clip(clip.name)
    assert len(head) == 100 and whole[:100] == head and len(whole) == clip.size
    assert client.read_clip(clip.name, clip.size - 10) == whole[-10:]
    response = client.send("GET", f"/clips/{clip.name}", headers={"Range": "bytes=-5"})
    assert response.status_code == 206 and response.content == whole[-5:]
    assert response.headers["Content-Range"] == f"bytes {clip.size - 5}-{clip.size - 1}/" \
        f"{clip.size}"
    _refused(lambda: client.read_clip(clip.name, clip.size + 1), 416, "bad_range")
    # A cut download resumes from where it stopped and ends equal to the manifest.
    partial = tmp_path / "partial.mkv"
    partial.write_bytes(whole[:1000])
    client.download_clip(clip.name, partial, sha256=clip.sha256, size=clip.size)
    assert partial.read_bytes() == whole
    # A corrupt partial file is caught by the sha256 and removed.
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(b"x" * 1000)
    with pytest.raises(ValueError):
        client.download_clip(clip.name, bad, sha256=clip.sha256, size=clip.size)
    assert not bad.exists()


def test_open_clip_splices_or_reads_the_body_from_any_offset(rig: Rig, tmp_path: Path) -> None:
    client = _added(rig)
    rig.record(seconds=30)
    clip = client.manifest().clips[0]
    whole = client.read_clip(clip.name)
    target = tmp_path / "spliced.bin"
    for offset in (0, 1000):
        with client.open_clip(clip.name, offset) as stream, target.open("w+b") as fh:
            assert stream.can_splice()
            at = offset
            while n := stream.splice_into(fh.fileno(), at, 64 * 1024):
                at += n
        assert target.read_bytes()[offset:] == whole[offset:]
        assert at == len(whole)
        # The same through caller buffers.
        got = bytearray()
        with client.open_clip(clip.name, offset) as stream:
            buf = bytearray(10_000)
            while n := stream.readinto(memoryview(buf)):
                got += buf[:n]
        assert bytes(got) == whole[offset:]
    _refused(lambda: client.open_clip("no-such-clip.mkv"), 404, "no_clip")


def test_range_header_parsing() -> None:
    assert parse_range(None, 10) is None
    assert parse_range("bytes=2-4", 10) == (2, 4)
    assert parse_range("bytes=2-", 10) == (2, 9)
    assert parse_range("bytes=-3", 10) == (7, 9)
    assert parse_range("bytes=5-50", 10) == (5, 9)
    assert parse_range("bytes=1-2,4-5", 10) is None  # several ranges: served whole
    for header in ("bytes=10-", "bytes=4-2", "bytes=-0"):
        with pytest.raises(LinkError):
            parse_range(header, 10)


def test_deletion_needs_the_systems_signed_confirmation(rig: Rig) -> None:
    client = _added(rig)
    rig.record(seconds=20)
    [recording] = client.manifest().recordings
    [clip] = recording.clips
    name, sha = clip.name, clip.sha256
    path = rig.camera.recordings[0].clips[0].path
    assert path is not None

    # Unsigned: refused before anything else.
    unsigned = rig.client(identity=None)
    _refused(lambda: unsigned.delete_challenge(name), 403, "unsigned")
    _refused(lambda: unsigned.confirm_delete(name, sha, "c" * 32, "AAAA"), 403, "unsigned")
    # Signed request, but the confirmation is signed by some other key.
    other_private, _ = _keypair()
    challenge = client.delete_challenge(name).challenge
    forged = proto.b64encode(sign_with_pem(
        other_private, proto.delete_base(rig.camera.serial, name, sha, challenge)
    ))
    _refused(lambda: client.confirm_delete(name, sha, challenge, forged), 403, "bad_confirmation")
    # The challenge was spent on that attempt.
    good = proto.b64encode(sign_with_pem(
        rig.identity.private_key_pem, proto.delete_base(rig.camera.serial, name, sha, challenge)
    ))
    _refused(lambda: client.confirm_delete(name, sha, challenge, good), 403, "bad_challenge")
    # The right key, but over another clip's hash.
    challenge = client.delete_challenge(name).challenge
    wrong_sha = "0" * 64
    signed_wrong = proto.b64encode(sign_with_pem(
        rig.identity.private_key_pem,
        proto.delete_base(rig.camera.serial, name, wrong_sha, challenge),
    ))
    _refused(lambda: client.confirm_delete(name, wrong_sha, challenge, signed_wrong),
             409, "sha256_mismatch")
    # A challenge for another clip name does not carry over.
    _refused(lambda: client.confirm_delete(name, sha, "made-up", good), 403, "bad_challenge")
    assert path.exists() and client.manifest().recordings[0].clips == (clip,)

    answer = client.delete_clip(name, sha)
    assert answer == DeleteResult(deleted=name, recording=recording.id, recording_complete=True)
    assert not path.exists() and client.manifest().recordings == ()
    assert rig.camera.recordings == [] and rig.camera.storage.used_bytes == pytest.approx(0)
    _refused(lambda: client.delete_clip(name, sha), 404, "no_clip")


def test_a_camera_refuses_a_controller_of_another_system(rig: Rig) -> None:
    _added(rig)
    private, _ = _keypair()
    stranger = rig.client(identity=Identity("sys-other", private))
    error = _refused(stranger.info, 403, "wrong_system")
    assert "another system" in error.message
    # Claiming our system id does not help without our key.
    impostor = rig.client(identity=Identity(SYSTEM_ID, private))
    _refused(impostor.manifest, 403, "bad_signature")
    _refused(lambda: impostor.configure(user_id="mallory"), 403, "bad_signature")
    assert rig.camera.user_id == "officer-17"


def _raw(rig: Rig, method: str, suffix: str, body: bytes, headers: dict[str, str]
         ) -> httpx.Response:
    url = rig.server.camera_url(rig.camera.serial) + suffix
    return httpx.request(method, url, content=body, headers=headers)


def test_replayed_nonce_skewed_clock_and_changed_body_are_refused(rig: Rig) -> None:
    client = _added(rig)
    target = f"{proto.PREFIX}/cameras/{rig.camera.serial}"
    headers = sign_headers(rig.identity, "GET", target, b"", clock=rig.link_clock,
                           nonce="n" * 24)
    assert _raw(rig, "GET", "", b"", headers).status_code == 200
    replay = _raw(rig, "GET", "", b"", headers)
    assert replay.status_code == 403 and replay.json()["reason"] == "replayed_nonce"

    late = ManualClock(rig.link_clock.now() + timedelta(minutes=6))
    _refused(rig.client(clock=late).info, 403, "stale_timestamp")
    early = ManualClock(rig.link_clock.now() - timedelta(minutes=6))
    _refused(rig.client(clock=early).info, 403, "stale_timestamp")
    within = ManualClock(rig.link_clock.now() + timedelta(minutes=4))
    assert rig.client(clock=within).info().serial == rig.camera.serial

    body = json.dumps({"user_id": "officer-17"}).encode()
    headers = sign_headers(rig.identity, "PUT", f"{target}/config", body, clock=rig.link_clock)
    tampered = _raw(rig, "PUT", "/config", json.dumps({"user_id": "mallory"}).encode(), headers)
    assert tampered.status_code == 403 and tampered.json()["reason"] == "body_mismatch"
    # The signature covers the path: a request signed for one operation cannot be another.
    headers = sign_headers(rig.identity, "POST", f"{target}/lock", b"", clock=rig.link_clock)
    moved = _raw(rig, "POST", "/factory-reset", b"", headers)
    assert moved.status_code == 403 and moved.json()["reason"] == "bad_signature"
    assert rig.camera.user_id == "officer-17" and not rig.camera.shipping_mode
    assert client.info().user_id == "officer-17"


def test_time_push_moves_the_cameras_link_clock(rig: Rig) -> None:
    client = _added(rig)
    ahead = rig.link_clock.now() + timedelta(minutes=6)
    info = client.configure(time=ahead)
    assert info.time_offset_s == pytest.approx(360, abs=1)
    # The camera now runs 6 minutes ahead: a controller 8 minutes ahead is within its
    # window, one at the old time is not.
    later = ManualClock(rig.link_clock.now() + timedelta(minutes=8))
    assert rig.client(clock=later).info().serial == rig.camera.serial
    _refused(client.info, 403, "stale_timestamp")


def test_bad_configuration_changes_nothing(rig: Rig) -> None:
    client = _added(rig)
    before = client.info()
    for body, reason in [
        ({"timezone": "UTC", "profile": {"resolution": "4k"}}, "bad_profile"),
        ({"timezone": "Mars/Olympus"}, "bad_timezone"),
        ({"categories": "Traffic"}, "bad_categories"),
        ({"user_id": ""}, "bad_user"),
        ({"colour": "blue"}, "bad_config"),
        ({"profile": {"assisted_gnss": True, "location_data": False}}, "bad_profile"),
    ]:
        data = json.dumps(body).encode()
        _refused(lambda data=data: client.send("PUT", "/config", body=data), 400, reason)
    after = client.info()
    for key in ("timezone", "profile", "categories", "user_id"):
        assert getattr(after, key) == getattr(before, key)


def test_lock_unlock_firmware_and_factory_reset(rig: Rig) -> None:
    client = _added(rig)
    assert client.lock().locked
    _refused(client.manifest, 423, "locked")
    _refused(lambda: client.configure(timezone="UTC"), 423, "locked")
    private, _ = _keypair()
    impostor_unlock = rig.client(identity=Identity(SYSTEM_ID, private))
    _refused(impostor_unlock.unlock, 403, "bad_signature")
    # Our own signed request carrying an answer to the challenge signed by another key.
    challenge = client.send("GET", "/unlock-challenge").json()["challenge"]
    wrong = proto.b64encode(sign_with_pem(private, challenge.encode()))
    body = json.dumps({"signature": wrong}).encode()
    _refused(lambda: client.send("POST", "/unlock", body=body), 403, "bad_unlock")
    assert not client.unlock().locked
    _refused(client.unlock, 409, "not_locked")

    answer = client.push_firmware("10.3.0.1", b"\x7fBWFW" + bytes(1000))
    assert answer.firmware == "10.3.0.1"
    assert answer.image_sha256 == hashlib.sha256(b"\x7fBWFW" + bytes(1000)).hexdigest()
    info = client.info()
    assert info.firmware == "10.3.0.1" and info.busy
    _refused(lambda: client.push_firmware("latest", b"x"), 400, "bad_firmware")
    _refused(lambda: client.push_firmware("10.3.0.2", b""), 400, "bad_firmware")

    rig.record(seconds=15)
    _refused(client.factory_reset, 409, "camera_refused")  # recordings not offloaded yet
    for clip in client.manifest().clips:
        client.delete_clip(clip.name, clip.sha256)
    assert client.factory_reset().shipping_mode
    # Back in shipping mode the camera can join another system.
    private, public = _keypair()
    other = rig.client(identity=Identity("sys-new", private))
    assert other.add_to_system("sys-new", public).system_id == "sys-new"
    _refused(client.info, 403, "wrong_system")


def test_a_camera_not_in_the_station_or_an_unlinked_station_is_unreachable(rig: Rig) -> None:
    client = _added(rig)
    rig.station.take(rig.camera)
    _refused(client.info, 404, "not_docked")
    rig.station.insert(rig.camera)
    rig.station.disconnect()
    _refused(client.info, 503, "no_link")
    rig.station.connect("controller")
    # Just docked: info answers, offload waits for the restart.
    _refused(client.manifest, 503, "restarting")
    rig.clock.advance(timedelta(seconds=30))
    assert client.manifest().recordings == ()
    station = httpx.get(f"{rig.server.url}{proto.PREFIX}/station").json()
    assert station["bays"][0]["camera_url"] == client.camera_url


def test_profiles_round_trip_through_json() -> None:
    assert proto.profile_from_json(proto.profile_to_json(PROFILE)) == PROFILE
    assert proto.profile_from_json({}) == CameraProfile()


def test_holster_serial_is_configured_and_reported(rig: Rig) -> None:
    client = _added(rig)
    info = client.configure(holster="123456")
    assert info.holster == HolsterLink(serial="123456", state="none")
    assert rig.camera.expected_holster == "123456"
    _refused(lambda: client.configure(holster="12345"), 400, "bad_holster")
    assert client.configure(holster=None).holster.serial is None


def test_self_assign_gives_the_user_and_flashes_green(rig: Rig) -> None:
    from bodyworn.domain.led import FLASHING_GREEN

    client = _added(rig)
    client.configure(user_id=None)
    info = client.self_assign("officer-9", PROFILE)
    assert info.user_id == "officer-9"
    assert set(rig.camera.feedback().leds.values()) == {FLASHING_GREEN}
    _refused(lambda: client._json("POST", "/self-assign", {"user_id": ""}), 400, "bad_user")
    rig.camera.lock()
    _refused(lambda: client.self_assign("officer-9", PROFILE), 423, "locked")


def test_event_reporter_sends_the_dock_port_token() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from bodyworn.devices.docklink_server import EventReporter

    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.headers.get("Authorization"))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    station = DockingStation("DOCK0007", DockModel.W700)
    server = DockLinkServer(station).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    reporter = EventReporter(station, server, url, token="s3cret")
    try:
        station.connect(url)
        camera, _ = new_camera()
        station.insert(camera)
        reporter.flush()
        assert seen == ["Bearer s3cret"] and reporter.sent
    finally:
        reporter.close()
        server.stop()
        httpd.shutdown()
        httpd.server_close()


def test_events_wait_for_a_controller_that_is_down_and_reach_it_when_it_is_back() -> None:
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from bodyworn.devices.docklink_server import EventReporter

    seen: list[str] = []
    problems: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            import json as json_mod

            body = json_mod.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(f"{body['event']} {body['camera_serial']}")
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            return

    with socket.socket() as probe:  # a port nothing listens on yet: the controller is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    station = DockingStation("DOCK0008", DockModel.W700)
    server = DockLinkServer(station).start()
    reporter = EventReporter(station, server, url, attempts=3, max_wait=0.2,
                             on_error=problems.append)
    httpd = None
    try:
        station.connect(url)
        camera, _ = new_camera()
        station.insert(camera)
        station.take(camera)
        assert not reporter.flush(timeout=1.0), "delivered to a controller that is down?"
        assert problems and "still trying" in problems[0]
        httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        assert reporter.flush(timeout=10.0)
        assert seen == [f"dock {camera.serial}", f"undock {camera.serial}"]  # in order
        assert reporter.failed == [] and len(reporter.sent) == 2
    finally:
        reporter.close()
        server.stop()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()


def test_a_station_server_stopped_from_two_threads_at_once_stops_once() -> None:
    import threading

    server = DockLinkServer(DockingStation("DOCK0009", DockModel.W700)).start()
    errors: list[BaseException] = []

    def stop() -> None:
        try:
            server.stop()
        except BaseException as exc:
            errors.append(exc)

    stoppers = [threading.Thread(target=stop) for _ in range(4)]
    for t in stoppers:
        t.start()
    for t in stoppers:
        t.join(10)
    server.stop()
    assert errors == []


def test_the_cameras_log_is_read_over_the_link(rig: Rig) -> None:
    anyone = rig.client(identity=None)
    client = _added(rig)
    _refused(lambda: anyone.log(), 403, "unsigned")
    rig.record(seconds=15)
    client.lock()
    log = client.log()
    assert log.serial == rig.camera.serial
    messages = [e.message for e in log.entries]
    assert messages[0].startswith("started: AXIS W100, firmware")
    assert f"added to system {SYSTEM_ID}" in messages
    assert any(m.startswith("recording ") and m.endswith("started (button)") for m in messages)
    assert "locked by the controller" in messages
    assert [e.level for e in log.entries if e.message == "locked by the controller"] == ["warning"]
    times = [e.at for e in log.entries]
    assert times == sorted(times)
    assert [e.message for e in client.log(limit=2).entries] == messages[-2:]
    # What the camera sends is what the typed message writes back.
    raw = client.send("GET", "/log?limit=500").json()
    assert type(log).from_json(raw).to_json() == raw
    _refused(lambda: client.send("GET", "/log?limit=x"), 400, "bad_limit")


def test_the_power_line_frequency_is_recorded_in_the_clip_metadata(rig: Rig) -> None:
    client = _added(rig)
    assert rig.camera.power_line_frequency == 50
    client.configure(power_line_frequency=60)
    _refused(lambda: client.configure(power_line_frequency=55), 400,
             "bad_power_line_frequency")
    rig.record(seconds=15)
    (recording,) = client.manifest().recordings
    assert recording.power_line_frequency == 60
    import av

    for clip in rig.camera.recordings[0].clips:
        assert clip.path is not None
        with av.open(str(clip.path)) as media:
            tags = {k.lower(): v for k, v in media.metadata.items()}
        assert tags["power_line_frequency"] == "60"
