"""Camera profiles: the pre-configured ones, create, edit, default, remove when unused."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bodyworn.controller.audit.service import record
from bodyworn.controller.display import plural
from bodyworn.controller.profiles.models import ProfileRow as ProfileRow  # for other folders
from bodyworn.controller.refusals import FieldsRefused
from bodyworn.domain.clock import Clock
from bodyworn.domain.profile import CameraProfile, OverlayField, Resolution
from bodyworn.domain.profile_codec import (
    ProfileInvalid,
    SettingError,
    from_settings,
    to_settings,
)
from bodyworn.domain.text import fold, has_control_characters
from bodyworn.store.types import is_row_id

NAME_MAX = 64
SYSTEM_ACTOR = "system"
NAME_TAKEN = SettingError("name", "another camera profile has this name")


def preconfigured() -> list[CameraProfile]:
    """The profiles a new system starts with: a default one and the manual's two examples."""
    return [
        CameraProfile(name="Default"),
        # Group 1: best image and sound, 90 s before the button press, where it happened,
        # and the wearer may go unnoticed or mute the microphone.
        CameraProfile(
            name="Group 1 - maximum quality",
            resolution=Resolution.P1080,
            audio=True,
            optimize_for_post_processing=True,
            pre_buffer=timedelta(seconds=90),
            pre_buffer_audio=True,
            location_data=True,
            allow_silent_mode=True,
            allow_audio_off=True,
        ),
        # Group 2: a whole shift on one charge and one storage, and people around can always
        # see that the camera records.
        CameraProfile(
            name="Group 2 - long shifts",
            resolution=Resolution.P720,
            audio=True,
            optimize_for_post_processing=False,
            location_data=False,
            overlay=frozenset({OverlayField.USER_ID, OverlayField.DATE_TIME}),
            allow_silent_mode=False,
            allow_audio_off=True,
        ),
    ]


class ProfileRefused(FieldsRefused):
    """A change the rules do not allow; nothing was written."""


@dataclass(frozen=True)
class ProfileView:
    """A stored profile with what the manager shows beside it."""

    id: int
    profile: CameraProfile
    settings: dict[str, Any]
    is_default: bool
    version: int
    users: int
    created_at: Any
    updated_at: Any


_seed_lock = threading.Lock()


def ensure_preconfigured(session: Session, clock: Clock) -> None:
    """Create the pre-configured profiles once, when there are none (idempotent)."""
    count = select(func.count()).select_from(ProfileRow)
    if session.scalar(count):
        return
    # Seeded in a transaction of its own under a lock, so two first requests cannot both
    # seed; the caller has only read so far, so it sees the rows once this commits.
    with _seed_lock, Session(bind=session.get_bind()) as seed, seed.begin():
        if seed.scalar(count):
            return
        now = clock.now()
        for i, profile in enumerate(preconfigured()):
            seed.add(ProfileRow(
                name=profile.name, settings_json=_dump(profile), is_default=i == 0, version=1,
                created_at=now, updated_at=now,
            ))
        seed.flush()
        record(seed, clock, actor=SYSTEM_ACTOR, action="profile.preconfigure",
               detail=", ".join(p.name for p in preconfigured()))


def _dump(profile: CameraProfile) -> str:
    return json.dumps(to_settings(profile), sort_keys=True)


def load(row: ProfileRow) -> CameraProfile:
    """The validated profile a row stores."""
    return from_settings(row.name, json.loads(row.settings_json))


def customised(session: Session) -> bool:
    """Whether an administrator made or changed a profile (more than the pre-configured
    ones, or one of them changed)."""
    count, newest = session.execute(
        select(func.count(), func.max(ProfileRow.version)).select_from(ProfileRow)).one()
    return bool(count and (count > len(preconfigured()) or (newest or 1) > 1))


def find_row(session: Session, profile_id: int) -> ProfileRow | None:
    """A profile's row by id (None when there is none, or the id cannot be a row's)."""
    return session.get(ProfileRow, profile_id) if is_row_id(profile_id) else None


def names_by_id(session: Session) -> dict[int, str]:
    """Every profile's name by its id."""
    return {pid: name for pid, name in session.execute(select(ProfileRow.id, ProfileRow.name))}


def camera_profile(session: Session, profile_id: int) -> CameraProfile | None:
    """The settings a profile gives a camera (None when there is no such profile)."""
    row = session.get(ProfileRow, profile_id)
    return load(row) if row is not None else None


def _user_counts(session: Session) -> dict[int, int]:
    """Users per profile id: the count the database keeps on each profile (a query, so
    users this session added are flushed and counted first)."""
    return {pid: n for pid, n in session.execute(select(ProfileRow.id, ProfileRow.user_count))}


def _view(row: ProfileRow, users: int) -> ProfileView:
    profile = load(row)
    return ProfileView(row.id, profile, to_settings(profile), row.is_default, row.version, users,
                       row.created_at, row.updated_at)


def list_profiles(session: Session, clock: Clock) -> list[ProfileView]:
    """Every profile, the default first, then by name."""
    ensure_preconfigured(session, clock)
    counts = _user_counts(session)
    rows = session.scalars(select(ProfileRow).order_by(ProfileRow.is_default.desc(),
                                                       ProfileRow.name)).all()
    return [_view(r, counts.get(r.id, 0)) for r in rows]


def get(session: Session, clock: Clock, profile_id: int) -> ProfileView:
    """One profile; LookupError when there is none with that id."""
    ensure_preconfigured(session, clock)
    row = session.get(ProfileRow, profile_id) if is_row_id(profile_id) else None
    if row is None:
        raise LookupError(f"no camera profile {profile_id}")
    return _view(row, _user_counts(session).get(row.id, 0))


def default_row(session: Session, clock: Clock) -> ProfileRow:
    """The profile new users get."""
    ensure_preconfigured(session, clock)
    row = session.scalars(select(ProfileRow).where(ProfileRow.is_default.is_(True))).first()
    if row is None:  # never left without one; the oldest takes over
        row = session.scalars(select(ProfileRow).order_by(ProfileRow.id)).first()
        assert row is not None
        row.is_default = True
    return row


def by_name(session: Session, clock: Clock) -> dict[str, ProfileRow]:
    """Every profile keyed by its folded name (import matches names with `fold`)."""
    ensure_preconfigured(session, clock)
    return {r.name_key: r for r in session.scalars(select(ProfileRow))}


def _clean_name(session: Session, name: str, own_id: int | None) -> tuple[str, list[SettingError]]:
    clean = " ".join(name.split())
    if not clean:
        return clean, [SettingError("name", "must not be empty")]
    if has_control_characters(clean):
        return clean, [SettingError("name", "must not contain control characters")]
    if len(clean) > NAME_MAX:
        return clean, [SettingError("name", f"must be at most {NAME_MAX} characters")]
    clash = session.scalars(select(ProfileRow).where(ProfileRow.name_key == fold(clean))).first()
    if clash is not None and clash.id != own_id:
        return clean, [NAME_TAKEN]
    return clean, []


def _flush_name(session: Session) -> None:
    # Two requests may pass the check above at once; the unique key decides, and the one
    # that loses is told the same as if it had been checked (its transaction is rolled back).
    try:
        session.flush()
    except IntegrityError as exc:
        if "name" not in str(exc.orig):
            raise
        raise ProfileRefused([NAME_TAKEN]) from None


def _build(name: str, settings: Mapping[str, Any], base: CameraProfile | None,
           errors: list[SettingError]) -> CameraProfile:
    try:
        profile = from_settings(name or "-", settings, base=base)
    except ProfileInvalid as exc:
        raise ProfileRefused(errors + exc.errors) from None
    if errors:
        raise ProfileRefused(errors)
    return profile


def create(session: Session, clock: Clock, name: str, settings: Mapping[str, Any], *,
           make_default: bool = False, copy_of: int | None = None, actor: str,
           source: str) -> ProfileView:
    """A new profile from defaults (or a copy of another) with the given settings."""
    ensure_preconfigured(session, clock)
    clean, errors = _clean_name(session, name, None)
    base = None
    if copy_of is not None:
        origin = session.get(ProfileRow, copy_of) if is_row_id(copy_of) else None
        if origin is None:
            errors.append(SettingError("copy_of", "no such camera profile"))
        else:
            base = load(origin)
    profile = _build(clean, settings, base, errors)
    now = clock.now()
    row = ProfileRow(name=clean, settings_json=_dump(profile), is_default=False, version=1,
                     created_at=now, updated_at=now)
    session.add(row)
    _flush_name(session)
    record(session, clock, actor=actor, action="profile.create", detail=f"'{clean}'",
           source=source)
    if make_default:
        _make_default(session, clock, row, actor, source)
    return _view(row, 0)


def update(session: Session, clock: Clock, profile_id: int, *, name: str | None = None,
           settings: Mapping[str, Any] | None = None, make_default: bool | None = None,
           actor: str, source: str) -> ProfileView:
    """Change a profile's name and settings; cameras pick the new version up when docked."""
    row = session.get(ProfileRow, profile_id) if is_row_id(profile_id) else None
    if row is None:
        raise LookupError(f"no camera profile {profile_id}")
    old = load(row)
    clean, errors = _clean_name(session, row.name if name is None else name, row.id)
    if make_default is False and row.is_default:
        errors.append(SettingError("is_default", "make another profile the default instead"))
    profile = _build(clean, settings or {}, old, errors)
    changed = sorted(k for k, v in to_settings(profile).items() if to_settings(old)[k] != v)
    if clean != row.name:
        changed.insert(0, "name")
    if changed:
        row.name = clean
        row.settings_json = _dump(profile)
        row.version += 1
        row.updated_at = clock.now()
        _flush_name(session)
        record(session, clock, actor=actor, action="profile.update",
               detail=f"'{clean}' v{row.version}: {', '.join(changed)}", source=source)
    if make_default and not row.is_default:
        _make_default(session, clock, row, actor, source)
    session.flush()
    return _view(row, _user_counts(session).get(row.id, 0))


def _make_default(session: Session, clock: Clock, row: ProfileRow, actor: str,
                  source: str) -> None:
    for other in session.scalars(select(ProfileRow).where(ProfileRow.is_default.is_(True))):
        other.is_default = False
    row.is_default = True
    session.flush()
    record(session, clock, actor=actor, action="profile.default", detail=f"'{row.name}'",
           source=source)


def remove(session: Session, clock: Clock, profile_id: int, *, actor: str,
           source: str) -> str:
    """Remove a profile that no user has and that is not the default; its name."""
    row = session.get(ProfileRow, profile_id) if is_row_id(profile_id) else None
    if row is None:
        raise LookupError(f"no camera profile {profile_id}")
    users = _user_counts(session).get(row.id, 0)
    if users:
        raise ProfileRefused([SettingError(
            "profile", f"'{row.name}' is the camera profile of "
                       f"{plural(users, 'user', 'users')}; give them another profile first")], 409)
    if row.is_default:
        raise ProfileRefused([SettingError(
            "profile", f"'{row.name}' is the default profile; make another profile the "
                       "default first")], 409)
    session.delete(row)
    session.flush()
    record(session, clock, actor=actor, action="profile.remove", detail=f"'{row.name}'",
           source=source)
    return row.name


def names(views: Sequence[ProfileView]) -> list[str]:
    """The profiles' names in display order."""
    return [v.profile.name for v in views]


# ---- the system backup (backup/) -------------------------------------------------------


def export_rows(session: Session) -> list[dict[str, Any]]:
    """Every profile as the system backup keeps it."""
    return [{"is_default": row.is_default, "name": row.name,
             "settings": json.loads(row.settings_json), "version": row.version}
            for row in session.scalars(select(ProfileRow).order_by(ProfileRow.id))]


def import_rows(session: Session, clock: Clock, rows: Sequence[Mapping[str, Any]]) -> None:
    """Profiles from a system backup, each checked as a new one is; a profile of the same
    name here takes the backup's settings (ProfileInvalid names the first bad one)."""
    now = clock.now()
    existing = {r.name_key: r for r in session.scalars(select(ProfileRow))}
    if any(r["is_default"] for r in rows):
        for old in existing.values():
            old.is_default = False
    for item in rows:
        profile = from_settings(item["name"], item["settings"])
        row = existing.get(fold(item["name"]))
        if row is None:
            row = ProfileRow(name=item["name"], created_at=now)
            session.add(row)
        row.settings_json, row.is_default = _dump(profile), item["is_default"]
        row.version, row.updated_at = item["version"], now
    session.flush()
