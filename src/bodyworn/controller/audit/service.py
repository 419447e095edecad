"""Writing and checking the hash-chained audit log."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, column, func, select, table, text
from sqlalchemy.orm import Session

from bodyworn.controller.audit.models import AuditEntry
from bodyworn.domain.clock import Clock
from bodyworn.evidence.audit_chain import GENESIS, ChainedEntry, entry_time
from bodyworn.evidence.audit_chain import entry_digest as chain_digest

OUTCOMES = ("success", "failure", "denied")

# The newest entry is read only once this transaction holds a lock that lasts until it
# ends (PostgreSQL: an advisory lock; SQLite: its one write lock), so an entry not yet
# committed cannot be read past and the chain cannot fork, even across processes sharing
# a database. (A lock of this process released before the commit could not do that, and
# held while waiting for the database's lock it deadlocked a transaction that records
# twice.)
_PG_LOCK_KEY = 0x626F6479
# A write that changes nothing (the append-only triggers fire per row): it makes SQLite
# take its write lock, and the read that follows sees the newest committed entry.
_SQLITE_TAKE_WRITE_LOCK = text("UPDATE audit_entry SET id = id WHERE 0")


def entry_digest(
    prev_hash: str, at: datetime, actor: str, action: str, detail: str, source: str, outcome: str
) -> str:
    """The sha256 that links an entry to the one before it (evidence/audit_chain.py)."""
    return chain_digest(prev_hash, entry_time(at), actor, action, detail, source, outcome)


def record(
    session: Session,
    clock: Clock,
    *,
    actor: str,
    action: str,
    outcome: str = "success",
    detail: str = "",
    source: str = "",
) -> AuditEntry:
    """Append one entry in the caller's transaction (it lands only if that commits)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    elif dialect == "sqlite":
        session.execute(_SQLITE_TAKE_WRITE_LOCK)
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
    prev = last.entry_hash if last else GENESIS
    at = clock.now()
    entry = AuditEntry(
        at=at,
        actor=actor[:64],
        action=action[:64],
        detail=detail,
        source=source[:64],
        outcome=outcome,
        prev_hash=prev,
        entry_hash=entry_digest(prev, at, actor[:64], action[:64], detail, source[:64], outcome),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    """The result of checking the chain: how many entries, and the first broken one."""

    entries: int
    broken_at: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        """True when every entry links to the one before and its hash matches its content."""
        return self.broken_at is None


def verify_chain(session: Session) -> ChainReport:
    """Recompute every hash in order; report the first entry that does not match."""
    prev = GENESIS
    count = 0
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        count += 1
        if entry.prev_hash != prev:
            return ChainReport(count, entry.id, "does not link to the entry before it")
        expected = entry_digest(
            entry.prev_hash, entry.at, entry.actor, entry.action, entry.detail, entry.source,
            entry.outcome,
        )
        if expected != entry.entry_hash:
            return ChainReport(count, entry.id, "content does not match its hash (edited)")
        prev = entry.entry_hash
    return ChainReport(count, None, None)


def latest(session: Session, limit: int = 200, offset: int = 0) -> Sequence[AuditEntry]:
    """The newest entries first."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
    return session.scalars(stmt).all()


def chained(entry: AuditEntry) -> ChainedEntry:
    """An entry as it leaves the controller (audit anchors, exports)."""
    return ChainedEntry(entry.id, entry_time(entry.at), entry.actor, entry.action,
                        entry.detail, entry.source, entry.outcome, entry.prev_hash,
                        entry.entry_hash)


def entries_between(session: Session, first: int, last: int) -> list[ChainedEntry]:
    """Entries first..last (by id), oldest first."""
    rows = session.scalars(select(AuditEntry).where(
        AuditEntry.id >= first, AuditEntry.id <= last).order_by(AuditEntry.id))
    return [chained(r) for r in rows]


def newest_id(session: Session) -> int:
    """The id of the newest entry (0 for an empty log)."""
    return session.scalar(select(func.max(AuditEntry.id))) or 0


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to show: by who, by action, from and until a moment (UTC)."""

    actor: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[ColumnElement[bool]]:
        """The filter as SQL conditions."""
        found: list[ColumnElement[bool]] = []
        if self.actor:
            found.append(AuditEntry.actor == self.actor)
        if self.action:
            found.append(AuditEntry.action == self.action)
        if self.since is not None:
            found.append(AuditEntry.at >= self.since)
        if self.until is not None:
            found.append(AuditEntry.at < self.until)
        return found


def search(session: Session, where: AuditFilter, limit: int = 200, offset: int = 0
           ) -> tuple[Sequence[AuditEntry], int]:
    """A page of the entries the filter lets through, newest first, and how many there are."""
    conditions = where.where()
    stmt = (select(AuditEntry).where(*conditions).order_by(AuditEntry.id.desc())
            .limit(limit).offset(offset))
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions))
    return session.scalars(stmt).all(), int(total or 0)


def every(session: Session, where: AuditFilter) -> Iterator[AuditEntry]:
    """Every entry the filter lets through, oldest first, read in batches (the export)."""
    stmt = select(AuditEntry).where(*where.where()).order_by(AuditEntry.id)
    yield from session.scalars(stmt.execution_options(yield_per=500))


def choices(session: Session) -> tuple[list[str], list[str]]:
    """Who acted and which actions there are, for the filters."""
    actors = session.scalars(select(AuditEntry.actor).distinct().order_by(AuditEntry.actor))
    actions = session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    return list(actors), list(actions)


# Details name users by their uuid (the CD object name, which never changes); the page
# shows their names. Read from the users' table by its columns, as profiles count
# references: the users folder records into this log, so this one cannot import it.
_USERS = table("body_worn_user", column("uuid"), column("name"), column("user_id"))


def user_names(session: Session, uuids: set[str]) -> dict[str, str]:
    """"Name (user ID)" of each user still here among `uuids`."""
    if not uuids:
        return {}
    rows = session.execute(select(_USERS.c.uuid, _USERS.c.name, _USERS.c.user_id)
                           .where(_USERS.c.uuid.in_(sorted(uuids)[:1000])))
    return {u: f"{name} ({uid})" if uid else str(name) for u, name, uid in rows}
