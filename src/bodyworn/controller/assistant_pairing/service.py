"""Pairing body worn users with AXIS Body Worn Assistant: issue, show, sync, remove.

The administrator starts a pairing for a user (Local: the QR code and PIN on screen;
Remote: a pairing sheet). The QR code names the pairing, carries the system identity
key's fingerprint and a one-time secret; the PIN is separate. Cameras get only verifiers,
at docking (`sync_camera`, called by the on-dock sync), and report back at their next
docking which device completed a pairing or which pairing too many wrong PINs ended.
Removing a pairing ends it on the system side: cameras drop it when they next dock (a
docked camera of the user at once).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
import segno
import structlog
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from bodyworn.controller.assistant_pairing import delivery
from bodyworn.controller.assistant_pairing.delivery import PairingSheet
from bodyworn.controller.assistant_pairing.models import (
    PIN_PURPOSE,
    SECRET_PURPOSE,
    AssistantPairingRow,
)
from bodyworn.controller.assistant_pairing.states import BlockedReason, PairingMode, PairingState
from bodyworn.controller.audit.service import record
from bodyworn.controller.cameras import service as cameras
from bodyworn.controller.cameras.states import CameraState
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.identity.keys import public_key_fingerprint
from bodyworn.controller.identity.service import public_key_pem, signing_identity
from bodyworn.controller.refusals import Refused
from bodyworn.controller.users import service as users
from bodyworn.controller.users.models import BodyWornUser
from bodyworn.docklink.client import DockLinkClient, DockLinkError
from bodyworn.docklink.messages import (
    AssistantConfig,
    AssistantPairing,
    AssistantReport,
    CameraInfo,
)
from bodyworn.domain.clock import Clock
from bodyworn.store.secrets import box_of
from bodyworn.wireless import wire
from bodyworn.wireless.certs import camera_certificate, system_ca
from bodyworn.wireless.pairing import (
    PairingCode,
    device_fingerprint,
    new_pairing_code,
    new_pin,
    pin_verifier,
    secret_verifier,
)

log = structlog.get_logger(__name__)
LINK_ERRORS = (DockLinkError, httpx.HTTPError, ValueError)


class PairingRefused(Refused):
    """A pairing request the rules refuse."""


@dataclass(frozen=True)
class PairingView:
    """A pairing as the user's page lists it."""

    pairing_id: str
    user_uuid: str
    mode: PairingMode
    state: PairingState
    blocked_reason: BlockedReason | None
    issued_at: datetime
    expires_at: datetime
    expired: bool
    device: str | None
    paired_at: datetime | None
    paired_camera: str | None
    mailed_to: str | None = None

    @property
    def usable(self) -> bool:
        """Whether the QR code and PIN can still be used."""
        return self.state == PairingState.PENDING and not self.expired


@dataclass(frozen=True)
class PairingCodeView:
    """A pending pairing's QR code and PIN, to show (or send) while they are valid."""

    pairing: PairingView
    user: users.UserView
    text: str
    pin: str
    qr_svg: str


def _view(row: AssistantPairingRow, now: datetime) -> PairingView:
    return PairingView(
        pairing_id=row.pairing_id, user_uuid=row.user_uuid, mode=PairingMode(row.mode),
        state=PairingState(row.state),
        blocked_reason=BlockedReason(row.blocked_reason) if row.blocked_reason else None,
        issued_at=row.issued_at, expires_at=row.expires_at,
        expired=row.state == PairingState.PENDING and now > row.expires_at,
        device=row.device_fingerprint[:16] if row.device_fingerprint else None,
        paired_at=row.paired_at, paired_camera=row.paired_camera, mailed_to=row.mailed_to,
    )


def qr_svg(text: str) -> str:
    """The QR code of `text` as inline SVG (segno)."""
    code = segno.make(text, error="m")
    return str(code.svg_inline(scale=5, border=4, dark="#000", light="#fff"))


def _row(session: Session, user_uuid: str, pairing_id: str) -> AssistantPairingRow:
    row = session.scalars(select(AssistantPairingRow).where(
        AssistantPairingRow.pairing_id == pairing_id,
        AssistantPairingRow.user_uuid == user_uuid)).first()
    if row is None:
        raise LookupError(f"no pairing {pairing_id}")
    return row


def pairings(session: Session, clock: Clock, user_uuid: str) -> list[PairingView]:
    """A user's Assistant pairings, newest first."""
    now = clock.now()
    rows = session.scalars(select(AssistantPairingRow).where(
        AssistantPairingRow.user_uuid == user_uuid).order_by(AssistantPairingRow.id.desc()))
    return [_view(row, now) for row in rows]


def view_of(session: Session, clock: Clock, user_uuid: str, pairing_id: str) -> PairingView:
    """One pairing of a user; LookupError when there is none."""
    return _view(_row(session, user_uuid, pairing_id), clock.now())


def start(session: Session, clock: Clock, user_uuid: str, mode: str, *, actor: str,
          source: str) -> str:
    """Issue a pairing for a user (its QR code and PIN valid 24 hours); its id.

    A pending pairing of the user that nobody used is replaced: one code to hand out.
    """
    user = users.get(session, user_uuid)
    try:
        how = PairingMode(mode)
    except ValueError:
        raise PairingRefused("Choose Local pairing or Remote pairing.", 422) from None
    code = new_pairing_code(public_key_fingerprint(public_key_pem(session).encode("ascii")))
    pin = new_pin()
    now = clock.now()
    session.execute(delete(AssistantPairingRow).where(
        AssistantPairingRow.user_uuid == user_uuid,
        AssistantPairingRow.state == PairingState.PENDING))
    box = box_of(session)
    session.add(AssistantPairingRow(
        pairing_id=code.pairing_id, user_uuid=user_uuid, mode=how, state=PairingState.PENDING,
        blocked_reason=None, secret_sha256=secret_verifier(code.secret),
        pin_verifier=pin_verifier(code.secret, code.pairing_id, pin),
        secret_sealed=box.seal(code.secret, SECRET_PURPOSE),
        pin_sealed=box.seal(pin.encode("ascii"), PIN_PURPOSE),
        issued_at=now, expires_at=now + wire.PAIRING_VALIDITY, device_key=None,
        device_fingerprint=None, paired_at=None, paired_camera=None, created_by=actor[:64],
    ))
    record(session, clock, actor=actor, action="assistant.pair.start",
           detail=f"{user.uuid}: {how.value} pairing {code.pairing_id}", source=source)
    return code.pairing_id


def start_by_mail(session: Session, clock: Clock, user_uuid: str, address: str, *,
                  render: Callable[[PairingSheet], bytes], system_name: str, language: str,
                  actor: str, source: str) -> str:
    """Issue a Remote pairing and mail its QR code and instructions to `address`, in one
    transaction (refused whole when the address or the mail server is not right)."""
    pairing_id = start(session, clock, user_uuid, PairingMode.REMOTE, actor=actor,
                       source=source)
    session.flush()
    code = code_of(session, clock, user_uuid, pairing_id)
    assert code is not None, "a pairing just issued is usable"
    sheet = PairingSheet(code.user.name, code.user.user_id, system_name, code.qr_svg,
                         code.text, code.pairing.expires_at)
    delivery.mail_pairing(session, clock, _row(session, user_uuid, pairing_id), sheet, address,
                          render=render, language=language, actor=actor, source=source)
    return pairing_id


def code_of(session: Session, clock: Clock, user_uuid: str, pairing_id: str
            ) -> PairingCodeView | None:
    """The QR code and PIN of a pending pairing still valid (None once used or expired)."""
    row = _row(session, user_uuid, pairing_id)
    view = _view(row, clock.now())
    if not view.usable or row.secret_sealed is None or row.pin_sealed is None:
        return None
    box = box_of(session)
    secret = box.open(row.secret_sealed, SECRET_PURPOSE)
    pin = box.open(row.pin_sealed, PIN_PURPOSE).decode("ascii")
    fingerprint = public_key_fingerprint(public_key_pem(session).encode("ascii"))
    text = PairingCode(row.pairing_id, fingerprint, secret).to_text()
    return PairingCodeView(view, users.get(session, user_uuid), text, pin, qr_svg(text))


def pending_secrets(session: Session) -> list[str]:
    """The one-time secrets and PINs of pairings still pending (what a system report must
    not carry: support/ removes each from the text it packs)."""
    box = box_of(session)
    found = []
    for row in session.scalars(select(AssistantPairingRow).where(
            AssistantPairingRow.state == PairingState.PENDING)):
        if row.secret_sealed is not None:
            secret = box.open(row.secret_sealed, SECRET_PURPOSE)
            fingerprint = public_key_fingerprint(public_key_pem(session).encode("ascii"))
            code = PairingCode(row.pairing_id, fingerprint, secret)
            found += [code.to_text(), code.secret_text, secret.hex()]
        if row.pin_sealed is not None:
            found.append(box.open(row.pin_sealed, PIN_PURPOSE).decode("ascii"))
    return found


def remove(session: Session, clock: Clock, user_uuid: str, pairing_id: str, *, actor: str,
           source: str) -> None:
    """End a pairing on the system side (cameras drop it at their next docking)."""
    row = _row(session, user_uuid, pairing_id)
    session.delete(row)
    record(session, clock, actor=actor, action="assistant.pair.remove",
           detail=f"{user_uuid}: pairing {pairing_id} ({row.state})", source=source)


# ---- cameras --------------------------------------------------------------------------


def _user_of_label(session: Session, label: str | None) -> BodyWornUser | None:
    """The user a camera names (its overlay user ID, or the uuid when the user has none)."""
    if not label:
        return None
    return session.scalars(select(BodyWornUser).where(
        or_(BodyWornUser.user_id == label, BodyWornUser.uuid == label))).first()


def take_report(session: Session, clock: Clock, serial: str, report: AssistantReport) -> None:
    """Record what a camera says happened off the dock: devices bound, pairings blocked."""
    for binding in report.bindings:
        row = session.scalars(select(AssistantPairingRow).where(
            AssistantPairingRow.pairing_id == binding.pairing_id)).first()
        if row is None or row.state != PairingState.PENDING:
            continue  # removed meanwhile, or known already
        try:
            fingerprint = device_fingerprint(binding.device_key)
        except ValueError:
            log.info("assistant.bad_device_key", camera=serial, pairing=row.pairing_id)
            continue
        holder = session.scalars(select(AssistantPairingRow).where(
            AssistantPairingRow.device_fingerprint == fingerprint)).first()
        if holder is not None and holder.user_uuid != row.user_uuid:
            _block(session, clock, row, BlockedReason.DEVICE_TAKEN, serial)
            continue
        if holder is not None:
            # The same device paired again for the same user: the new pairing replaces it.
            session.delete(holder)
            session.flush()
        row.state, row.device_key, row.device_fingerprint = (
            PairingState.PAIRED, binding.device_key, fingerprint)
        row.paired_at, row.paired_camera = binding.at, serial
        row.secret_sealed = row.pin_sealed = None
        record(session, clock, actor="system", action="assistant.pair.complete",
               detail=f"{row.user_uuid}: pairing {row.pairing_id} on {serial},"
                      f" device {fingerprint[:16]}", source="dock")
    for pairing_id in report.blocked:
        row = session.scalars(select(AssistantPairingRow).where(
            AssistantPairingRow.pairing_id == pairing_id)).first()
        if row is not None and row.state == PairingState.PENDING:
            _block(session, clock, row, BlockedReason.WRONG_PINS, serial)


def _block(session: Session, clock: Clock, row: AssistantPairingRow, reason: BlockedReason,
           serial: str) -> None:
    row.state, row.blocked_reason = PairingState.BLOCKED, reason
    row.secret_sealed = row.pin_sealed = None
    record(session, clock, actor="system", action="assistant.pair.blocked", outcome="denied",
           detail=f"{row.user_uuid}: pairing {row.pairing_id} on {serial}: {reason.value}",
           source="dock")


def camera_config(session: Session, clock: Clock, serial: str, user_label: str | None,
                  wireless_key: str, *, annotations: bool) -> AssistantConfig:
    """What a camera of `user_label` gets: its certificate, the user's pairings, and the
    devices it must refuse (paired with other users)."""
    identity = signing_identity(session)
    now = clock.now()
    ca = system_ca(identity.private_key_pem, identity.system_id, now)
    certificate = camera_certificate(identity.private_key_pem, identity.system_id,
                                     wireless_key, serial, now)
    user = _user_of_label(session, user_label)
    mine: list[AssistantPairing] = []
    taken: list[str] = []
    rows = session.scalars(select(AssistantPairingRow).where(
        AssistantPairingRow.state != PairingState.BLOCKED).order_by(AssistantPairingRow.id))
    for row in rows:
        if user is not None and row.user_uuid == user.uuid and user_label is not None:
            if row.state == PairingState.PENDING and now > row.expires_at:
                continue
            mine.append(AssistantPairing(row.pairing_id, user_label, row.secret_sha256,
                                         row.pin_verifier, row.expires_at, row.device_key))
        elif row.device_fingerprint:
            taken.append(row.device_fingerprint)
    return AssistantConfig(ca.decode("ascii"), certificate.decode("ascii"), tuple(mine),
                           tuple(taken), annotations)


def _annotations(ctx: ControllerContext) -> bool:
    """Whether the content destination stores categories and notes (as the offload
    engine last found it)."""
    return bool(getattr(ctx.offload, "stores_bookmarks", False))


def sync_camera(ctx: ControllerContext, serial: str, client: DockLinkClient,
                info: CameraInfo | None = None, *, annotations: bool | None = None) -> bool:
    """The on-dock step: take the camera's report, then give it its user's pairings.

    Never stops the work around it: a camera that cannot take part is logged and left as
    it is (True when the camera took its configuration).
    """
    try:
        label = (info if info is not None else client.info()).user_id
        report = client.assistant()
        with ctx.factory() as session, session.begin():
            take_report(session, ctx.clock, serial, report)
            config = camera_config(
                session, ctx.clock, serial, label, report.wireless_key,
                annotations=_annotations(ctx) if annotations is None else annotations)
        client.configure_assistant(config)
    except LINK_ERRORS as exc:
        log.info("assistant.sync_failed", camera=serial, error=str(exc))
        return False
    except LookupError as exc:  # not set up (no identity)
        log.info("assistant.sync_skipped", camera=serial, error=str(exc))
        return False
    return True


def push_to_user(ctx: ControllerContext, user_uuid: str) -> list[str]:
    """Sync every docked camera of the user now (a pairing made or removed); the serials."""
    with ctx.factory() as session:
        found = [(c.serial, c.info) for c in cameras.list_cameras(session, CameraState.ADDED)
                 if c.docked and c.user_uuid == user_uuid]
    synced = []
    for serial, _ in found:
        try:
            client, _row = cameras.client_for(ctx, serial)
        except (LookupError, Refused):
            continue
        with client:
            if sync_camera(ctx, serial, client):
                synced.append(serial)
    return synced
