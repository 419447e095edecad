"""Docking stations hold, charge and link cameras and report dock and undock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bodyworn.devices.camera import Camera, Power
from bodyworn.devices.docking import BayEvent, DockError, DockingStation, DockModel
from bodyworn.devices.feedback import Led
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.led import FLASHING_AMBER, GREEN, OFF, PULSING_AMBER
from bodyworn.domain.profile import CameraProfile
from tests.devices.factories import SYSTEM_ID, new_camera, public_pem


def _station(model: DockModel = DockModel.W701) -> tuple[DockingStation, list[BayEvent]]:
    events: list[BayEvent] = []
    station = DockingStation("ACCC8E000001", model, listener=events.append)
    station.connect("dock-port-1")
    return station, events


def _cameras(clock: ManualClock, count: int) -> list[Camera]:
    return [new_camera(clock, serial=f"B8A44F{n:06d}")[0] for n in range(count)]


def test_models_have_one_and_eight_bays() -> None:
    assert DockModel.W700.bays == 1 and DockModel.W701.bays == 8
    single, _ = _station(DockModel.W700)
    clock = ManualClock()
    first, second = _cameras(clock, 2)
    single.insert(first)
    with pytest.raises(DockError):
        single.insert(second)


def test_dock_and_undock_are_reported_with_the_bay() -> None:
    station, events = _station()
    clock = ManualClock()
    cameras = _cameras(clock, 3)
    assert [station.insert(camera) for camera in cameras] == [0, 1, 2]
    assert all(camera.docked for camera in cameras)
    station.remove(1)
    assert [(e.bay, e.camera.serial, e.docked) for e in events] == [
        (0, cameras[0].serial, True),
        (1, cameras[1].serial, True),
        (2, cameras[2].serial, True),
        (1, cameras[1].serial, False),
    ]
    assert station.bays[1] is None and not cameras[1].docked
    assert station.insert(cameras[1], bay=5) == 5
    assert station.take(cameras[1]) == 5


def test_bay_mistakes_are_refused() -> None:
    station, _ = _station()
    camera = _cameras(ManualClock(), 1)[0]
    with pytest.raises(DockError):
        station.remove(0)
    with pytest.raises(DockError):
        station.insert(camera, bay=8)
    station.insert(camera, bay=3)
    with pytest.raises(DockError):
        station.insert(camera)
    other, _ = _station()
    with pytest.raises(DockError):
        other.insert(camera)
    with pytest.raises(DockError):
        other.take(camera)


def test_new_camera_in_a_linked_dock_flashes_amber_until_added() -> None:
    station, _ = _station()
    clock = ManualClock()
    camera = _cameras(clock, 1)[0]
    station.disconnect()
    station.insert(camera)
    assert camera.feedback().leds[Led.DOCKING] == OFF
    station.connect("dock-port-2")
    assert camera.feedback().leds[Led.DOCKING] == FLASHING_AMBER
    camera.add_to_system(SYSTEM_ID, public_pem())
    camera.assign("officer-1", CameraProfile())
    clock.advance(timedelta(seconds=30))
    assert camera.feedback().leds[Led.DOCKING] == GREEN


def test_station_charges_only_with_mains_power() -> None:
    station, _ = _station()
    clock = ManualClock()
    camera = new_camera(clock, charge=0.0)[0]
    station.insert(camera)
    camera.add_to_system(SYSTEM_ID, public_pem())
    camera.assign("officer-1", CameraProfile())
    station.set_power(False)
    assert not station.led_on and not camera.link_up
    clock.advance(timedelta(hours=2))
    assert camera.battery.charge == 0
    assert camera.feedback().leds[Led.DOCKING] == OFF
    station.set_power(True)
    assert station.led_on and camera.link_up
    clock.advance(timedelta(hours=1))
    assert camera.feedback().leds[Led.DOCKING] == PULSING_AMBER
    clock.advance(timedelta(hours=2))
    assert camera.battery.full


def test_offload_can_start_twenty_seconds_after_docking() -> None:
    station, _ = _station()
    clock = ManualClock()
    camera = _cameras(clock, 1)[0]
    station.insert(camera)
    camera.add_to_system(SYSTEM_ID, public_pem())
    station.take(camera)
    station.insert(camera)
    clock.advance(timedelta(seconds=19))
    assert not camera.offload_ready
    clock.advance(timedelta(seconds=1))
    assert camera.offload_ready
    station.disconnect()
    assert not camera.offload_ready


def test_undocked_camera_restarts_on_battery() -> None:
    station, _ = _station()
    clock = ManualClock()
    camera = _cameras(clock, 1)[0]
    station.insert(camera)
    camera.add_to_system(SYSTEM_ID, public_pem())
    camera.assign("officer-1", CameraProfile())
    station.remove(0)
    clock.advance(timedelta(seconds=20))
    assert camera.power is Power.ON
