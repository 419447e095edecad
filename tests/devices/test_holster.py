"""Holster sensor pairing, the ten-minute connection window, and unholster recording."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bodyworn.devices.camera import Camera, StopReason
from bodyworn.devices.feedback import Led
from bodyworn.devices.holster import HolsterLink, HolsterSensor
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.led import GREEN, OFF, PULSING_AMBER, RED
from bodyworn.domain.profile import Trigger
from tests.devices.factories import assigned_docked

SERIAL = "482913"


def _paired_setup(distance: float = 1.0) -> tuple[Camera, HolsterLink, ManualClock]:
    camera, clock = assigned_docked()
    camera.expect_holster(SERIAL)
    camera.undock()
    clock.advance(timedelta(seconds=20))
    link = HolsterLink(camera, HolsterSensor(SERIAL), clock)
    link.move_to(distance)
    link.power_sensor()
    return camera, link, clock


def test_serial_and_range_are_checked() -> None:
    with pytest.raises(ValueError):
        HolsterSensor("12345")
    with pytest.raises(ValueError):
        HolsterSensor(SERIAL, range_m=12)


def test_pairing_pulses_amber_then_turns_green() -> None:
    camera, link, clock = _paired_setup()
    assert camera.feedback().led(Led.WIRELESS) == PULSING_AMBER
    clock.advance(timedelta(seconds=20))
    link.sync()
    assert link.paired
    assert camera.feedback().led(Led.WIRELESS) == GREEN


def test_pairing_out_of_range_fails_red() -> None:
    camera, link, clock = _paired_setup(distance=25.0)
    clock.advance(timedelta(seconds=20))
    link.sync()
    assert not link.paired
    assert camera.feedback().led(Led.WIRELESS) == RED


def test_unholstering_starts_a_recording() -> None:
    camera, link, clock = _paired_setup()
    clock.advance(timedelta(seconds=20))
    assert link.unholster()
    recording = camera.recording
    assert recording is not None and recording.trigger is Trigger.UNHOLSTER
    assert camera.feedback().led(Led.RECORDING) == RED
    link.holster()
    camera.stop_recording()
    assert recording.stop_reason is StopReason.BUTTON


def _next_shift(camera: Camera, link: HolsterLink, clock: ManualClock) -> None:
    clock.advance(timedelta(seconds=20))
    link.sync()
    camera.dock()
    link.sync()
    assert not link.connected
    link.move_to(30.0)
    camera.undock()
    clock.advance(timedelta(seconds=20))


def test_sensor_in_range_within_ten_minutes_of_undocking_connects() -> None:
    camera, link, clock = _paired_setup()
    _next_shift(camera, link, clock)
    clock.advance(timedelta(minutes=9))
    link.move_to(3.0)
    assert link.connected
    assert camera.feedback().led(Led.WIRELESS) == GREEN
    link.move_to(30.0)
    assert not link.connected
    assert camera.feedback().led(Led.WIRELESS) == OFF
    clock.advance(timedelta(minutes=30))
    link.move_to(3.0)
    assert link.connected


def test_sensor_too_late_never_connects() -> None:
    camera, link, clock = _paired_setup()
    _next_shift(camera, link, clock)
    clock.advance(timedelta(minutes=11))
    link.move_to(3.0)
    assert not link.connected
    assert not link.unholster()
    assert camera.recording is None
