"""Body worn users: create, edit, remove, and the all-or-nothing CSV import."""

from __future__ import annotations

import base64
import binascii
import json
import uuid as uuidlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    column,
    func,
    insert,
    literal,
    or_,
    select,
    table,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from bodyworn.controller.audit.service import record
from bodyworn.controller.destinations import service as destinations
from bodyworn.controller.display import plural
from bodyworn.controller.events import UserChanged, emit
from bodyworn.controller.outbox import service as outbox
from bodyworn.controller.profiles import service as profiles
from bodyworn.controller.refusals import FieldsRefused, Refused
from bodyworn.controller.users.csvfile import CsvRow, Issue, ParsedCsv, parse
from bodyworn.controller.users.models import BodyWornUser
from bodyworn.controller.users.rules import clean_cd_username, clean_name, clean_user_id
from bodyworn.domain.clock import Clock
from bodyworn.domain.text import fold
from bodyworn.store.text import contains_folded
from bodyworn.store.types import is_row_id

RESOLUTIONS = ("update", "skip")
_FILE_FIELDS = {"file", "columns", "encoding"}
_IN_CHUNK = 500  # stays under every backend's bound-parameter limit


@dataclass(frozen=True)
class FieldError:
    """One refused field and why."""

    field: str
    message: str


class UserRefused(FieldsRefused):
    """A change the rules do not allow; nothing was written."""

    errors: list[FieldError]


@dataclass(frozen=True)
class UserView:
    """A user as the manager shows it."""

    uuid: str
    name: str
    user_id: str | None
    cd_username: str | None
    profile_id: int
    profile_name: str
    created_at: datetime
    updated_at: datetime


def cd_username_supported(session: Session) -> bool:
    """Whether the content destination takes a user name per user (StoreUserIDKey).

    Hook: today the connection file's FullStoreAndReadSupport decides; when the
    controller reads System/Capabilities.json, its StoreUserIDKey belongs here too.
    """
    try:
        return destinations.current_file(session).full_store_and_read_support
    except LookupError:
        return False


def form_choices(session: Session, clock: Clock) -> tuple[list[profiles.ProfileView], bool]:
    """What the user forms offer: the camera profiles, and whether a CD user name is taken."""
    return profiles.list_profiles(session, clock), cd_username_supported(session)


def _payload(user: BodyWornUser, active: bool = True) -> dict[str, Any]:
    return outbox.user_payload(name=user.name, user_id=user.user_id,
                               cd_username=user.cd_username, active=active)


def _view(user: Any, profile_name: str) -> UserView:
    return UserView(user.uuid, user.name, user.user_id, user.cd_username, user.profile_id,
                    profile_name, user.created_at, user.updated_at)


@dataclass(frozen=True)
class UserPage:
    """A page of users, how many match, and the positions of the pages on either side.

    `after` / `before` are opaque cursors (None: no page that way); the list is ordered by
    folded name, then by row, and a page starts after (or ends before) the row a cursor
    names, so a page is found through the index however deep it is.
    """

    users: list[UserView]
    total: int
    after: str | None
    before: str | None


# Characters: a folded name (at most 256 characters of up to 4 bytes) and a row id, as
# JSON in base64.
CURSOR_MAX = 2048


_LISTED = (BodyWornUser.uuid, BodyWornUser.name, BodyWornUser.user_id,
           BodyWornUser.cd_username, BodyWornUser.profile_id, BodyWornUser.created_at,
           BodyWornUser.updated_at, BodyWornUser.name_key, BodyWornUser.id)


def _cursor(user: Any) -> str:
    raw = json.dumps([user.name_key, user.id], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_cursor(text: str) -> tuple[str, int]:
    """(name_key, id) from a cursor; ValueError when it is not one."""
    if not text or len(text) > CURSOR_MAX:
        raise ValueError("not a cursor")
    try:
        key, row = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValueError("not a cursor") from exc
    if not isinstance(key, str) or type(row) is not int or not is_row_id(row):
        raise ValueError("not a cursor")
    return key, row


# The FTS5 table migration 0011p made (SQLite only; not a model: it holds no rows of its own).
_SEARCH = table("body_worn_user_search", column("rowid", Integer),
                column("body_worn_user_search", String))


def _match(session: Session, query: str) -> ColumnElement[bool]:
    """Users whose folded name or user ID holds the folded query.

    On SQLite, a query of three characters or more is looked up in the trigram index
    (migration 0011p); shorter ones, and PostgreSQL (whose pg_trgm index serves LIKE
    itself), use LIKE with the query's wildcards escaped.
    """
    folded = fold(query)
    if len(folded) >= 3 and session.get_bind().dialect.name == "sqlite":
        phrase = '"' + folded.replace('"', '""') + '"'
        hits = select(_SEARCH.c.rowid).where(_SEARCH.c.body_worn_user_search.match(phrase))
        return BodyWornUser.id.in_(hits)
    return or_(contains_folded(BodyWornUser.name_key, query),
               contains_folded(BodyWornUser.user_id_key, query))


def page_users(session: Session, query: str = "", limit: int = 200, *,
               after: str | None = None, before: str | None = None,
               offset: int = 0) -> UserPage:
    """A page of users by folded name, filtered by name or user ID.

    `after` (or `before`) a cursor of an earlier page: the page that follows (precedes)
    it, by the index. `offset` is kept for the API's older callers; it counts rows.
    ValueError when a cursor is not one.
    """
    key = (BodyWornUser.name_key, BodyWornUser.id)
    cond = _match(session, query.strip()) if query.strip() else None
    # Columns, not entities: a page is read and shown, never changed.
    stmt = select(*_LISTED)
    if cond is not None:
        stmt = stmt.where(cond)
    backwards = before is not None and after is None
    if after is not None:
        stmt = stmt.where(tuple_(*key) > tuple_(*map(literal, parse_cursor(after))))
    elif before is not None:
        stmt = stmt.where(tuple_(*key) < tuple_(*map(literal, parse_cursor(before))))
    order = [k.desc() for k in key] if backwards else list(key)
    rows = list(session.execute(stmt.order_by(*order).limit(limit + 1).offset(offset)))
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    count = select(func.count()).select_from(BodyWornUser)
    total = session.scalar(count.where(cond) if cond is not None else count) or 0
    names = profiles.names_by_id(session)
    # Going back, the cursor's row follows this page; going on, it precedes it.
    later = more or backwards
    earlier = more if backwards else (after is not None or offset > 0)
    return UserPage(
        users=[_view(u, names.get(u.profile_id, "")) for u in rows], total=total,
        after=_cursor(rows[-1]) if rows and later else None,
        before=_cursor(rows[0]) if rows and earlier else None)


def list_users(session: Session, query: str = "", limit: int = 200, offset: int = 0
               ) -> tuple[list[UserView], int]:
    """A page of users ordered by folded name, filtered by name or user ID, and the total
    matched (offset counts rows: `page_users` finds deep pages by the index)."""
    page = page_users(session, query, limit, offset=offset)
    return page.users, page.total


# Cameras point at their user (cameras/models.py); the users list shows each user's
# cameras by reading that key, as profiles count their users: the cameras folder depends
# on this one, so this one cannot import it.
_CAMERAS = table("camera", column("serial"), column("user_uuid"))


def cameras_of(session: Session, user_uuids: Sequence[str]) -> dict[str, list[str]]:
    """The serial numbers of the cameras each of these users holds."""
    found: dict[str, list[str]] = {}
    for i in range(0, len(user_uuids), _IN_CHUNK):
        chunk = list(user_uuids[i:i + _IN_CHUNK])
        for serial, uuid in session.execute(
                select(_CAMERAS.c.serial, _CAMERAS.c.user_uuid)
                .where(_CAMERAS.c.user_uuid.in_(chunk)).order_by(_CAMERAS.c.serial)):
            found.setdefault(uuid, []).append(serial)
    return found


def count(session: Session) -> int:
    """How many users there are."""
    return session.scalar(select(func.count()).select_from(BodyWornUser)) or 0


def _row(session: Session, user_uuid: str) -> BodyWornUser:
    user = session.scalars(select(BodyWornUser).where(BodyWornUser.uuid == user_uuid)).first()
    if user is None:
        raise LookupError(f"no user {user_uuid}")
    return user


def get(session: Session, user_uuid: str) -> UserView:
    """One user; LookupError when there is none with that uuid."""
    user = _row(session, user_uuid)
    profile = profiles.find_row(session, user.profile_id)
    return _view(user, profile.name if profile else "")


def names_of(session: Session, user_uuids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """uuid -> (name, camera profile name) of these users, a few queries for any number
    (users removed in between are left out)."""
    wanted = sorted(set(user_uuids))
    profile_names = profiles.names_by_id(session) if wanted else {}
    found: dict[str, tuple[str, str]] = {}
    for lo in range(0, len(wanted), _IN_CHUNK):
        stmt = select(BodyWornUser.uuid, BodyWornUser.name, BodyWornUser.profile_id).where(
            BodyWornUser.uuid.in_(wanted[lo:lo + _IN_CHUNK]))
        for user_uuid, name, profile_id in session.execute(stmt):
            found[user_uuid] = (name, profile_names.get(profile_id, ""))
    return found


def find(session: Session, ref: str | None) -> UserView | None:
    """A user by uuid or by user ID (a camera knows its user by either); None if unknown."""
    if not ref:
        return None
    user = session.scalar(select(BodyWornUser).where(
        (BodyWornUser.uuid == ref) | (BodyWornUser.user_id == ref)))
    if user is None:
        return None
    profile = profiles.find_row(session, user.profile_id)
    return _view(user, profile.name if profile else "")


def _check_user_id(session: Session, user_id: str | None, own: int | None,
                   errors: list[FieldError]) -> None:
    if user_id is None:
        return
    clash = session.scalars(select(BodyWornUser.id).where(BodyWornUser.user_id == user_id)).first()
    if clash is not None and clash != own:
        errors.append(FieldError("user_id", f"'{user_id}' belongs to another user"))


def _profile(session: Session, clock: Clock, profile_id: int | None,
             errors: list[FieldError]) -> profiles.ProfileRow | None:
    if profile_id is None:
        return profiles.default_row(session, clock)
    row = profiles.find_row(session, profile_id)
    if row is None:
        errors.append(FieldError("profile_id", "no such camera profile"))
    return row


def create(session: Session, clock: Clock, *, name: str, user_id: str | None,
           cd_username: str | None = None, profile_id: int | None = None, actor: str,
           source: str) -> UserView:
    """A new user (the default profile unless one is given), queued for the CD."""
    errors: list[FieldError] = []
    clean, error = clean_name(name)
    if error:
        errors.append(FieldError("name", error))
    uid, error = clean_user_id(user_id)
    if error:
        errors.append(FieldError("user_id", error))
    _check_user_id(session, uid, None, errors)
    cd_name, error = clean_cd_username(cd_username)
    if error:
        errors.append(FieldError("cd_username", error))
    elif cd_name is not None and not cd_username_supported(session):
        errors.append(FieldError("cd_username", "the content destination does not take "
                                                "user names"))
    profile = _profile(session, clock, profile_id, errors)
    if errors or profile is None:
        raise UserRefused(errors)
    now = clock.now()
    user = BodyWornUser(uuid=str(uuidlib.uuid4()), name=clean, user_id=uid,
                        cd_username=cd_name, profile_id=profile.id, created_at=now,
                        updated_at=now)
    session.add(user)
    session.flush()
    outbox.enqueue(session, clock, "user", user.uuid, "upsert", _payload(user))
    record(session, clock, actor=actor, action="user.create",
           detail=f"'{clean}' ({uid or 'no user ID'}), profile '{profile.name}'", source=source)
    emit(session, UserChanged(user.uuid, "created"))
    return _view(user, profile.name)


def update_user(session: Session, clock: Clock, user_uuid: str, changes: Mapping[str, Any], *,
                actor: str, source: str) -> UserView:
    """Change name, user ID or camera profile; the CD user name cannot change afterwards."""
    user = _row(session, user_uuid)
    errors: list[FieldError] = []
    name, uid, profile_id = user.name, user.user_id, user.profile_id
    if "name" in changes:
        name, error = clean_name(changes["name"] or "")
        if error:
            errors.append(FieldError("name", error))
    if "user_id" in changes:
        uid, error = clean_user_id(changes["user_id"])
        if error:
            errors.append(FieldError("user_id", error))
        _check_user_id(session, uid, user.id, errors)
    if "cd_username" in changes:
        given, _ = clean_cd_username(changes["cd_username"])
        if given != user.cd_username:
            errors.append(FieldError("cd_username", "cannot be changed; remove the user and "
                                                    "add it again"))
    profile = profiles.find_row(session, user.profile_id)
    if "profile_id" in changes:
        profile = _profile(session, clock, changes["profile_id"], errors)
        profile_id = profile.id if profile else profile_id
    if errors or profile is None:
        raise UserRefused(errors)
    changed = [k for k, old, new in (("name", user.name, name), ("user_id", user.user_id, uid),
                                     ("profile", user.profile_id, profile_id)) if old != new]
    if not changed:
        return _view(user, profile.name)
    cd_changed = user.name != name or user.user_id != uid
    user.name, user.user_id, user.profile_id = name, uid, profile_id
    user.updated_at = clock.now()
    session.flush()
    if cd_changed:
        outbox.enqueue(session, clock, "user", user.uuid, "upsert", _payload(user))
    record(session, clock, actor=actor, action="user.update",
           detail=f"'{name}' ({uid or 'no user ID'}): {', '.join(changed)}", source=source)
    emit(session, UserChanged(user.uuid, "updated"))
    return _view(user, profile.name)


def remove(session: Session, clock: Clock, user_uuid: str, *, actor: str, source: str) -> None:
    """Remove a user here; the CD keeps the user object, marked inactive (never deleted)."""
    user = _row(session, user_uuid)
    outbox.enqueue(session, clock, "user", user.uuid, "deactivate", _payload(user, active=False))
    session.delete(user)
    session.flush()
    record(session, clock, actor=actor, action="user.remove",
           detail=f"'{user.name}' ({user.user_id or 'no user ID'}) {user.uuid}", source=source)
    emit(session, UserChanged(user.uuid, "removed"))


# --- CSV import -------------------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    """A user ID in the file that exists here with other data; update or skip it."""

    row: int
    user_id: str
    uuid: str
    current: dict[str, str | None]
    incoming: dict[str, str | None]
    changes: tuple[str, ...]


@dataclass
class ImportPlan:
    """What importing the file would do now, and what stops it."""

    rows: int
    create: list[CsvRow] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    unchanged: int = 0
    issues: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing in the file needs fixing (conflicts still need a choice)."""
        return not self.issues


@dataclass(frozen=True)
class ImportResult:
    """What the import did."""

    created: int
    updated: int
    skipped: int
    unchanged: int


class ImportRefused(Refused):
    """The file has issues (422), or conflicts lack a choice (409); nothing was imported."""

    def __init__(self, plan: ImportPlan, unresolved: Sequence[Conflict] = (), *,
                 keep: bool = False) -> None:
        super().__init__(f"{plural(len(plan.issues), 'issue', 'issues')} in the file, "
                         f"{plural(len(unresolved), 'conflict', 'conflicts')} without a choice",
                         409 if plan.ok else 422, keep=keep)
        self.plan = plan
        self.unresolved = list(unresolved)


def _existing(session: Session, user_ids: Iterable[str]) -> dict[str, BodyWornUser]:
    ids = list(user_ids)
    found: dict[str, BodyWornUser] = {}
    for i in range(0, len(ids), _IN_CHUNK):
        chunk = ids[i:i + _IN_CHUNK]
        for user in session.scalars(select(BodyWornUser).where(BodyWornUser.user_id.in_(chunk))):
            assert user.user_id is not None
            found[user.user_id] = user
    return found


def plan_import(session: Session, clock: Clock, parsed: ParsedCsv) -> ImportPlan:
    """Compare the file with the users here: new, unchanged, conflicting, and what is wrong."""
    bad_rows = {i.row for i in parsed.issues if i.field not in _FILE_FIELDS}
    plan = ImportPlan(rows=len(parsed.rows) + len(bad_rows), issues=list(parsed.issues))
    by_name = profiles.by_name(session, clock)
    names = {r.id: r.name for r in by_name.values()}
    existing = _existing(session, (r.user_id for r in parsed.rows if r.user_id is not None))
    for row in parsed.rows:
        profile = by_name.get(fold(row.camera_profile)) if row.camera_profile else None
        if row.camera_profile and profile is None:
            plan.issues.append(Issue(row.row, "camera_profile",
                                     f"no camera profile named '{row.camera_profile}'"))
            continue
        user = existing.get(row.user_id) if row.user_id else None
        if user is None:
            plan.create.append(row)
            continue
        current = {"name": user.name, "camera_profile": names.get(user.profile_id),
                   "cd_username": user.cd_username}
        incoming = {"name": row.name,
                    "camera_profile": profile.name if profile else current["camera_profile"],
                    "cd_username": row.cd_username if parsed.has_cd_username
                    else current["cd_username"]}
        changes = tuple(k for k in current if current[k] != incoming[k])
        if changes:
            assert row.user_id is not None
            plan.conflicts.append(Conflict(row.row, row.user_id, user.uuid, current, incoming,
                                           changes))
        else:
            plan.unchanged += 1
    plan.issues.sort(key=lambda i: (i.row or 0, i.field))
    return plan


def parse_and_plan(session: Session, clock: Clock, raw: bytes) -> tuple[ParsedCsv, ImportPlan]:
    """Read an uploaded file and compare it with the users here (writes nothing)."""
    parsed = parse(raw, cd_username_supported=cd_username_supported(session))
    return parsed, plan_import(session, clock, parsed)


def commit_import(session: Session, clock: Clock, parsed: ParsedCsv,
                  resolutions: Mapping[str, str], *, default_resolution: str | None = None,
                  actor: str, source: str) -> ImportResult:
    """Import the whole file in the caller's transaction, or refuse it whole.

    resolutions maps a conflicting user ID to "update" or "skip"; default_resolution
    answers for every conflict not named. The plan is made again here, so a change made
    since the status view was shown is not missed.
    """
    plan = plan_import(session, clock, parsed)
    if plan.issues:
        record(session, clock, actor=actor, action="user.import", outcome="failure",
               detail=f"{plural(len(plan.issues), 'issue', 'issues')} in the file",
               source=source)
        raise ImportRefused(plan, keep=True)

    def choice(c: Conflict) -> str | None:
        return resolutions.get(c.user_id, default_resolution)

    unresolved = [c for c in plan.conflicts if choice(c) not in RESOLUTIONS]
    if unresolved:
        raise ImportRefused(plan, unresolved)
    by_name = profiles.by_name(session, clock)
    default_id = profiles.default_row(session, clock).id
    now = clock.now()
    # Bulk writes skip the model's hooks: the folded keys are set here.
    new_users: list[dict[str, Any]] = [{
        "uuid": str(uuidlib.uuid4()), "name": r.name, "name_key": fold(r.name),
        "user_id": r.user_id, "user_id_key": fold(r.user_id) if r.user_id else None,
        "cd_username": r.cd_username,
        "profile_id": by_name[fold(r.camera_profile)].id if r.camera_profile else default_id,
        "created_at": now, "updated_at": now,
    } for r in plan.create]
    if new_users:
        session.execute(insert(BodyWornUser), new_users)
    outbox.enqueue_many(session, clock, "user", "upsert", [
        (u["uuid"], outbox.user_payload(name=u["name"], user_id=u["user_id"],
                                        cd_username=u["cd_username"])) for u in new_users])
    updates = [c for c in plan.conflicts if choice(c) == "update"]
    ids = {u.uuid: u.id for u in _existing(session, (c.user_id for c in updates)).values()}
    if updates:
        session.execute(update(BodyWornUser), [{
            "id": ids[c.uuid], "name": c.incoming["name"],
            "name_key": fold(c.incoming["name"] or ""),
            "cd_username": c.incoming["cd_username"],
            "profile_id": by_name[fold(c.incoming["camera_profile"] or "")].id,
            "updated_at": now,
        } for c in updates])
    outbox.enqueue_many(session, clock, "user", "upsert", [
        (c.uuid, outbox.user_payload(name=c.incoming["name"] or "", user_id=c.user_id,
                                     cd_username=c.incoming["cd_username"]))
        for c in updates if {"name", "cd_username"} & set(c.changes)])
    for u in new_users:
        emit(session, UserChanged(u["uuid"], "created"))
    for c in updates:
        emit(session, UserChanged(c.uuid, "updated"))
    result = ImportResult(created=len(new_users), updated=len(updates),
                          skipped=len(plan.conflicts) - len(updates), unchanged=plan.unchanged)
    record(session, clock, actor=actor, action="user.import",
           detail=f"{result.created} created, {result.updated} updated, {result.skipped} "
                  f"skipped, {result.unchanged} unchanged", source=source)
    return result


# ---- the system backup (backup/) -------------------------------------------------------


def export_rows(session: Session) -> list[dict[str, Any]]:
    """Every user as the system backup keeps it (the profile by name)."""
    names = profiles.names_by_id(session)
    return [{"cd_username": u.cd_username, "created_at": u.created_at, "name": u.name,
             "profile": names[u.profile_id], "updated_at": u.updated_at, "user_id": u.user_id,
             "uuid": u.uuid}
            for u in session.scalars(select(BodyWornUser).order_by(BodyWornUser.id))]


def import_rows(session: Session, clock: Clock, rows: Sequence[Mapping[str, Any]]) -> None:
    """Users from a system backup, with their uuids (the CD knows them by those already);
    the names and IDs checked as the forms check them. ValueError names the first bad one."""
    by_key = profiles.by_name(session, clock)
    for item in rows:
        name, name_error = clean_name(item["name"])
        uid, uid_error = clean_user_id(item["user_id"])
        profile = by_key.get(fold(item["profile"]))
        error = name_error or uid_error or (None if profile else "its profile is missing")
        if error or profile is None:
            raise ValueError(f"user {item['name']!r}: {error}")
        session.add(BodyWornUser(uuid=item["uuid"], name=name, user_id=uid,
                                 cd_username=item["cd_username"], profile_id=profile.id,
                                 created_at=item["created_at"], updated_at=item["updated_at"]))
    session.flush()
