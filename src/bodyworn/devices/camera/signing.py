"""What the camera signs with its device key: each closed clip and each finished recording.

Nothing is signed before the camera holds a certificate from its system (a camera in
shipping mode, or added by a controller that does not certify cameras, signs nothing:
its evidence shows "signature missing"). The statements are `evidence.signing`'s.
"""

from __future__ import annotations

from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodyworn.devices.camera.model import Clip, Recording
from bodyworn.devices.gnss import Position
from bodyworn.evidence.signing import (
    Fix,
    clip_statement,
    recording_statement,
    sign_jws,
)


class Signer(Protocol):
    """The parts of a camera that sign."""

    serial: str
    device_key: Ed25519PrivateKey
    device_chain: tuple[x509.Certificate, ...]


def _fix(position: Position | None) -> Fix | None:
    if position is None:
        return None
    return Fix(position.latitude, position.longitude, position.at)


def sign_clip(camera: Signer, recording: Recording, clip: Clip) -> str | None:
    """The JWS over a closed clip's statement, or None (no certificate, or no file)."""
    if not camera.device_chain or clip.sha256 is None or clip.path is None or clip.end is None:
        return None
    if clip.size is None:
        return None
    payload = clip_statement(
        camera=camera.serial, recording=recording.id, clip=clip.path.name, index=clip.index,
        start=clip.start, end=clip.end, size=clip.size, sha256=clip.sha256,
    )
    return sign_jws(payload, camera.device_key, camera.device_chain)


def sign_recording(camera: Signer, recording: Recording) -> str | None:
    """The JWS over a finished recording's statement, or None when it cannot be signed."""
    if not camera.device_chain or recording.stopped_at is None:
        return None
    clips = [(c.index, c.sha256) for c in recording.clips if c.sha256 is not None]
    if len(clips) != len(recording.clips):
        return None  # a clip without a file: nothing to vouch for
    track = [fix for fix in map(_fix, recording.track) if fix is not None]
    payload = recording_statement(
        camera=camera.serial, recording=recording.id, user=recording.user_id,
        firmware=recording.firmware, timezone=recording.timezone,
        trigger=recording.trigger.value, trigger_on=recording.trigger_on,
        trigger_off=recording.trigger_off, started_at=recording.started_at,
        stopped_at=recording.stopped_at,
        stop_reason=recording.stop_reason.value if recording.stop_reason else None,
        trigger_on_location=_fix(recording.start_position),
        trigger_off_location=_fix(recording.stop_position),
        track=track, categories=recording.categories, notes=recording.notes,
        clips=[(i, s) for i, s in clips if s is not None],
    )
    return sign_jws(payload, camera.device_key, camera.device_chain)
