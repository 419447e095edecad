"""The dock link's typed messages: JSON round trips and strict parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest

from bodyworn.docklink.errors import DockLinkError, MessageError
from bodyworn.docklink.messages import (
    BatteryLevel,
    CameraInfo,
    ClipEntry,
    DeleteChallenge,
    DeleteResult,
    FirmwareAccepted,
    HolsterLink,
    Manifest,
    Position,
    RecordingEntry,
    StationBay,
    StationEvent,
    StationListing,
    StorageLevel,
)
from bodyworn.domain.led import GREEN, OFF, PULSING_AMBER
from bodyworn.domain.profile import CameraProfile

T0 = datetime(2026, 3, 2, 7, 14, 32, tzinfo=UTC)
CLIP = ClipEntry("a.mkv", 0, T0, T0 + timedelta(minutes=10), 600.0, 244472, "0d" * 32, None)
RECORDING = RecordingEntry(
    id="CAM-1", camera_serial="CAM", user_id="officer-1", profile="Patrol",
    firmware="10.2.0.3", timezone="Europe/Stockholm", trigger="button",
    trigger_on=T0 + timedelta(seconds=30), started_at=T0, pre_buffer_s=30.0,
    trigger_off=T0 + timedelta(minutes=12),
    trigger_on_location=Position(59.3301, 18.0677, T0),
    stopped_at=T0 + timedelta(minutes=12), stop_reason="button",
    microphone_off=((T0, T0 + timedelta(seconds=5)), (T0 + timedelta(minutes=1), None)),
    gnss_track=(Position(59.33, 18.06, T0),), categories=("Traffic",),
    notes=("Stopped a car.",), clips=(CLIP,),
)
INFO = CameraInfo(
    serial="CAM", model="AXIS W100", firmware="10.2.0.3", shipping_mode=False,
    system_id="sys-1", user_id=None, profile=CameraProfile(name="Patrol"),
    timezone="UTC", categories=("Traffic",), time=T0, time_offset_s=0.0, locked=False,
    docked=True, offload_ready=True, busy=True, battery=BatteryLevel(0.71, 8.1),
    storage=StorageLevel(64_000_000_000, 912_000_000, 27.3, False), recordings=2,
    holster=HolsterLink("123456", "paired"), faults=("storage",),
    leds=MappingProxyType({"docking": PULSING_AMBER, "battery": GREEN, "storage": OFF}),
)
EVENT = StationEvent("DOCK0001", 0, "dock", "CAM",
                     "http://127.0.0.1:4123/docklink/v1/cameras/CAM")
EVERY = [
    CLIP, RECORDING, Manifest("CAM", (RECORDING,)), INFO, EVENT,
    DeleteChallenge("a.mkv", "c" * 32, T0), DeleteResult("a.mkv", "CAM-1", True),
    FirmwareAccepted("10.3.0.1", "ab" * 32, 120.0),
    StationListing("DOCK0001", "8-bay", True, (StationBay(0, "CAM", EVENT.camera_url),
                                                StationBay(1))),
]


@pytest.mark.parametrize("message", EVERY, ids=lambda m: type(m).__name__)
def test_every_message_round_trips_through_its_json(message: Any) -> None:
    text = json.dumps(message.to_json())
    again = type(message).from_json(json.loads(text))
    assert again == message
    assert json.dumps(again.to_json()) == text


def test_the_json_keeps_the_documented_names() -> None:
    info = INFO.to_json()
    assert list(info)[:3] == ["serial", "model", "firmware"]
    assert info["leds"] == {"docking": "pulsing amber", "battery": "steady green",
                            "storage": "off"}
    assert info["battery"] == {"charge": 0.71, "hours_left": 8.1}
    clip = CLIP.to_json()
    assert clip == {"name": "a.mkv", "index": 0, "start": "2026-03-02T07:14:32Z",
                    "end": "2026-03-02T07:24:32Z", "duration_s": 600.0, "size": 244472,
                    "sha256": "0d" * 32, "md5": None, "signature": None}
    recording = RECORDING.to_json()
    assert recording["microphone_off"][1] == ["2026-03-02T07:15:32Z", None]
    assert "clips" not in RECORDING.to_json(clips=False)
    assert RecordingEntry.from_json(RECORDING.to_json(clips=False), clips=False) == \
        RecordingEntry(**{**RECORDING.__dict__, "clips": ()})


def _broken(data: dict[str, Any], path: list[str | int], value: object) -> dict[str, Any]:
    copy = json.loads(json.dumps(data))
    node = copy
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return copy


@pytest.mark.parametrize(("path", "value", "names"), [
    (["recordings", 0, "clips", 0, "size"], "big", "size"),
    (["recordings", 0, "clips", 0, "sha256"], KeyError, "sha256"),
    (["recordings", 0, "clips", 0, "end"], "yesterday", "end"),
    (["recordings", 0, "clips", 0, "index"], True, "index"),
    (["recordings", 0, "clips", 0], [], "clips"),
    (["recordings", 0, "trigger_on"], "2026-03-02T07:15:02", "trigger_on"),
    (["recordings", 0, "gnss_track", 0, "latitude"], None, "latitude"),
    (["recordings", 0, "microphone_off", 0], ["2026-03-02T07:15:02Z"], "microphone_off"),
    (["recordings", 0, "categories"], "Traffic", "categories"),
    (["recordings"], {}, "recordings"),
    (["serial"], KeyError, "serial"),
])
def test_a_malformed_manifest_names_the_field(path: list[str | int], value: object,
                                               names: str) -> None:
    bad = _broken(Manifest("CAM", (RECORDING,)).to_json(), path, value)
    with pytest.raises(MessageError) as caught:
        Manifest.from_json(bad)
    assert names in str(caught.value)
    # Both a link error (callers that give up on the dock) and a ValueError.
    assert isinstance(caught.value, DockLinkError) and isinstance(caught.value, ValueError)


@pytest.mark.parametrize(("path", "value"), [
    (["profile", "resolution"], "8k"),
    (["leds", "docking"], "blinking purple"),
    (["battery"], None),
    (["storage", "error"], "no"),
    (["locked"], KeyError),
    (["time"], 17),
])
def test_malformed_info_is_refused(path: list[str | int], value: object) -> None:
    with pytest.raises(MessageError):
        CameraInfo.from_json(_broken(INFO.to_json(), path, value))


def test_not_even_an_object_is_a_message_error() -> None:
    for parse in (Manifest.from_json, CameraInfo.from_json, StationListing.from_json,
                  StationEvent.from_json, DeleteResult.from_json):
        with pytest.raises(MessageError):
            parse(["not", "an", "object"])


def test_unknown_keys_are_ignored() -> None:
    data = {**CLIP.to_json(), "thumbnail": "later"}
    assert ClipEntry.from_json(data) == CLIP


def test_station_event_rules() -> None:
    assert EVENT.docked and EVENT.station_url == "http://127.0.0.1:4123"
    for change, word in (({"bay": 64}, "bay"), ({"event": "eject"}, "event"),
                         ({"camera_url": "ftp://h/docklink/v1/cameras/CAM"}, "camera_url"),
                         ({"camera_serial": "X" * 33}, "camera_serial")):
        with pytest.raises(MessageError, match=word):
            StationEvent.from_json({**EVENT.to_json(), **change})


def _camera_answering(status: int, body: bytes) -> Any:
    import httpx

    from bodyworn.docklink.client import DockLinkClient

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body,
                              headers={"Content-Type": "application/json"})

    http = httpx.Client(transport=httpx.MockTransport(answer))
    return DockLinkClient("http://camera.test/docklink/v1/cameras/CAM", None, client=http)


def test_a_camera_reply_with_a_key_given_twice_is_refused() -> None:
    """The controller reads what a camera says as strictly as the camera reads the controller:
    readers differ on which of two equal keys wins, so neither is taken."""
    good = json.dumps(INFO.to_json())
    assert _camera_answering(200, good.encode()).info() == INFO
    doubled = good.replace('{"serial": "CAM"', '{"serial": "EVIL", "serial": "CAM"', 1)
    assert doubled != good
    with pytest.raises(MessageError, match="more than once"):
        _camera_answering(200, doubled.encode()).info()
    # A refusal that names its reason twice has no reason the controller could act on.
    with pytest.raises(DockLinkError) as refused:
        _camera_answering(423, b'{"reason": "locked", "reason": "not_added", "error": "x"}'
                          ).info()
    assert refused.value.reason == ""
