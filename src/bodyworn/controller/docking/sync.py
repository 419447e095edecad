"""Bringing a docked camera up to date: wait for its restart, then time, time zone, power
line frequency, the user's profile, the CD's categories, the Assistant's pairings, and
the system's firmware when the camera runs another version."""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog

from bodyworn.controller.assistant_pairing import service as assistant_pairing
from bodyworn.controller.cameras import service as cameras
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.firmware import service as firmware
from bodyworn.controller.integrity import service as integrity
from bodyworn.controller.ports import CameraOffload
from bodyworn.controller.profiles import service as profiles
from bodyworn.controller.system import service as system
from bodyworn.controller.users import service as users
from bodyworn.docklink.client import DockLinkClient, DockLinkError
from bodyworn.docklink.messages import CameraInfo
from bodyworn.domain.profile import CameraProfile

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ReadyWait:
    """A docked camera restarts before it can be offloaded (20 s of its time): wait this
    long (real seconds) for it, asking every `poll_s`."""

    timeout_s: float = 180.0
    poll_s: float = 0.5


def wait_ready(camera: DockLinkClient, wait: ReadyWait) -> CameraInfo | None:
    """The camera's info once it can be offloaded (or is locked); None on time-out."""
    deadline = time.monotonic() + wait.timeout_s
    while True:
        info = camera.info()
        if info.offload_ready or info.locked:
            return info
        if time.monotonic() >= deadline:
            return None
        time.sleep(wait.poll_s)


@dataclass(frozen=True)
class _Pushed:
    timezone: str | None
    power_line_frequency: int | None
    profile: CameraProfile | None


def _settings_for(ctx: ControllerContext, user_ref: str | None) -> _Pushed:
    """The system's time zone and power line frequency, the profile of the camera's user."""
    with ctx.factory() as session:
        row = system.settings_if_set_up(session)
        user = users.find(session, user_ref)
        profile = profiles.camera_profile(session, user.profile_id) if user else None
    return _Pushed(row.timezone if row else None, row.power_line_frequency if row else None,
                   profile)


def certify(ctx: ControllerContext, serial: str, camera: DockLinkClient,
            info: CameraInfo) -> None:
    """A camera without this system's certificate for its device key gets one (added
    before cameras were certified, or its certificate lost); one that refuses it is
    offloaded all the same, its clips unsigned."""
    try:
        integrity.enrol_camera(ctx, serial, camera, info)
    except DockLinkError as exc:
        log.warning("offload.camera_not_certified", camera=serial, error=str(exc))


def sync_camera(ctx: ControllerContext, serial: str, camera: DockLinkClient,
                info: CameraInfo, offload: CameraOffload) -> CameraInfo:
    """The camera's certificate when it lacks one; push time, time zone, power line
    frequency, the user's profile and categories, the Assistant's pairings; the system's
    firmware when the camera runs another version."""
    if info.locked:
        return info
    certify(ctx, serial, camera, info)
    pushed = _settings_for(ctx, info.user_id)
    names = offload.category_names()
    info = camera.configure(
        time=ctx.clock.now(), timezone=pushed.timezone, profile=pushed.profile,
        categories=names or None, power_line_frequency=pushed.power_line_frequency,
    )
    # The camera's own log, kept for the system report (support/).
    cameras.save_log(ctx, serial, camera)
    # The Assistant: the camera's certificate and its user's pairings (one step of its own).
    assistant_pairing.sync_camera(ctx, serial, camera, info,
                                  annotations=offload.stores_bookmarks)
    # The system's firmware (firmware/: a signed bundle installed on Settings → Firmware).
    return firmware.upgrade_camera(ctx, serial, camera, info)
