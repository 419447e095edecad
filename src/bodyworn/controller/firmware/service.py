"""System firmware: verify a signed bundle, install it, upgrade cameras, say who runs what.

An install checks the bundle whole (signature by a trusted release key, contents, size:
`bodyworn.firmware.bundle`) and its version before anything changes: only a newer
version than the one installed is taken, since going back goes through a system reset
and a new setup (where the wizard takes any version). The bundle is kept as verified in
`<data>/firmware/`, written before the row that names it, and `FirmwareInstalled` is
emitted in the install's transaction. The caller then restarts the controller's services
(app.py), which brings docked cameras up to date at once; an undocked camera is brought
up to date by its next docking (`upgrade_camera`, the on-dock sync's step).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from bodyworn import __version__
from bodyworn.controller.audit.service import record
from bodyworn.controller.cameras import service as cameras
from bodyworn.controller.cameras.states import CameraState
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.events import FirmwareInstalled, emit
from bodyworn.controller.firmware.models import FirmwareInstall
from bodyworn.controller.refusals import Refused
from bodyworn.controller.settings import ControllerSettings
from bodyworn.docklink.client import DockLinkClient
from bodyworn.docklink.messages import CameraInfo
from bodyworn.domain.clock import Clock
from bodyworn.firmware.bundle import (
    SHIPPED_VERSION,
    Bundle,
    BundleRefused,
    read_bundle,
    version_key,
)
from bodyworn.firmware.keys import trusted_keys
from bodyworn.store.files import make_dirs_durable, write_file_atomic

log = structlog.get_logger(__name__)
FOLDER = "firmware"


class FirmwareRefused(Refused):
    """A firmware file that is not installed; the message says why (nothing changed)."""

    status = 422


def trusted(settings: ControllerSettings) -> list[Ed25519PublicKey]:
    """The keys firmware must be signed with (the release key unless a setting names one)."""
    return trusted_keys(settings.firmware_key_file)


def verify(settings: ControllerSettings, data: bytes) -> Bundle:
    """The bundle, verified whole; FirmwareRefused says what is wrong with the file."""
    try:
        return read_bundle(data, trusted(settings))
    except BundleRefused as exc:
        raise FirmwareRefused(str(exc)) from None


def installed(session: Session) -> FirmwareInstall | None:
    """The firmware in force (the newest install), None while the system runs as shipped."""
    return session.scalars(select(FirmwareInstall).order_by(FirmwareInstall.id.desc())
                           .limit(1)).first()


def system_version(session: Session) -> str:
    """The system's firmware version."""
    row = installed(session)
    return row.version if row is not None else SHIPPED_VERSION


def refusal_for(current: str, new: str) -> FirmwareRefused | None:
    """Why `new` may not replace `current` (None: it may, it is newer)."""
    if version_key(new) == version_key(current):
        return FirmwareRefused(f"Firmware {new} is installed already.", 409)
    if version_key(new) < version_key(current):
        return FirmwareRefused(
            f"Firmware {new} is older than the installed {current}. To go back to an "
            "older version, reset the system and upload that firmware file in the setup "
            "wizard.", 409)
    return None


def store_file(data_dir: Path, bundle: Bundle) -> str:
    """Keep the verified bundle in <data>/firmware (durably); its file name."""
    folder = data_dir / FOLDER
    make_dirs_durable(folder)
    name = f"{bundle.version}-{bundle.sha256[:16]}.bwfw"
    write_file_atomic(folder / name, bundle.data)
    return name


def record_install(session: Session, clock: Clock, data_dir: Path, bundle: Bundle,
                   file_name: str, *, actor: str, source: str,
                   during_setup: bool = False) -> FirmwareInstall:
    """Record an install (its file already stored) in the caller's transaction."""
    now = clock.now()
    row = FirmwareInstall(
        version=bundle.version, file_name=file_name, bundle_sha256=bundle.sha256,
        manifest_json=json.dumps(bundle.manifest.to_json(), sort_keys=True),
        key_id=bundle.key_id, installed_at=now, installed_by=actor[:64],
        during_setup=during_setup)
    session.add(row)
    session.flush()
    record(session, clock, actor=actor, action="firmware.install",
           detail=f"{bundle.version} (bundle {bundle.sha256[:16]}, release key "
                  f"{bundle.key_id}){' in setup' if during_setup else ''}", source=source)
    emit(session, FirmwareInstalled(bundle.version, bundle.sha256,
                                    str(data_dir / FOLDER / file_name),
                                    bundle.manifest.camera_models, now, during_setup))
    return row


class Installer:
    """The FirmwareInstaller port: what setup uses (app.py gives it to the context)."""

    def __init__(self, settings: ControllerSettings) -> None:
        self.settings = settings

    def verify(self, data: bytes) -> Bundle:
        """The bundle verified whole (FirmwareRefused says why not)."""
        return verify(self.settings, data)

    def install_in_setup(self, session: Session, clock: Clock, bundle: Bundle, *,
                         actor: str, source: str) -> None:
        """Keep the file, then record the install in setup's transaction (a file left
        by a setup that rolled back is harmless: nothing names it)."""
        file_name = store_file(self.settings.data_dir, bundle)
        record_install(session, clock, self.settings.data_dir, bundle, file_name,
                       actor=actor, source=source, during_setup=True)


def _denied(session: Session, clock: Clock, refusal: FirmwareRefused, *, actor: str,
            source: str) -> None:
    record(session, clock, actor=actor, action="firmware.install", outcome="denied",
           detail=refusal.message[:500], source=source)
    raise FirmwareRefused(refusal.message, refusal.status, keep=True)


def _commit(session: Session, clock: Clock, data_dir: Path, bundle: Bundle, file_name: str,
            *, actor: str, source: str) -> str:
    refusal = refusal_for(system_version(session), bundle.version)
    if refusal is not None:  # another upload won meanwhile
        _denied(session, clock, refusal, actor=actor, source=source)
    record_install(session, clock, data_dir, bundle, file_name, actor=actor, source=source)
    return bundle.version


def install(ctx: ControllerContext, data: bytes, *, actor: str, source: str) -> str:
    """Verify and install a firmware file (a refusal is audited); the version installed.

    The caller restarts the controller's services afterwards.
    """
    try:
        bundle = verify(ctx.settings, data)
        with ctx.factory() as session:
            refusal = refusal_for(system_version(session), bundle.version)
        if refusal is not None:
            raise refusal
    except FirmwareRefused as exc:
        ctx.write(_denied, exc, actor=actor, source=source)
        raise  # pragma: no cover - _denied raises
    file_name = store_file(ctx.data_dir, bundle)
    version = ctx.write(_commit, ctx.data_dir, bundle, file_name, actor=actor, source=source)
    log.info("firmware.installed", version=version, bundle=bundle.sha256[:16])
    return version


# ---- cameras ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraImage:
    """The system firmware's image for one camera model."""

    version: str
    data: bytes
    sha256: str


def camera_image(ctx: ControllerContext, model: str) -> CameraImage | None:
    """The installed firmware's image for `model` (None: none installed, or none for it).

    The kept bundle is checked again (its sha256 as installed, its signature), so a file
    changed on disk is never sent to a camera.
    """
    with ctx.factory() as session:
        row = installed(session)
        if row is None:
            return None
        file_name, sha = row.file_name, row.bundle_sha256
    try:
        data = (ctx.data_dir / FOLDER / file_name).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha:
            raise BundleRefused("the kept bundle is not the one installed")
        bundle = read_bundle(data, trusted(ctx.settings))
    except (OSError, BundleRefused) as exc:
        log.error("firmware.bundle_unusable", file=file_name, error=str(exc))
        return None
    part = bundle.manifest.camera_image(model)
    if part is None:
        return None
    return CameraImage(bundle.version, bundle.read(part), part.sha256)


def upgrade_camera(ctx: ControllerContext, serial: str, camera: DockLinkClient,
                   info: CameraInfo) -> CameraInfo:
    """The on-dock step: a camera that does not run the system's firmware gets it.

    A camera runs the system's version, whichever way it differs: after a reset and a
    new setup with older firmware, cameras are brought back to it too.
    """
    image = camera_image(ctx, info.model)
    if image is None or info.firmware == image.version:
        return info
    accepted = camera.push_firmware(image.version, image.data)
    if accepted.image_sha256 != image.sha256 or accepted.firmware != image.version:
        log.warning("firmware.camera_took_other", camera=serial, version=accepted.firmware,
                    sha256=accepted.image_sha256)
    after = camera.info()
    with ctx.factory() as session, session.begin():
        cameras.store_info(session, ctx.clock, serial, after)
        record(session, ctx.clock, actor="system", action="firmware.camera",
               detail=f"{serial}: {info.firmware} -> {after.firmware}", source="dock")
    log.info("firmware.camera_upgraded", camera=serial, was=info.firmware,
             version=after.firmware)
    return after


# ---- who runs what ------------------------------------------------------------------------


@dataclass(frozen=True)
class ControllerVersion:
    """A system controller's firmware and software."""

    name: str
    role: str
    firmware: str
    software: str
    installed_at: datetime | None


@dataclass(frozen=True)
class CameraVersion:
    """A camera's firmware, and whether it runs the system's."""

    serial: str
    model: str
    firmware: str
    docked: bool
    current: bool


@dataclass(frozen=True)
class InstallView:
    """One install, for the history."""

    version: str
    installed_at: datetime
    installed_by: str
    during_setup: bool
    bundle_sha256: str
    key_id: str


@dataclass(frozen=True)
class Versions:
    """The system's firmware, each controller's and each camera's."""

    system: str
    controllers: list[ControllerVersion]
    cameras: list[CameraVersion]
    history: list[InstallView]


def versions(session: Session, system_name: str) -> Versions:
    """Every controller's and camera's version (cameras as they last said)."""
    row = installed(session)
    system = row.version if row is not None else SHIPPED_VERSION
    controllers = [ControllerVersion(system_name, "primary", system, __version__,
                                     row.installed_at if row else None)]
    # With nothing installed, cameras keep what they run: nothing is pushed to them.
    cams = [CameraVersion(v.serial, v.model, v.firmware, v.docked,
                          row is None or v.firmware == system)
            for v in cameras.list_cameras(session, CameraState.ADDED)]
    history = [InstallView(r.version, r.installed_at, r.installed_by, r.during_setup,
                           r.bundle_sha256, r.key_id)
               for r in session.scalars(select(FirmwareInstall)
                                        .order_by(FirmwareInstall.id.desc()).limit(20))]
    return Versions(system, controllers, cams, history)
