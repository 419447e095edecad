"""Recording: triggers, clips split at the profile's length, stopping, and freeing storage."""

from __future__ import annotations

from datetime import datetime, timedelta

from bodyworn.devices.camera.model import (
    TRACK_STEP,
    CameraError,
    Clip,
    Extension,
    Fault,
    Holster,
    Power,
    Recording,
    StopReason,
)
from bodyworn.devices.camera.signing import sign_clip, sign_recording
from bodyworn.devices.camera.state import CameraState
from bodyworn.devices.feedback import Sound
from bodyworn.devices.gnss import Position
from bodyworn.devices.storage import bitrate, effective_pre_buffer
from bodyworn.domain.profile import Trigger


class RecordingPart(CameraState):
    """Starting and stopping recordings, splitting them into clips, deleting offloaded ones."""

    def trigger(self, trigger: Trigger) -> Recording | None:
        """An automatic trigger fired (fall, unholster); start if the profile allows it."""
        self._sync()
        if trigger is Trigger.FALL and not self.profile.fall_detection:
            return None
        if trigger is Trigger.UNHOLSTER and self.holster is not Holster.PAIRED:
            return None
        if trigger is Trigger.MINI_CUBE_BUTTON and not self.mini_cube:
            return None
        if self.docked or self._power is not Power.ON or self._user_id is None:
            return None
        return self.start_recording(trigger)

    def start_recording(self, trigger: Trigger = Trigger.BUTTON) -> Recording | None:
        """Start a recording now, reaching back over the pre-buffer; None if not possible."""
        now = self._now()
        if self._recording:
            return self._recording
        if (
            self.docked
            or self._power is not Power.ON
            or self._user_id is None
            or self._locked
            or self._extension is Extension.SWITCHING
        ):
            return None
        if self._cannot_record() or self._storage.full(self.profile):
            self._signal("cannot_record", Sound.TWO_SHORT_ONE_LONG, Sound.TWO_SHORT_ONE_LONG)
            return None
        pre = timedelta(0)
        if self.profile.pre_buffer and self._buffer_since:
            pre = min(effective_pre_buffer(self.profile, self._env), now - self._buffer_since)
        self._counter += 1
        recording = Recording(
            id=f"{self.serial}-{now:%Y%m%dT%H%M%SZ}-{self._counter:04d}",
            camera_serial=self.serial,
            user_id=self._user_id,
            profile=self.profile,
            trigger=trigger,
            trigger_on=now,
            started_at=now - pre,
            pre_buffer=pre,
            firmware=self.firmware,
            timezone=self.timezone,
            power_line_frequency=self.power_line_frequency,
        )
        first = Clip(recording.id, 0, recording.started_at)
        # The pre-buffer already sits in its own reserved space; it now becomes recording data.
        pre_bytes = pre.total_seconds() * bitrate(self.profile, self._env) / 8
        self._storage.used_bytes += pre_bytes
        first.nominal_bytes = pre_bytes
        recording.clips.append(first)
        if not self._microphone_on:
            recording.muted.append((recording.started_at, None))
        recording.start_position = self._position(now)
        self._recording = recording
        self.recordings.append(recording)
        interval = self.profile.periodic_reminder
        self._next_reminder = now + interval if interval else None
        self._notify("recording_start")
        self._note("info", f"recording {recording.id} started ({trigger.value})")
        return recording

    def stop_recording(self) -> Recording | None:
        """Stop the running recording (as the button does); return it."""
        self._sync()
        if not self._recording:
            return None
        return self._stop(StopReason.BUTTON)

    def _cannot_record(self) -> bool:
        return bool(self.faults & {Fault.SOFTWARE, Fault.STORAGE}) or self._storage.error

    def _position(self, now: datetime) -> Position | None:
        if not self.profile.location_data:
            return None
        return self.gnss.position(now, outdoor=self._env.outdoor)

    def _toggle_microphone(self, now: datetime) -> None:
        self._microphone_on = not self._microphone_on
        muted = self._recording.muted if self._recording else None
        if muted is None:
            return
        if not self._microphone_on:
            muted.append((now, None))
        elif muted and muted[-1][1] is None:
            muted[-1] = (muted[-1][0], now)

    def _split(self, at: datetime) -> None:
        assert self._recording is not None
        current = self._recording.clips[-1]
        current.end = at
        self._close_clip(self._recording, current)
        self._recording.clips.append(Clip(self._recording.id, current.index + 1, at))

    def _stop(self, reason: StopReason) -> Recording:
        assert self._recording is not None
        now = self._last
        recording = self._recording
        recording.trigger_off = now
        recording.stopped_at = now
        recording.stop_reason = reason
        recording.stop_position = self._position(now)
        if self.profile.location_data:
            recording.track = self.gnss.track(
                recording.started_at, now, TRACK_STEP, outdoor=self._env.outdoor
            )
        if recording.muted and recording.muted[-1][1] is None:
            recording.muted[-1] = (recording.muted[-1][0], now)
        last = recording.clips[-1]
        last.end = now
        if last.duration <= timedelta(0) and len(recording.clips) > 1:
            recording.clips.pop()
        else:
            self._close_clip(recording, last)
        self._recording = None
        self._next_reminder = None
        self._buffer_since = now
        self._sign_recording(recording)
        self._notify("recording_stop")
        self._note("info", f"recording {recording.id} stopped ({reason.value})")
        return recording

    def _close_clip(self, recording: Recording, clip: Clip) -> None:
        if self._clip_sink is not None:
            self._clip_sink(recording, clip)
        # Signed where it is made, before anything leaves the camera.
        clip.signature = sign_clip(self, recording, clip)

    def _sign_recording(self, recording: Recording) -> None:
        if recording.stopped_at is not None:
            recording.signature = sign_recording(self, recording)

    # ---- storage of recordings ----------------------------------------------------

    def delete_recording(self, recording_id: str) -> None:
        """Drop an offloaded recording and free its space."""
        self._sync()
        for recording in self.recordings:
            if recording.id == recording_id:
                if recording is self._recording:
                    raise CameraError("cannot delete the running recording")
                self.recordings.remove(recording)
                self._storage.release(recording.nominal_bytes)
                return
        raise CameraError(f"no recording {recording_id}")

    def delete_clip(self, recording_id: str, index: int) -> Clip:
        """Drop one offloaded clip and free its space; the recording goes with its last clip."""
        self._sync()
        recording = self._find(recording_id)
        if recording is self._recording:
            raise CameraError("cannot delete a clip of the running recording")
        for clip in recording.clips:
            if clip.index == index:
                recording.clips.remove(clip)
                self._storage.release(clip.nominal_bytes)
                if not recording.clips:
                    self.recordings.remove(recording)
                return clip
        raise CameraError(f"no clip {index} in recording {recording_id}")

    def add_category(self, recording_id: str, category: str) -> None:
        """Attach one of the configured categories to a recording (from the assistant app)."""
        if self.categories and category not in self.categories:
            raise CameraError(f"no category {category!r} on this system")
        recording = self._find(recording_id)
        recording.categories.append(category)
        self._sign_recording(recording)

    def add_note(self, recording_id: str, note: str) -> None:
        """Attach a free-text note to a recording (from the assistant app)."""
        recording = self._find(recording_id)
        recording.notes.append(note)
        self._sign_recording(recording)

    def _find(self, recording_id: str) -> Recording:
        for recording in self.recordings:
            if recording.id == recording_id:
                return recording
        raise CameraError(f"no recording {recording_id}")
