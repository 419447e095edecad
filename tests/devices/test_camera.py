"""The camera's life cycle, lock, recordings, battery and storage, on a moved clock."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodyworn.devices.camera import (
    LOCK_AFTER_UNDOCKED,
    Camera,
    CameraError,
    Clip,
    Holster,
    Power,
    Recording,
    StopReason,
)
from bodyworn.devices.environment import Environment, Scene
from bodyworn.devices.feedback import Button, Led, Sound
from bodyworn.devices.storage import Storage
from bodyworn.docklink.wire import unlock_message
from bodyworn.domain.led import FLASHING_RED, GREEN, OFF, PULSING_AMBER, RED
from bodyworn.domain.profile import (
    CameraProfile,
    FrontIndicator,
    Notification,
    Resolution,
    Trigger,
)
from tests.devices.factories import (
    SYSTEM_ID,
    added_docked,
    assigned_docked,
    charge_for_hours,
    identity_key,
    new_camera,
    public_pem,
    ready,
    storage_for_hours,
)

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def test_identity_is_a_w100() -> None:
    camera, _ = new_camera(serial="B8A44F123456")
    assert (camera.serial, camera.model) == ("B8A44F123456", "AXIS W100")
    assert camera.firmware


def test_shipping_mode_camera_does_not_start() -> None:
    camera, clock = new_camera()
    assert camera.shipping_mode
    camera.press(Button.POWER)
    clock.advance(MINUTE)
    assert camera.power is Power.OFF


def test_adding_needs_the_dock_and_a_real_key_and_happens_once() -> None:
    camera, _ = new_camera()
    with pytest.raises(CameraError):
        camera.add_to_system(SYSTEM_ID, public_pem())
    camera.dock()
    with pytest.raises(CameraError):
        camera.add_to_system(SYSTEM_ID, "-----BEGIN PUBLIC KEY-----\nno\n-----END PUBLIC KEY-----")
    camera.add_to_system(SYSTEM_ID, public_pem())
    assert (camera.system_id, camera.identity_key_pem) == (SYSTEM_ID, public_pem())
    with pytest.raises(CameraError):
        camera.add_to_system("other-system", public_pem(Ed25519PrivateKey.generate()))


def test_unassigned_camera_cannot_be_used_undocked() -> None:
    camera, clock = added_docked()
    camera.undock()
    clock.advance(timedelta(seconds=25))
    camera.press(Button.FRONT)
    assert camera.recording is None
    assert camera.start_recording() is None
    assert camera.feedback().led(Led.OPERATION) == FLASHING_RED


def test_undock_restarts_for_twenty_seconds() -> None:
    camera, clock = assigned_docked()
    camera.undock()
    clock.advance(timedelta(seconds=19))
    assert camera.power is Power.STARTING
    clock.advance(SECOND)
    assert camera.feedback().led(Led.OPERATION) == GREEN


def test_dock_restart_goes_dark_then_pulses_then_shows_docking_status() -> None:
    camera, clock = ready()
    camera.dock()
    assert camera.feedback().led(Led.DOCKING) == OFF
    clock.advance(timedelta(seconds=10))
    assert camera.feedback().led(Led.DOCKING) == PULSING_AMBER
    assert camera.feedback().led(Led.BATTERY) == PULSING_AMBER
    clock.advance(timedelta(seconds=10))
    assert camera.feedback().led(Led.BATTERY) == OFF


# ---- the eight-week lock ----------------------------------------------------------------


def _sign(camera: Camera, key: Ed25519PrivateKey | None = None) -> bytes:
    return (key or identity_key()).sign(unlock_message(camera.serial, camera.unlock_challenge()))


def test_locks_eight_weeks_after_undocking_even_when_switched_off() -> None:
    camera, clock = ready()
    camera.press(Button.POWER, hold=5.0)
    clock.advance(LOCK_AFTER_UNDOCKED - timedelta(seconds=26))
    assert not camera.locked
    clock.advance(SECOND)
    assert camera.locked


def test_docking_in_time_resets_the_lock_timer() -> None:
    camera, clock = ready()
    clock.advance(timedelta(weeks=7))
    camera.dock()
    clock.advance(HOUR)
    camera.undock()
    clock.advance(timedelta(weeks=7))
    assert not camera.locked


def test_locked_camera_refuses_to_record_and_stays_locked_in_the_dock() -> None:
    camera, clock = ready()
    camera.connect_usb_power()
    clock.advance(LOCK_AFTER_UNDOCKED)
    assert camera.start_recording() is None
    camera.dock()
    clock.advance(MINUTE)
    assert camera.locked
    with pytest.raises(CameraError):
        camera.assign("officer-9", CameraProfile())


def test_locking_stops_a_running_recording() -> None:
    camera, clock = ready()
    camera.connect_usb_power()
    clock.advance(LOCK_AFTER_UNDOCKED - timedelta(seconds=25) - MINUTE)
    recording = camera.start_recording()
    clock.advance(2 * MINUTE)
    camera.sync()
    assert recording is not None
    assert recording.stop_reason is StopReason.LOCKED
    assert recording.duration <= MINUTE + timedelta(seconds=31)


def test_unlock_needs_a_signature_by_the_system_identity() -> None:
    camera, clock = ready()
    camera.dock()
    camera.undock()
    clock.advance(LOCK_AFTER_UNDOCKED)
    camera.dock()
    stranger = Ed25519PrivateKey.generate()
    with pytest.raises(CameraError):
        camera.unlock(_sign(camera, stranger))
    assert camera.locked
    camera.unlock(_sign(camera))
    assert not camera.locked
    with pytest.raises(CameraError):
        camera.unlock_challenge()


def test_an_old_unlock_signature_cannot_be_replayed() -> None:
    camera, clock = added_docked()
    camera.undock()
    clock.advance(LOCK_AFTER_UNDOCKED)
    old = _sign(camera)
    camera.unlock(old)
    clock.advance(LOCK_AFTER_UNDOCKED)
    assert camera.locked
    with pytest.raises(CameraError):
        camera.unlock(old)


def test_unlock_of_an_unlocked_camera_is_refused() -> None:
    camera, _ = ready()
    with pytest.raises(CameraError):
        camera.unlock(b"x" * 64)


# ---- factory reset ----------------------------------------------------------------------


def test_factory_reset_keeps_evidence_until_offloaded() -> None:
    camera, clock = ready()
    recording = camera.start_recording()
    assert recording is not None
    clock.advance(MINUTE)
    camera.dock()
    with pytest.raises(CameraError):
        camera.factory_reset()
    camera.delete_recording(recording.id)
    camera.factory_reset()
    assert camera.shipping_mode and camera.user_id is None
    assert camera.storage.used_bytes == 0
    assert camera.feedback().led(Led.DOCKING).pattern.value == "flashing"


def test_reset_needs_the_dock() -> None:
    camera, _ = ready()
    with pytest.raises(CameraError):
        camera.factory_reset()


# ---- recordings -------------------------------------------------------------------------


def test_clips_split_at_the_maximum_clip_length() -> None:
    closed: list[Clip] = []
    profile = CameraProfile(max_clip_length=MINUTE, pre_buffer=timedelta(seconds=20))
    camera, clock = ready(profile, clip_sink=lambda _rec, clip: closed.append(clip))
    clock.advance(MINUTE)
    recording = camera.start_recording()
    assert recording is not None
    assert recording.pre_buffer == timedelta(seconds=20)
    clock.advance(timedelta(seconds=130))
    camera.press(Button.FRONT, hold=4.0)
    assert recording.stopped_at == clock.now()
    assert recording.duration == timedelta(seconds=150)
    assert [clip.duration for clip in recording.clips] == [MINUTE, MINUTE, timedelta(seconds=30)]
    assert closed == recording.clips
    assert all(a.end == b.start for a, b in pairwise(recording.clips))
    assert recording.trigger_on - recording.started_at == recording.pre_buffer


def test_pre_buffer_is_limited_by_uptime_and_by_the_last_stop() -> None:
    camera, clock = ready(CameraProfile(pre_buffer=timedelta(seconds=30)))
    camera.press(Button.POWER, hold=5.0)
    camera.press(Button.POWER)
    clock.advance(timedelta(seconds=25))
    first = camera.start_recording()
    assert first is not None and first.pre_buffer == timedelta(seconds=10)
    clock.advance(MINUTE)
    camera.stop_recording()
    clock.advance(timedelta(seconds=5))
    second = camera.start_recording()
    assert second is not None and second.pre_buffer == timedelta(seconds=5)


@pytest.mark.parametrize(
    ("resolution", "scene", "shortened"),
    [
        (Resolution.P1080, Scene.MEDIUM, False),
        (Resolution.P1080, Scene.HIGH, True),
        (Resolution.P720, Scene.HIGH, False),
        (Resolution.P1080, Scene.MEDIUM, True),
    ],
    ids=["1080p", "1080p-busy", "720p-busy", "1080p-low-light"],
)
def test_busy_1080p_scenes_overrun_the_pre_buffer_space(
    resolution: Resolution, scene: Scene, shortened: bool, request: pytest.FixtureRequest
) -> None:
    profile = CameraProfile(resolution=resolution, pre_buffer=timedelta(seconds=90))
    low_light = request.node.callspec.id.endswith("low-light")
    camera, clock = ready(profile, env=Environment(scene=scene, low_light=low_light))
    clock.advance(timedelta(minutes=5))
    recording = camera.start_recording()
    assert recording is not None
    assert (recording.pre_buffer < profile.pre_buffer) is shortened


def test_battery_running_out_ends_the_recording_and_switches_off() -> None:
    camera, clock = ready(charge=charge_for_hours(0.6, CameraProfile()))
    recording = camera.start_recording()
    assert recording is not None
    clock.advance(3 * HOUR)
    camera.sync()
    assert recording.stop_reason is StopReason.BATTERY_EMPTY
    assert timedelta(minutes=30) < recording.duration < timedelta(minutes=40)
    assert camera.power is Power.OFF and camera.battery.empty
    assert camera.feedback().leds[Led.OPERATION] == OFF


def test_full_storage_ends_the_recording() -> None:
    camera, clock = ready(storage=storage_for_hours(0.1, CameraProfile()))
    recording = camera.start_recording()
    assert recording is not None
    clock.advance(HOUR)
    camera.sync()
    assert recording.stop_reason is StopReason.STORAGE_FULL
    assert camera.storage.full(camera.profile)
    camera.signals.clear()
    assert camera.start_recording() is None
    assert camera.last_signal is not None
    assert camera.last_signal.beep is Sound.TWO_SHORT_ONE_LONG


def test_storage_and_battery_hours_depend_on_resolution() -> None:
    hd, _ = ready(CameraProfile(resolution=Resolution.P1080))
    sd, _ = ready(CameraProfile(resolution=Resolution.P720))
    assert sd.storage_hours_left() > hd.storage_hours_left() > 20
    assert sd.battery_hours_left() > hd.battery_hours_left() > 8


def test_power_use_rises_with_location_outdoors_and_cold() -> None:
    base, _ = ready()
    costly, _ = ready(
        CameraProfile(location_data=True),
        env=Environment(outdoor=True, temperature_c=-10.0, scene=Scene.HIGH),
    )
    assert costly.battery_hours_left() < base.battery_hours_left() * 0.7


@pytest.mark.parametrize(("celsius", "hours"), [(25.0, 3.0), (0.0, 6.5)])
def test_a_depleted_battery_charges_in_3_to_6_5_hours(celsius: float, hours: float) -> None:
    camera, clock = assigned_docked(charge=0.0, env=Environment(temperature_c=celsius))
    clock.advance(timedelta(hours=hours) - MINUTE)
    assert not camera.battery.full
    assert camera.feedback().led(Led.DOCKING) == PULSING_AMBER
    clock.advance(MINUTE)
    assert camera.battery.full
    assert camera.feedback().led(Led.DOCKING) == GREEN


def test_no_charging_outside_the_charging_temperature_range() -> None:
    camera, clock = assigned_docked(charge=0.2, env=Environment(temperature_c=-5.0))
    clock.advance(10 * HOUR)
    assert camera.battery.charge == pytest.approx(0.2)


def test_usb_charger_charges_an_undocked_camera() -> None:
    camera, clock = ready(charge=0.1)
    camera.connect_usb_power()
    clock.advance(10 * HOUR)
    assert camera.battery.full


def test_docking_ends_a_recording_and_stays_busy_until_offloaded() -> None:
    camera, clock = ready()
    recording = camera.start_recording()
    assert recording is not None
    clock.advance(MINUTE)
    camera.dock()
    assert recording.stop_reason is StopReason.DOCKED
    clock.advance(5 * HOUR)
    assert camera.feedback().led(Led.DOCKING) == PULSING_AMBER
    used = camera.storage.used_bytes
    assert used == pytest.approx(recording.nominal_bytes)
    camera.delete_recording(recording.id)
    assert camera.storage.used_bytes == pytest.approx(0, abs=1)
    assert camera.feedback().led(Led.DOCKING) == GREEN
    with pytest.raises(CameraError):
        camera.delete_recording(recording.id)


def test_firmware_install_keeps_the_dock_busy() -> None:
    camera, clock = assigned_docked()
    camera.install_firmware("11.0.0", timedelta(minutes=4))
    assert camera.firmware == "11.0.0"
    assert camera.feedback().led(Led.DOCKING) == PULSING_AMBER
    clock.advance(timedelta(minutes=4))
    assert camera.feedback().led(Led.DOCKING) == GREEN


def test_power_off_while_recording_closes_the_recording() -> None:
    camera, clock = ready()
    recording = camera.start_recording()
    clock.advance(MINUTE)
    camera.press(Button.POWER, hold=5.0)
    assert recording is not None and recording.stop_reason is StopReason.POWER_OFF
    camera.press(Button.POWER)
    clock.advance(timedelta(seconds=15))
    assert camera.power is Power.ON


# ---- profile behaviour ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("indicator", "expected"),
    [(FrontIndicator.ON, RED), (FrontIndicator.OFF, OFF), (FrontIndicator.FLASHING, FLASHING_RED)],
)
def test_front_indicator_follows_the_profile(indicator: FrontIndicator, expected: object) -> None:
    camera, _ = ready(CameraProfile(front_indicator=indicator))
    camera.start_recording()
    assert camera.feedback().front_indicator == expected


@pytest.mark.parametrize(
    ("notification", "beep", "buzz"),
    [
        (Notification.BEEP_AND_VIBRATION, Sound.SHORT, Sound.SHORT),
        (Notification.BEEP, Sound.SHORT, Sound.NONE),
        (Notification.VIBRATION, Sound.NONE, Sound.SHORT),
    ],
)
def test_start_notification_follows_the_profile(
    notification: Notification, beep: Sound, buzz: Sound
) -> None:
    camera, _ = ready(CameraProfile(notification=notification))
    camera.start_recording()
    assert camera.last_signal is not None
    assert (camera.last_signal.beep, camera.last_signal.buzz) == (beep, buzz)


def test_periodic_reminder_buzzes_while_recording() -> None:
    camera, clock = ready(CameraProfile(periodic_reminder=timedelta(minutes=5)))
    camera.start_recording()
    clock.advance(timedelta(minutes=16))
    reminders = [sig for _, sig in camera.signals if sig.reason == "reminder"]
    assert len(reminders) == 3
    assert all(sig.buzz is Sound.SHORT and sig.beep is Sound.NONE for sig in reminders)


def test_silent_mode_hides_every_sign_of_recording() -> None:
    profile = CameraProfile(allow_silent_mode=True, periodic_reminder=timedelta(minutes=1))
    camera, clock = ready(profile)
    camera.press(Button.TOP, hold=3.0)
    camera.start_recording()
    clock.advance(timedelta(minutes=3))
    camera.stop_recording()
    assert camera.signals == []
    feedback = camera.feedback()
    assert feedback.front_indicator == OFF and feedback.led(Led.RECORDING) == OFF


def test_microphone_off_during_recording_is_kept_as_muted_time() -> None:
    camera, clock = ready(CameraProfile(allow_audio_off=True))
    recording = camera.start_recording()
    assert recording is not None
    clock.advance(MINUTE)
    camera.press(Button.FUNCTION, hold=3.0)
    muted_at = clock.now()
    clock.advance(MINUTE)
    camera.press(Button.FUNCTION, hold=3.0)
    clock.advance(MINUTE)
    camera.press(Button.FUNCTION, hold=3.0)
    clock.advance(MINUTE)
    camera.stop_recording()
    assert recording.muted == [
        (muted_at, muted_at + MINUTE),
        (muted_at + 2 * MINUTE, muted_at + 3 * MINUTE),
    ]


def test_no_microphone_toggle_without_audio() -> None:
    camera, _ = ready(CameraProfile(audio=False, allow_audio_off=True))
    camera.press(Button.FUNCTION, hold=3.0)
    assert camera.microphone_on


def test_fall_detection_only_when_the_profile_has_it() -> None:
    plain, _ = ready()
    assert plain.trigger(Trigger.FALL) is None
    falls, _ = ready(CameraProfile(fall_detection=True))
    recording = falls.trigger(Trigger.FALL)
    assert recording is not None and recording.trigger is Trigger.FALL


def test_unholster_needs_a_paired_holster() -> None:
    camera, _ = ready()
    assert camera.trigger(Trigger.UNHOLSTER) is None
    camera.holster_pairing(Holster.PAIRED)
    assert camera.trigger(Trigger.UNHOLSTER) is not None


def test_mini_cube_can_take_over_the_front_button() -> None:
    camera, _ = ready(CameraProfile(disable_front_button_with_mini_cube=True))
    camera.connect_mini_cube()
    camera.press(Button.FRONT)
    assert camera.recording is None
    camera.press_mini_cube()
    recording = camera.recording
    assert recording is not None and recording.trigger is Trigger.MINI_CUBE_BUTTON
    camera.press_mini_cube(hold=4.0)
    assert recording.stop_reason is StopReason.MINI_CUBE_BUTTON


def test_self_assignment_lapses_unless_undocked_in_fifteen_seconds() -> None:
    camera, clock = added_docked()
    camera.self_assign("officer-3", CameraProfile())
    clock.advance(timedelta(seconds=16))
    assert camera.user_id is None
    camera.self_assign("officer-3", CameraProfile())
    clock.advance(timedelta(seconds=14))
    camera.undock()
    clock.advance(MINUTE)
    assert camera.user_id == "officer-3"
    assert camera.feedback().led(Led.OPERATION) == GREEN


def test_categories_and_notes_attach_to_a_recording() -> None:
    camera, _ = ready()
    recording = camera.start_recording()
    assert recording is not None
    camera.add_category(recording.id, "traffic")
    camera.add_note(recording.id, "stopped a cyclist")
    assert (recording.categories, recording.notes) == (["traffic"], ["stopped a cyclist"])
    with pytest.raises(CameraError):
        camera.add_note("missing", "x")


def test_a_full_shift_of_jumps_replays_in_order() -> None:
    camera, clock = ready(CameraProfile(max_clip_length=timedelta(minutes=10)))
    recordings: list[Recording] = []
    for _ in range(4):
        recording = camera.start_recording()
        assert recording is not None
        recordings.append(recording)
        clock.advance(timedelta(minutes=45))
        camera.stop_recording()
        clock.advance(timedelta(minutes=30))
    assert all(len(rec.clips) == 5 for rec in recordings[1:])
    assert camera.power is Power.ON
    assert camera.storage.used_bytes == pytest.approx(sum(r.nominal_bytes for r in recordings))


def test_storage_model_rejects_nothing_it_cannot_hold() -> None:
    storage = Storage(capacity_bytes=10**6)
    assert storage.write(1e6, CameraProfile(), Environment()) < 1


def test_camera_obeys_only_its_own_system() -> None:
    camera, _ = new_camera()
    request = b"configure profile=night"
    assert not camera.accepts(request, identity_key().sign(request))
    camera.dock()
    camera.add_to_system(SYSTEM_ID, public_pem())
    assert camera.accepts(request, identity_key().sign(request))
    other = Ed25519PrivateKey.generate()
    assert not camera.accepts(request, other.sign(request))
    assert not camera.accepts(b"configure profile=day", identity_key().sign(request))


def test_ecdsa_and_rsa_identity_keys_verify_too() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    message = b"unlock"
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
    spki = (Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    cases = [
        (ec_key.public_key().public_bytes(*spki), ec_key.sign(message, ec.ECDSA(hashes.SHA256()))),
        (rsa_key.public_key().public_bytes(*spki), rsa_key.sign(message, pss, hashes.SHA256())),
    ]
    for public_bytes, signature in cases:
        camera, _ = new_camera()
        camera.dock()
        pem = public_bytes.decode()
        camera.add_to_system(SYSTEM_ID, pem)
        assert camera.accepts(message, signature)
        assert not camera.accepts(message + b"!", signature)


def test_mini_cube_trigger_needs_the_cube() -> None:
    camera, _ = ready()
    assert camera.trigger(Trigger.MINI_CUBE_BUTTON) is None
    camera.press_mini_cube()
    assert camera.recording is None


@pytest.mark.parametrize("indicator", list(FrontIndicator))
def test_mini_cube_indicator_follows_the_front_indicator_setting(indicator: FrontIndicator) -> None:
    camera, _ = ready(CameraProfile(front_indicator=indicator))
    camera.connect_mini_cube()
    assert camera.feedback().mini_cube_indicator == OFF
    camera.press_mini_cube()
    shown = camera.feedback()
    assert shown.mini_cube_indicator == shown.front_indicator
    assert shown.led(Led.RECORDING) == RED


def test_configuration_push_sets_time_zone_and_categories() -> None:
    camera, clock = assigned_docked()
    camera.configure(timezone="Europe/Stockholm", categories=["traffic", "theft"])
    with pytest.raises(CameraError):
        camera.configure(timezone="Mars/Olympus")
    camera.undock()
    clock.advance(timedelta(seconds=20))
    recording = camera.start_recording()
    assert recording is not None and recording.timezone == "Europe/Stockholm"
    camera.add_category(recording.id, "theft")
    with pytest.raises(CameraError):
        camera.add_category(recording.id, "parking")


def test_the_largest_allowed_durations_keep_the_camera_arithmetic_in_range() -> None:
    # Every duration at the top of its range (the manager refuses anything above).
    from bodyworn.domain.profile import DURATION_LIMITS

    longest = CameraProfile(**{name: high for name, (_low, high) in DURATION_LIMITS.items()})
    camera, clock = ready(longest, storage=storage_for_hours(8, longest),
                          charge=charge_for_hours(8, longest))
    recording = camera.start_recording()
    assert recording is not None
    clock.advance(longest.max_clip_length * 3 + MINUTE)
    camera.stop_recording()
    assert len(recording.clips) == 4
    assert all(c.duration <= longest.max_clip_length for c in recording.clips)
