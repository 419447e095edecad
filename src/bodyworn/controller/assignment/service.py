"""Self-assign (tags, taps at the dock reader, the 15 s window), holster sensor pairing, and the
user's paired equipment (with the Assistant pairings of assistant_pairing/)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bodyworn.controller.assignment.models import (
    AssignmentSettings,
    HolsterPairing,
    SelfAssignment,
    SelfAssignTag,
)
from bodyworn.controller.assignment.states import HolsterState, SelfAssignState
from bodyworn.controller.assistant_pairing import service as assistant_pairing
from bodyworn.controller.audit.service import record
from bodyworn.controller.cameras import service as cameras
from bodyworn.controller.cameras.states import CameraState
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.events import SettingsChanged, emit
from bodyworn.controller.firmware import service as firmware_service
from bodyworn.controller.outbox import service as outbox
from bodyworn.controller.profiles import service as profiles
from bodyworn.controller.refusals import Refused
from bodyworn.controller.users import service as users
from bodyworn.domain import assignment as rules
from bodyworn.domain.clock import Clock
from bodyworn.domain.rfid import Tag, TagEnrolment, TagFrequency

log = structlog.get_logger(__name__)
HOLSTER_SERIAL = re.compile(r"\d{6}")
# One tap at a time: the reader serves one user at a time (the manual), and two taps racing
# for the same ready camera must not both get it.
_tap_lock = threading.Lock()
# Self-assignments in their 15 s window (one at a time).
_IN_WINDOW = select(SelfAssignment).where(SelfAssignment.state == SelfAssignState.PENDING)
# What a camera reports once it has tried to pair with a holster sensor.
_SETTLED = (HolsterState.PAIRED, HolsterState.FAILED)
# The manual's note on reassigning: the CD's folders follow users, not cameras.
CD_USER_STRUCTURE_NOTE = (
    "Assigning a camera to a different user may affect the user structure in your content"
    " destination. Make sure to update the user structure there as well if needed."
)


class AssignmentRefused(Refused):
    """A refused tap, pairing or setting; `reason` is a short code for readers and scripts."""

    def __init__(self, message: str, reason: str = "refused", status: int = 409) -> None:
        super().__init__(message, status)
        self.reason = reason

    def body(self) -> dict[str, Any]:
        """`{"detail", "reason"}`."""
        return {"detail": self.message, "reason": self.reason}


# ---- settings -----------------------------------------------------------------------


def policy(session: Session) -> rules.ReadinessPolicy:
    """The readiness policy: hours a shift needs, and the system's firmware."""
    row = session.get(AssignmentSettings, 1)
    shift = row.shift_hours if row else rules.DEFAULT_SHIFT_HOURS
    firmware = row.firmware if row else None
    if firmware is None and (installed := firmware_service.installed(session)) is not None:
        firmware = installed.version  # the system's firmware, which docking gives cameras
    if firmware is None:
        versions = [c.firmware for c in cameras.list_cameras(session, CameraState.ADDED)
                    if c.firmware]
        firmware = max(versions, key=rules.firmware_key) if versions else None
    return rules.ReadinessPolicy(shift_hours=shift, firmware=firmware)


def set_policy(session: Session, clock: Clock, shift_hours: float, firmware: str | None, *,
               actor: str, source: str) -> rules.ReadinessPolicy:
    """Change the readiness policy."""
    try:
        checked = rules.ReadinessPolicy(shift_hours=shift_hours, firmware=firmware or None)
    except ValueError as exc:
        raise AssignmentRefused(str(exc), "bad_setting", 422) from exc
    row = session.get(AssignmentSettings, 1)
    if row is None:
        row = AssignmentSettings(id=1, shift_hours=checked.shift_hours)
        session.add(row)
    row.shift_hours, row.firmware = checked.shift_hours, checked.firmware
    record(session, clock, actor=actor, action="assignment.settings",
           detail=f"shift {checked.shift_hours} h, firmware {checked.firmware or 'newest'}",
           source=source)
    emit(session, SettingsChanged(frozenset({"self_assign_readiness"})))
    return policy(session)


def readiness(session: Session) -> tuple[rules.ReadinessPolicy, str]:
    """Settings → Self-assign: the readiness policy and the system's assignment mode."""
    return policy(session), cameras.assignment_mode(session).value


# ---- self-assign tags ---------------------------------------------------------------


def parse_tag(text: str) -> Tag:
    """A tag from "125kHz:0123456789" or bare hex (10 digits: 125 kHz, else 13.56 MHz)."""
    raw = text.strip()
    if not raw.isascii():
        # upper() would turn some letters into hex digits ("ﬀ" into "FF").
        raise AssignmentRefused("not a self-assign tag: only hexadecimal digits", "bad_tag", 422)
    frequency, _, uid = raw.rpartition(":")
    uid = uid.strip().upper()
    try:
        if frequency:
            return Tag(uid, TagFrequency(frequency.strip()))
        kind = TagFrequency.LF_125KHZ if len(uid) == 10 else TagFrequency.HF_13_56MHZ
        return Tag(uid, kind)
    except ValueError as exc:
        raise AssignmentRefused(f"not a self-assign tag: {exc}", "bad_tag", 422) from exc


@dataclass(frozen=True)
class PairingProgress:
    """Where a tag registration stands: one dot per tap needed."""

    taps: int
    needed: int
    done: bool
    tag: str | None = None


_enrolments: dict[tuple[int, str], TagEnrolment] = {}
_enrol_lock = threading.Lock()


def tag_of(session: Session, user_uuid: str) -> str | None:
    """The user's self-assign tag, if paired."""
    return session.scalars(
        select(SelfAssignTag.tag).where(SelfAssignTag.user_uuid == user_uuid)).first()


def paired_tags(session: Session) -> int:
    """How many users have a self-assign tag paired."""
    return session.scalar(select(func.count()).select_from(SelfAssignTag)) or 0


def pairing_progress(ctx: ControllerContext, user_uuid: str) -> PairingProgress:
    """The registration under way for a user (no taps yet when none)."""
    with _enrol_lock:
        enrolment = _enrolments.get((id(ctx), user_uuid))
    if enrolment is None:
        return PairingProgress(0, TagEnrolment().taps_needed, False)
    return PairingProgress(enrolment.taps, enrolment.taps_needed, enrolment.done)


def pairing_tap(ctx: ControllerContext, user_uuid: str, tag_text: str, *, actor: str,
                source: str) -> PairingProgress:
    """A tap on the administrator's reader while pairing a tag to a user."""
    tag = parse_tag(tag_text)
    with ctx.factory() as session:
        users.get(session, user_uuid)  # LookupError: no such user
    key = (id(ctx), user_uuid)
    with _enrol_lock:
        enrolment = _enrolments.setdefault(key, TagEnrolment())
        enrolment(tag)
        progress = PairingProgress(enrolment.taps, enrolment.taps_needed, enrolment.done)
        if enrolment.done:
            del _enrolments[key]
    if not progress.done:
        return progress
    with ctx.factory() as session, session.begin():
        owner = session.scalars(select(SelfAssignTag).where(SelfAssignTag.tag == tag.key)).first()
        if owner is not None and owner.user_uuid != user_uuid:
            record(session, ctx.clock, actor=actor, action="assignment.tag.pair",
                   outcome="denied", detail=f"{tag.key} belongs to another user", source=source)
            raise AssignmentRefused("this tag is paired with another user", "tag_taken")
        mine = session.scalars(
            select(SelfAssignTag).where(SelfAssignTag.user_uuid == user_uuid)).first()
        if mine is None:
            session.add(SelfAssignTag(tag=tag.key, user_uuid=user_uuid,
                                      created_at=ctx.clock.now()))
        else:
            mine.tag, mine.created_at = tag.key, ctx.clock.now()
        record(session, ctx.clock, actor=actor, action="assignment.tag.pair",
               detail=f"{user_uuid}: {tag.key}", source=source)
    return PairingProgress(progress.taps, progress.needed, True, tag.key)


def remove_tag(session: Session, clock: Clock, user_uuid: str, *, actor: str,
               source: str) -> None:
    """Unpair a user's self-assign tag."""
    row = session.scalars(select(SelfAssignTag).where(SelfAssignTag.user_uuid == user_uuid)).first()
    if row is None:
        raise LookupError("no tag paired")
    session.delete(row)
    record(session, clock, actor=actor, action="assignment.tag.remove",
           detail=f"{user_uuid}: {row.tag}", source=source)


# ---- taps at the dock reader --------------------------------------------------------


@dataclass(frozen=True)
class TapResult:
    """The camera handed out by a tap."""

    camera_serial: str
    user_uuid: str
    user_name: str
    expires: datetime


def _lapse(clock: Clock, row: SelfAssignment) -> str:
    row.state, row.ended_at = SelfAssignState.LAPSED, clock.now()
    return row.camera_serial


def expire_windows(ctx: ControllerContext) -> None:
    """Lapse self-assignments whose 15 s passed without an undock; take their users away."""
    now = ctx.clock.now()
    lapsed: list[str] = []
    with ctx.factory() as session, session.begin():
        for row in session.scalars(_IN_WINDOW):
            if not rules.window_open(row.tapped_at, now):
                lapsed.append(_lapse(ctx.clock, row))
                cameras.set_user(session, row.camera_serial, None)
                record(session, ctx.clock, actor="system", action="assignment.self.lapse",
                       detail=f"{row.camera_serial}: not undocked within 15 s", source="rfid")
    for serial in lapsed:
        try:
            push_user(ctx, serial)
        except cameras.LINK_ERRORS as exc:
            log.info("could not take the user back", camera=serial, error=str(exc))


def dock_tap(ctx: ControllerContext, tag_text: str, *, reader: str = "") -> TapResult:
    """A tap at the dock reader: hand the user a ready camera (its LEDs flash green)."""
    tag = parse_tag(tag_text)
    with _tap_lock:
        expire_windows(ctx)
        with ctx.factory() as session:
            if cameras.assignment_mode(session) is not rules.Mode.SELF_ASSIGN:
                raise AssignmentRefused("this system uses fixed assignment", "fixed_mode")
            owner = session.scalars(
                select(SelfAssignTag.user_uuid).where(SelfAssignTag.tag == tag.key)).first()
            if owner is None:
                raise AssignmentRefused("this tag is not paired with a user", "unknown_tag", 404)
            user = users.get(session, owner)
            pending = session.scalars(_IN_WINDOW).first()
            if pending is not None:
                if pending.user_uuid == owner:
                    return TapResult(pending.camera_serial, owner, user.name,
                                     pending.tapped_at + rules.SELF_ASSIGN_WINDOW)
                raise AssignmentRefused("another user is self-assigning a camera; tap again"
                                        " in a few seconds", "busy")
            candidates = [c.serial for c in cameras.list_cameras(session, CameraState.ADDED)
                          if c.docked and c.user_uuid is None]
            readiness = policy(session)
            profile = profiles.get(session, ctx.clock, user.profile_id).profile
            holster = holster_serial(session, owner)
        facts = [cameras.refresh(ctx, serial) for serial in candidates]
        live = [view.facts() for view in facts if view.live]
        chosen = rules.pick_ready(live, readiness)
        if chosen is None:
            with ctx.factory() as session, session.begin():
                record(session, ctx.clock, actor=user.name, action="assignment.self.tap",
                       outcome="denied", detail="no ready camera", source=reader or "rfid")
            raise AssignmentRefused("no camera is ready to be self-assigned", "no_ready_camera")
        client, _ = cameras.client_for(ctx, chosen.serial)
        try:
            with client:
                client.self_assign(camera_user_label(user), profile)
                info = client.configure(holster=holster)
                # Self-assigned cameras learn the user's Assistant pairings with the user.
                assistant_pairing.sync_camera(ctx, chosen.serial, client, info)
        except cameras.LINK_ERRORS as exc:
            raise AssignmentRefused(f"the camera refused: {exc}", "camera_refused") from exc
        now = ctx.clock.now()
        with ctx.factory() as session, session.begin():
            cameras.store_info(session, ctx.clock, chosen.serial, info)
            cameras.set_user(session, chosen.serial, owner)
            session.add(SelfAssignment(camera_serial=chosen.serial, user_uuid=owner,
                                       state=SelfAssignState.PENDING, tapped_at=now, ended_at=None))
            record(session, ctx.clock, actor=user.name, action="assignment.self.tap",
                   detail=f"{chosen.serial} to {owner}", source=reader or "rfid")
        return TapResult(chosen.serial, owner, user.name, now + rules.SELF_ASSIGN_WINDOW)


def on_undock(session: Session, clock: Clock, serial: str) -> None:
    """An undock: within the window the user takes the camera; after it, it has lapsed."""
    now = clock.now()
    row = session.scalars(_IN_WINDOW.where(SelfAssignment.camera_serial == serial)).first()
    if row is None:
        return
    if rules.window_open(row.tapped_at, now):
        row.state, row.ended_at = SelfAssignState.TAKEN, now
        record(session, clock, actor="system", action="assignment.self.take",
               detail=f"{serial} by {row.user_uuid}", source="dock")
    else:
        row.state, row.ended_at = SelfAssignState.LAPSED, now
        cameras.set_user(session, serial, None)
        record(session, clock, actor="system", action="assignment.self.lapse",
               detail=f"{serial}: undocked after the 15 s window", source="dock")


def on_dock(session: Session, clock: Clock, serial: str, holster: dict[str, Any]) -> None:
    """An added camera docked: settle the holster pairing it reports; in self-assign, the
    camera is back in the pool (its user is taken away; docking pushes that)."""
    if holster.get("serial") and holster.get("state") in _SETTLED:
        for row in session.scalars(select(HolsterPairing).where(
                HolsterPairing.sensor_serial == holster["serial"])):
            row.state, row.updated_at = HolsterState(holster["state"]), clock.now()
    if cameras.assignment_mode(session) is rules.Mode.SELF_ASSIGN:
        for taken in session.scalars(select(SelfAssignment).where(
                SelfAssignment.camera_serial == serial,
                SelfAssignment.state == SelfAssignState.TAKEN)):
            taken.state, taken.ended_at = SelfAssignState.RETURNED, clock.now()
        # Back in the dock, a self-assigned camera is free for the next tap.
        cameras.set_user(session, serial, None)


# ---- fixed assignment, and what a camera is told ---------------------------------------


def camera_user_label(user: users.UserView) -> str:
    """What the camera shows as its user (the overlay's user ID; the uuid when none)."""
    return user.user_id or user.uuid


def push_user(ctx: ControllerContext, serial: str) -> bool:
    """Send a docked camera its user, profile and holster sensor; False when not docked."""
    with ctx.factory() as session, session.begin():
        view = cameras.get(session, serial)
        url = cameras.camera_url(session, serial)
        if url is None or view.state != CameraState.ADDED:
            return False
        profile = label = holster = None
        if view.user_uuid is not None:
            user = users.get(session, view.user_uuid)
            profile = profiles.get(session, ctx.clock, user.profile_id).profile
            label = camera_user_label(user)
            holster = holster_serial(session, view.user_uuid)
    with ctx.docklink(url) as client:
        info = client.configure(profile=profile, user_id=label, holster=holster)
    with ctx.factory() as session, session.begin():
        cameras.store_info(session, ctx.clock, serial, info)
    return True


def set_fixed_user(session: Session, clock: Clock, serial: str, user_uuid: str | None,
                   facts: rules.CameraFacts, *, actor: str, source: str) -> str | None:
    """Record who holds a camera in a fixed system; who held it before.

    A refusal is audited, and the entry kept (the refusal is raised with `keep`).
    """
    refusal = rules.fixed_assign_refusal(cameras.assignment_mode(session), facts)
    if refusal is None and user_uuid is not None:
        try:
            users.get(session, user_uuid)
        except LookupError:
            refusal = "no such user"
    if refusal is not None:
        record(session, clock, actor=actor, action="camera.assign", outcome="denied",
               detail=f"{serial}: {refusal}", source=source)
        raise cameras.CameraRefused(refusal, keep=True)
    before = cameras.get(session, serial).user_uuid
    cameras.set_user(session, serial, user_uuid)
    session.flush()
    changed = cameras.get(session, serial)
    outbox.enqueue(session, clock, "device", serial, "upsert", cameras.device_payload(changed))
    record(session, clock, actor=actor, action="camera.assign",
           detail=f"{serial}: {before or 'nobody'} -> {user_uuid or 'nobody'}", source=source)
    return before


def assign(ctx: ControllerContext, serial: str, user_uuid: str | None, *, actor: str,
           source: str) -> tuple[cameras.CameraView, str]:
    """Assign (or with None, unassign) a camera in a fixed system; pushed when docked.

    Returns the camera and a notice (the CD user structure note, or why the push waits).
    """
    view = cameras.refresh(ctx, serial)
    before = ctx.write(set_fixed_user, serial, user_uuid, view.facts(), actor=actor,
                       source=source)
    notice = CD_USER_STRUCTURE_NOTE if before and before != user_uuid else ""
    try:
        pushed = push_user(ctx, serial)
    except cameras.LINK_ERRORS as exc:
        pushed = False
        log.info("assignment push failed", camera=serial, error=str(exc))
    if not pushed:
        notice = (notice + " " if notice else "") + "The camera gets it at its next docking."
    with ctx.factory() as session:
        return cameras.get(session, serial), notice


# ---- holster sensors ----------------------------------------------------------------


@dataclass(frozen=True)
class HolsterView:
    """A holster sensor paired with a user."""

    id: int
    sensor_serial: str
    camera_serial: str
    state: HolsterState
    updated_at: datetime


def holster_serial(session: Session, user_uuid: str) -> str | None:
    """The user's newest holster sensor, which the user's camera should listen for."""
    return session.scalars(select(HolsterPairing.sensor_serial).where(
        HolsterPairing.user_uuid == user_uuid).order_by(HolsterPairing.id.desc())).first()


def holsters(session: Session, user_uuid: str) -> list[HolsterView]:
    """The user's holster sensors, oldest first."""
    rows = session.scalars(select(HolsterPairing).where(HolsterPairing.user_uuid == user_uuid)
                           .order_by(HolsterPairing.id))
    return [HolsterView(r.id, r.sensor_serial, r.camera_serial, HolsterState(r.state),
                        r.updated_at) for r in rows]


def _docked_camera_for(session: Session, user_uuid: str) -> str | None:
    mode = cameras.assignment_mode(session)
    docked = [c for c in cameras.list_cameras(session, CameraState.ADDED) if c.docked]
    if mode is rules.Mode.FIXED:
        docked = [c for c in docked if c.user_uuid == user_uuid]
    return docked[0].serial if docked else None


def pair_holster(ctx: ControllerContext, user_uuid: str, sensor_serial: str, *, actor: str,
                 source: str) -> HolsterView:
    """Pair a holster sensor (6 digits) with the user's docked camera; pending until undock."""
    serial = sensor_serial.strip()
    if not HOLSTER_SERIAL.fullmatch(serial):
        raise AssignmentRefused("a holster sensor serial number has 6 digits", "bad_serial", 422)
    with ctx.factory() as session, session.begin():
        users.get(session, user_uuid)
        clash = session.scalars(select(HolsterPairing).where(
            HolsterPairing.sensor_serial == serial)).first()
        if clash is not None and clash.user_uuid != user_uuid:
            raise AssignmentRefused("this holster sensor is paired with another user",
                                    "sensor_taken")
        camera = _docked_camera_for(session, user_uuid)
        if camera is None:
            raise AssignmentRefused("dock the user's camera first", "not_docked")
        now = ctx.clock.now()
        if clash is None:
            clash = HolsterPairing(user_uuid=user_uuid, sensor_serial=serial,
                                   camera_serial=camera, state=HolsterState.PENDING, created_at=now,
                                   updated_at=now)
            session.add(clash)
        clash.camera_serial, clash.state, clash.updated_at = camera, HolsterState.PENDING, now
        record(session, ctx.clock, actor=actor, action="assignment.holster.pair",
               detail=f"{serial} for {user_uuid} via {camera}", source=source)
        session.flush()
        view = HolsterView(clash.id, serial, camera, HolsterState.PENDING, now)
        fixed = cameras.assignment_mode(session) is rules.Mode.FIXED
    client, _ = cameras.client_for(ctx, camera)
    try:
        with client:
            # In self-assign the camera a user taps out learns the sensor then.
            info = client.configure(holster=serial) if fixed else client.info()
    except cameras.LINK_ERRORS as exc:
        log.info("holster push failed", camera=camera, error=str(exc))
        return view
    with ctx.factory() as session, session.begin():
        cameras.store_info(session, ctx.clock, camera, info)
    return view


def refresh_holsters(ctx: ControllerContext, user_uuid: str) -> list[HolsterView]:
    """The user's sensors, with the pairing state a docked camera reports now."""
    with ctx.factory() as session:
        views = holsters(session, user_uuid)
        serials = {v.camera_serial for v in views if v.state == HolsterState.PENDING}
    for serial in serials:
        try:
            with ctx.factory() as session:
                cameras.get(session, serial)
        except LookupError:
            continue
        report = cameras.refresh(ctx, serial).info.get("holster") or {}
        if report.get("state") in _SETTLED and report.get("serial"):
            with ctx.factory() as session, session.begin():
                for row in session.scalars(select(HolsterPairing).where(
                        HolsterPairing.sensor_serial == report["serial"],
                        HolsterPairing.state == HolsterState.PENDING)):
                    row.state, row.updated_at = HolsterState(report["state"]), ctx.clock.now()
    with ctx.factory() as session:
        return holsters(session, user_uuid)


def remove_holster(ctx: ControllerContext, user_uuid: str, pairing_id: int, *, actor: str,
                   source: str) -> None:
    """Unpair a holster sensor; a docked camera forgets it now, others at next docking."""
    with ctx.factory() as session, session.begin():
        row = session.get(HolsterPairing, pairing_id)
        if row is None or row.user_uuid != user_uuid:
            raise LookupError("no such holster sensor")
        camera = row.camera_serial
        session.delete(row)
        record(session, ctx.clock, actor=actor, action="assignment.holster.remove",
               detail=f"{row.sensor_serial} of {user_uuid}", source=source)
    try:
        push_user(ctx, camera)
    except (LookupError, *cameras.LINK_ERRORS) as exc:
        log.info("holster removal push waits", camera=camera, error=str(exc))


@dataclass(frozen=True)
class Equipment:
    """A user's paired equipment, as the user's page shows it."""

    user: users.UserView
    tag: str | None
    mode: str
    holsters: list[HolsterView]
    progress: PairingProgress
    assistant: list[assistant_pairing.PairingView]


def equipment(ctx: ControllerContext, user_uuid: str) -> Equipment:
    """The user's tag, holster sensors (as docked cameras report them now) and any pairing
    under way; LookupError when there is no such user."""
    with ctx.factory() as session:
        user = users.get(session, user_uuid)
        tag = tag_of(session, user_uuid)
        mode = cameras.assignment_mode(session).value
        assistant = assistant_pairing.pairings(session, ctx.clock, user_uuid)
    return Equipment(user, tag, mode, refresh_holsters(ctx, user_uuid),
                     pairing_progress(ctx, user_uuid), assistant)


def pending_self_assignment(session: Session) -> SelfAssignment | None:
    """The self-assignment in its window, if any (shown on the dashboard)."""
    return session.scalars(_IN_WINDOW).first()


# ---- the system backup (backup/) -------------------------------------------------------


def export_rows(session: Session) -> dict[str, Any]:
    """Self-assign tags, holster pairings and the readiness settings, as the backup keeps
    them (a self-assignment in its 15 s window is not kept)."""
    row = session.get(AssignmentSettings, 1)
    return {
        "tags": [{"tag": t.tag, "user_uuid": t.user_uuid}
                 for t in session.scalars(select(SelfAssignTag).order_by(SelfAssignTag.id))],
        "holster_pairings": [
            {"camera_serial": h.camera_serial, "sensor_serial": h.sensor_serial,
             "state": h.state, "user_uuid": h.user_uuid}
            for h in session.scalars(select(HolsterPairing).order_by(HolsterPairing.id))],
        "assignment_settings": None if row is None else
        {"firmware": row.firmware, "shift_hours": row.shift_hours},
    }


def import_rows(session: Session, clock: Clock, tags: list[dict[str, Any]],
                holster_pairings: list[dict[str, Any]],
                settings: dict[str, Any] | None) -> None:
    """What export_rows gave, into a system that has none of it yet (ValueError: bad)."""
    now = clock.now()
    for item in tags:
        session.add(SelfAssignTag(tag=parse_tag(item["tag"]).key, user_uuid=item["user_uuid"],
                                  created_at=now))
    for item in holster_pairings:
        if not HOLSTER_SERIAL.fullmatch(item["sensor_serial"]):
            raise ValueError(f"holster sensor {item['sensor_serial']!r} is not a serial")
        session.add(HolsterPairing(user_uuid=item["user_uuid"], camera_serial=item["camera_serial"],
                                   sensor_serial=item["sensor_serial"],
                                   state=HolsterState(item["state"]), created_at=now,
                                   updated_at=now))
    if settings is not None:
        checked = rules.ReadinessPolicy(shift_hours=settings["shift_hours"],
                                        firmware=settings["firmware"])
        session.merge(AssignmentSettings(id=1, shift_hours=checked.shift_hours,
                                         firmware=checked.firmware))
    session.flush()
