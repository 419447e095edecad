"""What a simulated camera says about itself over the dock link, as typed messages.

The messages and their JSON are the protocol library's (`bodyworn.docklink.messages`);
this module only reads a `Camera` into them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import MappingProxyType

from bodyworn.devices.camera import Camera, Clip, Recording
from bodyworn.devices.gnss import Position as Fix
from bodyworn.docklink.messages import (
    BatteryLevel,
    CameraInfo,
    ClipEntry,
    HolsterLink,
    Manifest,
    Position,
    RecordingEntry,
    StorageLevel,
)
from bodyworn.evidence.signing import pem


def position_of(fix: Fix | None) -> Position | None:
    """A GNSS fix as the link carries it."""
    if fix is None:
        return None
    return Position(fix.latitude, fix.longitude, fix.at)


def offloadable_clips(recording: Recording) -> list[Clip]:
    """Clips of a recording that are closed and written to a file."""
    return [
        clip for clip in recording.clips
        if clip.end is not None and clip.path is not None and clip.sha256 is not None
    ]


def clip_entry(clip: Clip) -> ClipEntry:
    """One closed clip's entry in the manifest."""
    assert clip.path is not None and clip.end is not None and clip.sha256 is not None
    assert clip.size is not None
    return ClipEntry(
        name=clip.path.name, index=clip.index, start=clip.start, end=clip.end,
        duration_s=clip.duration.total_seconds(), size=clip.size, sha256=clip.sha256,
        # The CD checks uploads against it; None from a camera that did not keep one.
        md5=clip.md5,
        signature=clip.signature,
    )


def recording_entry(recording: Recording) -> RecordingEntry:
    """One recording with its clips and metadata, as the manifest lists it."""
    track = tuple(fix for fix in map(position_of, recording.track) if fix is not None)
    return RecordingEntry(
        id=recording.id,
        camera_serial=recording.camera_serial,
        user_id=recording.user_id,
        profile=recording.profile.name,
        firmware=recording.firmware,
        timezone=recording.timezone,
        trigger=recording.trigger.value,
        trigger_on=recording.trigger_on,
        trigger_off=recording.trigger_off,
        trigger_on_location=position_of(recording.start_position),
        trigger_off_location=position_of(recording.stop_position),
        started_at=recording.started_at,
        stopped_at=recording.stopped_at,
        pre_buffer_s=recording.pre_buffer.total_seconds(),
        stop_reason=recording.stop_reason.value if recording.stop_reason else None,
        microphone_off=tuple(recording.muted),
        gnss_track=track,
        categories=tuple(recording.categories),
        notes=tuple(recording.notes),
        clips=tuple(clip_entry(clip) for clip in offloadable_clips(recording)),
        signature=recording.signature,
        power_line_frequency=recording.power_line_frequency,
    )


def manifest_of(camera: Camera) -> Manifest:
    """Every finished recording on the camera with its clips."""
    return Manifest(camera.serial, tuple(
        recording_entry(recording)
        for recording in camera.recordings
        if recording.stopped_at is not None
    ))


def info_of(camera: Camera, *, time: datetime, time_offset: timedelta) -> CameraInfo:
    """What a camera tells about itself: identity, system, user, levels, lock and LEDs."""
    feedback = camera.feedback()
    storage = camera.storage
    return CameraInfo(
        serial=camera.serial,
        model=camera.model,
        firmware=camera.firmware,
        shipping_mode=camera.shipping_mode,
        system_id=camera.system_id,
        user_id=camera.user_id,
        profile=camera.profile,
        timezone=camera.timezone,
        categories=tuple(camera.categories),
        time=time,
        time_offset_s=time_offset.total_seconds(),
        locked=camera.locked,
        docked=camera.docked,
        offload_ready=camera.offload_ready,
        busy=camera.busy_docked,
        battery=BatteryLevel(
            charge=round(camera.battery.charge, 6),
            hours_left=round(camera.battery_hours_left(), 4),
        ),
        storage=StorageLevel(
            capacity_bytes=storage.capacity_bytes,
            used_bytes=round(storage.used_bytes),
            hours_left=round(camera.storage_hours_left(), 4),
            error=storage.error,
        ),
        recordings=len(camera.recordings),
        holster=HolsterLink(camera.expected_holster, camera.holster.value),
        faults=tuple(sorted(fault.value for fault in camera.faults)),
        leds=MappingProxyType({led.value: state for led, state in feedback.leds.items()}),
        device_key=camera.device_public_pem,
        device_certificate=pem(camera.device_chain[0]).decode("ascii")
        if camera.device_chain else None,
        power_line_frequency=camera.power_line_frequency,
    )
