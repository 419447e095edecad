"""Location data: routes, first fix, positions at start and stop, and the track."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bodyworn.devices.camera import Camera
from bodyworn.devices.environment import Environment
from bodyworn.devices.gnss import (
    ASSISTED_FIRST_FIX,
    COLD_FIRST_FIX,
    Position,
    Receiver,
    Route,
    Waypoint,
)
from bodyworn.devices.video import ClipRenderer
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.profile import CameraProfile, OverlayField
from tests.devices.factories import ready
from tests.devices.media import probe

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WALK = Route(
    [
        Waypoint(T0, 55.6050, 13.0038),
        Waypoint(T0 + timedelta(hours=1), 55.6150, 13.0238),
    ]
)


def test_route_interpolates_and_stands_still_at_the_ends() -> None:
    assert WALK.at(T0 - timedelta(hours=1)) == (55.6050, 13.0038)
    lat, lon = WALK.at(T0 + timedelta(minutes=30))
    assert lat == pytest.approx(55.6100)
    assert lon == pytest.approx(13.0138)
    assert WALK.at(T0 + timedelta(hours=5)) == (55.6150, 13.0238)
    with pytest.raises(ValueError):
        Route([])


def test_position_text_and_range() -> None:
    assert str(Position(-33.5, -70.25, T0)) == "33.50000 S 70.25000 W"
    with pytest.raises(ValueError):
        Position(91, 0, T0)


@pytest.mark.parametrize(
    ("assisted", "first_fix"), [(False, COLD_FIRST_FIX), (True, ASSISTED_FIRST_FIX)]
)
def test_first_fix_is_faster_with_assistance(assisted: bool, first_fix: timedelta) -> None:
    receiver = Receiver(WALK)
    receiver.switch_on(T0, assisted=assisted)
    assert receiver.position(T0 + first_fix - timedelta(seconds=1), outdoor=True) is None
    assert receiver.position(T0 + first_fix, outdoor=True) is not None
    assert receiver.position(T0 + first_fix, outdoor=False) is None
    receiver.switch_off()
    assert receiver.position(T0 + first_fix, outdoor=True) is None


def _located(profile: CameraProfile, tmp_path: Path | None = None) -> tuple[Camera, ManualClock]:
    clock = ManualClock(T0)
    return ready(
        profile,
        clock=clock,
        env=Environment(outdoor=True),
        gnss=Receiver(WALK),
        clip_sink=ClipRenderer(tmp_path) if tmp_path else None,
    )


def test_recording_keeps_start_and_stop_positions_and_a_track(tmp_path: Path) -> None:
    profile = CameraProfile(
        audio=False,
        location_data=True,
        assisted_gnss=True,
        overlay=frozenset({OverlayField.LOCATION, OverlayField.USER_ID}),
    )
    camera, clock = _located(profile, tmp_path)
    clock.advance(timedelta(minutes=1))
    recording = camera.start_recording()
    assert recording is not None and recording.start_position is not None
    clock.advance(timedelta(minutes=6))
    camera.stop_recording()
    assert recording.stop_position is not None
    assert recording.stop_position.latitude > recording.start_position.latitude
    assert len(recording.track) == 6 * 6 + 3 + 1
    assert recording.track[0].at == recording.started_at
    assert recording.clips[0].path is not None
    assert probe(recording.clips[0].path).frames["video"] > 0


def test_no_location_without_the_profile_setting() -> None:
    camera, clock = _located(CameraProfile())
    clock.advance(timedelta(minutes=2))
    recording = camera.start_recording()
    clock.advance(timedelta(minutes=1))
    camera.stop_recording()
    assert recording is not None
    assert (recording.start_position, recording.stop_position, recording.track) == (None, None, [])


def test_cold_start_records_no_start_position_yet() -> None:
    camera, _ = _located(CameraProfile(location_data=True))
    recording = camera.start_recording()
    assert recording is not None and recording.start_position is None
