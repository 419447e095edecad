"""Small builders for simulated cameras in known states."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bodyworn.devices import battery as battery_model
from bodyworn.devices.battery import Battery
from bodyworn.devices.camera import Camera, ClipSink
from bodyworn.devices.environment import Environment
from bodyworn.devices.gnss import Receiver
from bodyworn.devices.storage import Storage, bitrate, pre_buffer_reserve_bytes
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.profile import CameraProfile

SYSTEM_ID = "sys-0001"


@cache
def identity_key() -> Ed25519PrivateKey:
    """The test system's identity key (one per test run)."""
    return Ed25519PrivateKey.generate()


def public_pem(key: Ed25519PrivateKey | None = None) -> str:
    """PEM of a public identity key."""
    key = key or identity_key()
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def charge_for_hours(hours: float, profile: CameraProfile, env: Environment | None = None) -> float:
    """Battery charge that leaves `hours` of recording."""
    return hours * battery_model.recording_drain_per_hour(profile, env or Environment())


def storage_for_hours(
    hours: float, profile: CameraProfile, env: Environment | None = None
) -> Storage:
    """A storage whose free space holds `hours` of recording."""
    per_second = bitrate(profile, env or Environment()) / 8
    capacity = pre_buffer_reserve_bytes(profile) + hours * 3600 * per_second
    return Storage(capacity_bytes=int(capacity))


def new_camera(
    clock: ManualClock | None = None,
    *,
    serial: str = "B8A44F000001",
    charge: float = 1.0,
    storage: Storage | None = None,
    env: Environment | None = None,
    clip_sink: ClipSink | None = None,
    gnss: Receiver | None = None,
) -> tuple[Camera, ManualClock]:
    """A camera straight from the box (shipping mode, undocked)."""
    clock = clock or ManualClock()
    camera = Camera(
        serial,
        clock,
        battery=Battery(charge),
        storage=storage,
        environment=env,
        clip_sink=clip_sink,
        gnss=gnss,
    )
    return camera, clock


def added_docked(**kwargs: object) -> tuple[Camera, ManualClock]:
    """A camera added to the test system, sitting in a dock, without a user."""
    camera, clock = new_camera(**kwargs)  # type: ignore[arg-type]
    camera.dock()
    camera.add_to_system(SYSTEM_ID, public_pem())
    clock.advance(timedelta(seconds=30))
    return camera, clock


def assigned_docked(
    profile: CameraProfile | None = None, **kwargs: object
) -> tuple[Camera, ManualClock]:
    """An added camera with a user, docked and past its dock restart."""
    camera, clock = added_docked(**kwargs)
    camera.assign("officer-17", profile or CameraProfile())
    return camera, clock


def ready(profile: CameraProfile | None = None, **kwargs: object) -> tuple[Camera, ManualClock]:
    """An assigned camera undocked and started, ready to record."""
    camera, clock = assigned_docked(profile, **kwargs)
    camera.undock()
    clock.advance(timedelta(seconds=25))
    return camera, clock
