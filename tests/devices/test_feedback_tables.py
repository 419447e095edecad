"""Every row of the manual's LED, daily-use and error-feedback tables, driven on a camera."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bodyworn.devices.camera import Camera, Fault, Holster, Power
from bodyworn.devices.environment import Environment
from bodyworn.devices.feedback import (
    DAILY_USE_TABLE,
    ERROR_TABLE,
    LED_TABLE,
    LIFECYCLE_TABLE,
    Button,
    DailyUseRow,
    Effect,
    ErrorRow,
    Led,
    LedRow,
    LifecycleRow,
    Sound,
    all_leds,
    level_state,
    rows_by_key,
)
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.led import OFF, PULSING_AMBER, Colour
from bodyworn.domain.profile import CameraProfile, RecordingActivation, Trigger
from tests.devices.factories import (
    added_docked,
    assigned_docked,
    charge_for_hours,
    new_camera,
    ready,
    storage_for_hours,
)

PROFILE = CameraProfile()
PERMISSIVE = CameraProfile(allow_audio_off=True, allow_silent_mode=True)


def _battery(hours: float) -> Camera:
    return ready(charge=charge_for_hours(hours, PROFILE))[0]


def _storage(hours: float) -> Camera:
    return ready(storage=storage_for_hours(hours, PROFILE))[0]


def _recording() -> Camera:
    camera, _ = ready()
    assert camera.start_recording() is not None
    return camera


def _software_fault() -> Camera:
    camera, _ = ready()
    camera.set_fault(Fault.SOFTWARE)
    return camera


def _microphone_off() -> Camera:
    camera, _ = ready(PERMISSIVE)
    camera.press(Button.FUNCTION, hold=3.0)
    return camera


def _holster(state: Holster) -> Callable[[], Camera]:
    def build() -> Camera:
        camera, _ = ready()
        camera.holster_pairing(state)
        return camera

    return build


def _extension_connected() -> Camera:
    camera, clock = ready()
    camera.connect_extension()
    clock.advance(timedelta(seconds=5))
    return camera


def _extension_switching() -> Camera:
    camera, _ = ready()
    camera.connect_extension()
    return camera


def _extension_error() -> Camera:
    camera, _ = ready()
    camera.extension_fault()
    return camera


def _docked_ready() -> Camera:
    return assigned_docked()[0]


def _docked_charging() -> Camera:
    return assigned_docked(charge=0.5)[0]


LED_SCENARIOS: dict[str, Callable[[], Camera]] = {
    "docking.ready": _docked_ready,
    "docking.busy": _docked_charging,
    "recording.on": _recording,
    "operation.standby": lambda: ready()[0],
    "operation.low_battery": lambda: _battery(0.25),
    "operation.low_storage": lambda: _storage(0.25),
    "operation.cannot_record": _software_fault,
    "battery.high": lambda: _battery(2.0),
    "battery.medium": lambda: _battery(0.75),
    "battery.low": lambda: _battery(0.25),
    "storage.high": lambda: _storage(2.0),
    "storage.medium": lambda: _storage(0.75),
    "storage.low": lambda: _storage(0.25),
    "microphone.off": _microphone_off,
    "microphone.on": lambda: ready(PERMISSIVE)[0],
    "wireless.paired": _holster(Holster.PAIRED),
    "wireless.pairing": _holster(Holster.PAIRING),
    "wireless.failed": _holster(Holster.FAILED),
    "extension.connected": _extension_connected,
    "extension.switching": _extension_switching,
    "extension.error": _extension_error,
}


def test_every_led_row_has_a_scenario() -> None:
    assert set(LED_SCENARIOS) == {row.key for row in LED_TABLE}


@pytest.mark.parametrize("row", LED_TABLE, ids=lambda row: row.key)
def test_led_row(row: LedRow) -> None:
    camera = LED_SCENARIOS[row.key]()
    assert camera.feedback().led(row.led) == row.state


def test_led_keys_are_unique_across_tables() -> None:
    total = len(LED_TABLE) + len(DAILY_USE_TABLE) + len(ERROR_TABLE) + len(LIFECYCLE_TABLE)
    assert len(rows_by_key()) == total


# ---- daily use --------------------------------------------------------------------------


def _before_daily(
    row: DailyUseRow, activation: RecordingActivation
) -> tuple[Camera, ManualClock]:
    profile = CameraProfile(
        allow_audio_off=True, allow_silent_mode=True, activation=activation
    )
    camera, clock = ready(profile)
    if row.effect is Effect.POWER_ON:
        camera.press(Button.POWER, hold=5.0)
        assert camera.power is Power.OFF
        camera.signals.clear()
    elif row.effect is Effect.RECORDING_STOP:
        assert camera.start_recording() is not None
    elif row.effect is Effect.MICROPHONE_ON:
        camera.press(Button.FUNCTION, hold=3.0)
        assert not camera.microphone_on
    elif row.effect in (Effect.SILENT_OFF, Effect.SHOW_BATTERY, Effect.SHOW_STORAGE):
        camera.press(Button.TOP, hold=3.0)
        assert camera.silent
        assert camera.feedback().leds == all_leds(OFF)
    camera.signals.clear()
    return camera, clock


def _check_effect(row: DailyUseRow, camera: Camera) -> None:
    checks: dict[Effect, Callable[[], bool]] = {
        Effect.POWER_ON: lambda: camera.power is Power.ON,
        Effect.POWER_OFF: lambda: camera.power is Power.OFF,
        Effect.RECORDING_START: lambda: camera.recording is not None,
        Effect.RECORDING_STOP: lambda: camera.recording is None and bool(camera.recordings),
        Effect.MICROPHONE_OFF: lambda: not camera.microphone_on,
        Effect.MICROPHONE_ON: lambda: camera.microphone_on,
        Effect.SILENT_ON: lambda: camera.silent,
        Effect.SILENT_OFF: lambda: not camera.silent,
        Effect.SHOW_BATTERY: lambda: camera.feedback().led(Led.BATTERY) != OFF,
        Effect.SHOW_STORAGE: lambda: camera.feedback().led(Led.STORAGE) != OFF,
    }
    assert checks[row.effect]()


DAILY_CASES = [
    (row, activation)
    for row in DAILY_USE_TABLE
    for activation in RecordingActivation
    if row.effect is Effect.RECORDING_START or activation is RecordingActivation.SINGLE_CLICK
]


@pytest.mark.parametrize(
    ("row", "activation"), DAILY_CASES, ids=lambda case: getattr(case, "key", str(case))
)
def test_daily_use_row(row: DailyUseRow, activation: RecordingActivation) -> None:
    camera, clock = _before_daily(row, activation)
    clicks = row.clicks
    if clicks == 0:
        clicks = 2 if activation is RecordingActivation.DOUBLE_CLICK else 1
    camera.press(row.button, hold=row.hold, clicks=clicks)
    if row.effect is Effect.POWER_ON:
        assert camera.feedback().leds == all_leds(PULSING_AMBER)
        clock.advance(timedelta(seconds=15))
    _check_effect(row, camera)
    feedback = camera.feedback()
    for led, state in row.leds.items():
        assert feedback.led(led) == state, led
    if row.front_indicator is not None:
        assert feedback.front_indicator == row.front_indicator
    if row.beep is Sound.NONE and row.buzz is Sound.NONE:
        assert camera.signals == []
    else:
        assert camera.last_signal is not None
        assert (camera.last_signal.beep, camera.last_signal.buzz) == (row.beep, row.buzz)


def test_single_click_does_not_start_a_double_click_profile() -> None:
    camera, _ = ready(CameraProfile(activation=RecordingActivation.DOUBLE_CLICK))
    camera.press(Button.FRONT, clicks=1)
    assert camera.recording is None


@pytest.mark.parametrize("hours", [2.0, 0.75, 0.25])
def test_top_press_shows_each_battery_and_storage_level(hours: float) -> None:
    camera, _ = ready(
        PERMISSIVE,
        charge=charge_for_hours(hours, PERMISSIVE),
        storage=storage_for_hours(hours, PERMISSIVE),
    )
    camera.press(Button.TOP, hold=3.0)
    camera.press(Button.TOP)
    shown = camera.feedback()
    assert shown.led(Led.BATTERY) == level_state(hours)
    assert shown.led(Led.STORAGE) == level_state(hours)


def test_short_holds_do_nothing() -> None:
    camera, _ = ready(PERMISSIVE)
    camera.press(Button.FUNCTION, hold=2.9)
    camera.press(Button.TOP, hold=2.9)
    camera.start_recording()
    camera.press(Button.FRONT, hold=3.9)
    camera.press(Button.POWER, hold=4.9)
    assert camera.microphone_on and not camera.silent
    assert camera.recording is not None and camera.power is Power.ON


def test_microphone_and_silent_mode_need_the_profile() -> None:
    camera, _ = ready(CameraProfile())
    camera.press(Button.FUNCTION, hold=3.0)
    camera.press(Button.TOP, hold=3.0)
    assert camera.microphone_on and not camera.silent


# ---- error feedback ---------------------------------------------------------------------


def _battery_empty() -> Camera:
    camera, _ = assigned_docked()
    camera.battery.charge = 0.0
    camera.set_environment(Environment(temperature_c=50.0))
    camera.undock()
    camera.press(Button.POWER)
    assert camera.power is Power.OFF
    return camera


def _undocked_without_user() -> Camera:
    camera, clock = added_docked()
    camera.undock()
    clock.advance(timedelta(seconds=25))
    return camera


def _docked_fault(fault: Fault) -> Callable[[], Camera]:
    def build() -> Camera:
        camera, _ = assigned_docked()
        camera.set_fault(fault)
        return camera

    return build


def _too_hot_to_charge() -> Camera:
    camera, _ = assigned_docked(charge=0.5)
    camera.set_environment(Environment(temperature_c=45.0))
    return camera


ERROR_SCENARIOS: dict[str, Callable[[], Camera]] = {
    "docked_no_user": lambda: added_docked()[0],
    "docked_shipping": lambda: _docked_new(link_up=False),
    "battery_empty": _battery_empty,
    "cannot_record": _software_fault,
    "extension_fault": _extension_error,
    "not_added": lambda: _docked_new(link_up=True),
    "no_user": _undocked_without_user,
    "general_error": _docked_fault(Fault.GENERAL),
    "upload_error": _docked_fault(Fault.UPLOAD),
    "not_charging": _too_hot_to_charge,
}


def _docked_new(*, link_up: bool) -> Camera:
    camera, clock = new_camera()
    camera.dock(link_up=link_up)
    clock.advance(timedelta(seconds=30))
    return camera


def test_every_error_row_has_a_scenario() -> None:
    assert set(ERROR_SCENARIOS) == {row.key for row in ERROR_TABLE}


def _assert_shows(camera: Camera, row: ErrorRow | LifecycleRow) -> None:
    feedback = camera.feedback()
    if row.exact:
        assert dict(feedback.leds) == dict(row.leds)
    else:
        for led, state in row.leds.items():
            assert feedback.led(led) == state, led


@pytest.mark.parametrize("row", ERROR_TABLE, ids=lambda row: row.key)
def test_error_row(row: ErrorRow) -> None:
    camera = ERROR_SCENARIOS[row.key]()
    _assert_shows(camera, row)
    feedback = camera.feedback()
    if row.beep.repeats or row.buzz.repeats:
        assert (feedback.beep, feedback.buzz) == (row.beep, row.buzz)
    elif row.beep is Sound.NONE and row.buzz is Sound.NONE:
        assert camera.signals == []
        assert (feedback.beep, feedback.buzz) == (Sound.NONE, Sound.NONE)
    else:
        assert camera.last_signal is not None
        assert (camera.last_signal.beep, camera.last_signal.buzz) == (row.beep, row.buzz)


def test_not_charging_also_follows_an_injected_battery_fault() -> None:
    camera, _ = assigned_docked(charge=0.5)
    camera.set_fault(Fault.BATTERY_NOT_CHARGING)
    row = next(row for row in ERROR_TABLE if row.key == "not_charging")
    _assert_shows(camera, row)


def test_pressing_record_with_a_fault_repeats_the_error_signal() -> None:
    camera = _software_fault()
    camera.signals.clear()
    camera.press(Button.FRONT)
    assert camera.recording is None
    assert camera.last_signal is not None
    assert camera.last_signal.beep is Sound.TWO_SHORT_ONE_LONG


@pytest.mark.parametrize("in_camera", [False, True])
def test_top_button_tells_which_side_of_the_extension_is_faulty(in_camera: bool) -> None:
    camera, _ = ready()
    camera.extension_fault(in_camera=in_camera)
    camera.disconnect_extension()
    camera.press(Button.TOP)
    expected = "red" if in_camera else "off"
    assert str(camera.feedback().led(Led.EXTENSION)).endswith(expected)


# ---- feedback described elsewhere in the manual -----------------------------------------


def _starting() -> Camera:
    camera, clock = assigned_docked()
    camera.undock()
    clock.advance(timedelta(seconds=10))
    return camera


def _self_assigned() -> Camera:
    camera, _ = added_docked()
    camera.self_assign("officer-17", PROFILE)
    return camera


def _unholstered() -> Camera:
    camera, _ = ready()
    camera.holster_pairing(Holster.PAIRED)
    assert camera.trigger(Trigger.UNHOLSTER) is not None
    return camera


def _locked(docked: bool) -> Callable[[], Camera]:
    def build() -> Camera:
        camera, clock = ready()
        camera.connect_usb_power()
        clock.advance(timedelta(weeks=8))
        assert camera.locked
        assert camera.power is Power.ON
        if docked:
            camera.dock()
            clock.advance(timedelta(seconds=30))
        return camera

    return build


LIFECYCLE_SCENARIOS: dict[str, Callable[[], Camera]] = {
    "starting": _starting,
    "self_assigned": _self_assigned,
    "added_docked_ready": _docked_ready,
    "unholstered": _unholstered,
    "locked_undocked": _locked(docked=False),
    "locked_docked": _locked(docked=True),
}


def test_every_lifecycle_row_has_a_scenario() -> None:
    assert set(LIFECYCLE_SCENARIOS) == {row.key for row in LIFECYCLE_TABLE}


@pytest.mark.parametrize("row", LIFECYCLE_TABLE, ids=lambda row: row.key)
def test_lifecycle_row(row: LifecycleRow) -> None:
    camera = LIFECYCLE_SCENARIOS[row.key]()
    _assert_shows(camera, row)


def test_vocabulary_has_labels_and_colours_for_pages() -> None:
    assert all(led.label for led in Led)
    assert {colour.css for colour in Colour} == {
        "#3b3f45", "#2f9e44", "#f08c00", "#e03131"
    }
    assert str(OFF) == "off"
    assert str(PULSING_AMBER) == "pulsing amber"
