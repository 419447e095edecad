"""Storage model: bitrate by profile and scene, hours of recording left, the pre-buffer space.

The manual says which conditions raise the bitrate and that the pre-buffer has its own
space which complex 1080p scenes can overrun; the figures below are our assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bodyworn.devices.environment import Environment, Scene
from bodyworn.domain.profile import CameraProfile, Resolution

DEFAULT_CAPACITY_BYTES = 64 * 10**9
SCENE_BITRATE = {Scene.LOW: 0.6, Scene.MEDIUM: 1.0, Scene.HIGH: 1.6}
LOW_LIGHT_BITRATE = 1.3
# The pre-buffer space is sized for a busy-ish 1080p scene; only harder scenes overrun it.
PRE_BUFFER_HEADROOM = 1.25
PRE_BUFFER_SIZING = CameraProfile(resolution=Resolution.P1080)


def bitrate(profile: CameraProfile, env: Environment) -> float:
    """Bits per second the camera writes under this profile and these conditions."""
    video = profile.video_bitrate * SCENE_BITRATE[env.scene]
    if env.low_light:
        video *= LOW_LIGHT_BITRATE
    return video + profile.audio_bitrate


def pre_buffer_reserve_bytes(profile: CameraProfile) -> int:
    """Bytes set aside for the pre-buffer of this profile."""
    seconds = profile.pre_buffer.total_seconds()
    per_second = (PRE_BUFFER_SIZING.video_bitrate + profile.audio_bitrate) / 8
    return int(seconds * per_second * PRE_BUFFER_HEADROOM)


def effective_pre_buffer(profile: CameraProfile, env: Environment) -> timedelta:
    """The pre-buffer actually held: shorter than configured when the scene overruns its space."""
    fits = pre_buffer_reserve_bytes(profile) / (bitrate(profile, env) / 8)
    return min(profile.pre_buffer, timedelta(seconds=fits))


@dataclass
class Storage:
    """The camera's recording space: capacity and bytes held by recordings."""

    capacity_bytes: int = DEFAULT_CAPACITY_BYTES
    used_bytes: float = 0.0
    error: bool = False

    def free_bytes(self, profile: CameraProfile) -> float:
        """Bytes free for new recordings once the pre-buffer space is set aside."""
        return max(0.0, self.capacity_bytes - self.used_bytes - pre_buffer_reserve_bytes(profile))

    def hours_left(self, profile: CameraProfile, env: Environment) -> float:
        """Hours of recording the free space holds at the current bitrate."""
        return self.free_bytes(profile) / (bitrate(profile, env) / 8) / 3600

    def full(self, profile: CameraProfile) -> bool:
        """Whether no recording space is left."""
        return self.free_bytes(profile) < 1.0

    def write(self, seconds: float, profile: CameraProfile, env: Environment) -> float:
        """Fill space for `seconds` of recording; return the seconds that fitted."""
        if seconds <= 0:
            return 0.0
        per_second = bitrate(profile, env) / 8
        fitted = min(seconds, self.free_bytes(profile) / per_second)
        self.used_bytes += fitted * per_second
        return fitted

    def release(self, nbytes: float) -> None:
        """Free the space of an offloaded recording."""
        self.used_bytes = max(0.0, self.used_bytes - nbytes)
