"""Whatever a user does and however the clock jumps, the camera's books stay balanced."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bodyworn.devices.camera import Fault, Power
from bodyworn.devices.feedback import Button, Led
from bodyworn.domain.profile import CameraProfile, RecordingActivation
from tests.devices.factories import charge_for_hours, ready, storage_for_hours

PROFILE = CameraProfile(
    max_clip_length=timedelta(seconds=30),
    allow_audio_off=True,
    allow_silent_mode=True,
    activation=RecordingActivation.SINGLE_CLICK,
    periodic_reminder=timedelta(minutes=1),
)


class CameraMachine(RuleBasedStateMachine):
    """Random presses, docks, faults and clock jumps on one camera."""

    def __init__(self) -> None:
        super().__init__()
        self.camera, self.clock = ready(
            PROFILE,
            charge=charge_for_hours(2.0, PROFILE),
            storage=storage_for_hours(1.5, PROFILE),
        )

    @rule(seconds=st.integers(min_value=0, max_value=4 * 3600))
    def wait(self, seconds: int) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    @rule(
        button=st.sampled_from(list(Button)),
        hold=st.sampled_from([0.0, 3.0, 4.0, 5.0]),
        clicks=st.integers(min_value=1, max_value=2),
    )
    def press(self, button: Button, hold: float, clicks: int) -> None:
        self.camera.press(button, hold=hold, clicks=clicks)

    @rule()
    def dock_and_offload(self) -> None:
        self.camera.dock()
        for recording in list(self.camera.recordings):
            self.camera.delete_recording(recording.id)

    @rule()
    def undock(self) -> None:
        self.camera.undock()

    @rule(fault=st.sampled_from(list(Fault)), present=st.booleans())
    def fault(self, fault: Fault, present: bool) -> None:
        self.camera.set_fault(fault, present)

    @invariant()
    def storage_matches_recordings(self) -> None:
        held = sum(recording.nominal_bytes for recording in self.camera.recordings)
        assert abs(self.camera.storage.used_bytes - held) < 1_000

    @invariant()
    def battery_in_range(self) -> None:
        assert 0.0 <= self.camera.battery.charge <= 1.0

    @invariant()
    def clips_are_contiguous_and_bounded(self) -> None:
        for recording in self.camera.recordings:
            assert recording.clips[0].start == recording.started_at
            for before, after in pairwise(recording.clips):
                assert before.end == after.start
                assert before.duration <= PROFILE.max_clip_length
            if recording.stopped_at is not None:
                assert recording.clips[-1].end == recording.stopped_at

    @invariant()
    def one_recording_at_most_and_only_when_running(self) -> None:
        running = [r for r in self.camera.recordings if r.stopped_at is None]
        assert len(running) <= 1
        if running:
            assert self.camera.power is Power.ON and not self.camera.docked
            assert self.camera.feedback().led(Led.RECORDING) is not None


CameraMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCameraMachine = CameraMachine.TestCase
