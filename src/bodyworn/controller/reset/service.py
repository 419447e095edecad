"""Support → System reset: refuse while anything is pending, then forget the system.

The reset empties every table but three in one transaction: the audit log (append-only
and hash-chained, it records the reset and goes on), the manager's TLS certificates (the
machine's, so browsers keep trusting it) and the firmware installs (the firmware stays
installed: the new system starts from it, and its wizard may install an older one). The
SQLite file is then vacuumed, so the deleted rows' pages (sealed keys among them) are not
left in it, and the copies taken before migrations are removed for the same reason. The
controller is then not set up: every page leads to the first-start wizard, where a new
system (a new content destination, a new camera assignment mode) can be made, or an old
one restored.

This folder reaches every table directly, as a reset must; it is the one writer that does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from bodyworn.controller.audit.service import record
from bodyworn.controller.backup import service as backup
from bodyworn.controller.backup.targets import FOLDER, BackupInbox
from bodyworn.controller.cameras import service as cameras
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.events import CdState, ResetAsked
from bodyworn.controller.offload import service as offload
from bodyworn.controller.outbox import service as outbox
from bodyworn.controller.refusals import Refused
from bodyworn.controller.reset import rules
from bodyworn.controller.system import service as system
from bodyworn.domain.clock import Clock
from bodyworn.i18n.catalog import DEFAULT_LANGUAGE
from bodyworn.store.db import Base

log = structlog.get_logger(__name__)
KEPT_TABLES = frozenset({"audit_entry", "tls_certificate", "firmware_install"})
MIGRATION_COPIES = "backups"  # store/db.py's copies of the database before a migration


class ResetRefused(Refused):
    """Something still depends on the system; `blockers` says what."""

    def __init__(self, blockers: list[str]) -> None:
        super().__init__("The system cannot be reset yet: " + " ".join(blockers))
        self.blockers = blockers

    def body(self) -> dict[str, Any]:
        """`{"detail", "pending": [...]}`."""
        return {"detail": "The system cannot be reset yet.", "pending": self.blockers}


@dataclass(frozen=True)
class ResetState:
    """What Support → System reset shows."""

    set_up: bool
    blockers: list[str]


def _holds_backup(ctx: ControllerContext, session: Session) -> list[str]:
    """This controller keeps another controller's system backup (the backup extension),
    unless it is its own backup folder."""
    own = backup.status(session).target
    if own.startswith(FOLDER) and Path(own[len(FOLDER):]).resolve() == ctx.data_dir.resolve():
        return []
    held = BackupInbox(ctx.data_dir).systems()
    return [f"It keeps the backup of system {system_id}." for system_id in held]


def facts(ctx: ControllerContext) -> rules.ResetFacts:
    """What holds a reset up now (the cluster answers ResetAsked for its extensions)."""
    asked = ResetAsked()
    ctx.events.publish(asked)
    with ctx.factory() as session:
        return rules.ResetFacts(
            cameras=[c.serial for c in cameras.registered(session)],
            pending_evidence=offload.any_pending(session),
            cd_changes=len(outbox.pending(session, limit=10_000)),
            extensions=list(asked.extensions),
            backup_holder=[*_holds_backup(ctx, session), *asked.backup_holder],
        )


def state(ctx: ControllerContext) -> ResetState:
    """Whether the system is set up, and what holds a reset up."""
    return ResetState(ctx.set_up, rules.blockers(facts(ctx)) if ctx.set_up else [])


def reset(ctx: ControllerContext, *, actor: str, source: str) -> None:
    """Reset the system to the first-start wizard (ResetRefused while anything is pending)."""
    with ctx.lock:
        found = rules.blockers(facts(ctx))
        if found:
            raise ResetRefused(found)
        with ctx.factory() as session:
            system_id = system.current(session).system_id
        ctx.write(_forget, system_id, actor=actor, source=source)
        _scrub(ctx)
        ctx.set_up, ctx.system_name, ctx.language = False, "", DEFAULT_LANGUAGE
        ctx.health.set_cd(CdState.OK)
    log.info("system.reset", system_id=system_id)


def _forget(session: Session, clock: Clock, system_id: str, *, actor: str, source: str) -> None:
    for table in reversed(Base.metadata.sorted_tables):
        if table.name not in KEPT_TABLES:
            session.execute(delete(table))
    record(session, clock, actor=actor, action="system.reset",
           detail=f"system {system_id} reset to factory state", source=source)


def _scrub(ctx: ControllerContext) -> None:
    """Leave no copy of the forgotten rows: vacuum SQLite, drop pre-migration copies."""
    if ctx.engine.dialect.name == "sqlite":
        with ctx.engine.connect() as conn:
            conn.execute(text("VACUUM"))
    copies = ctx.data_dir / MIGRATION_COPIES
    if copies.is_dir():
        for path in copies.glob("bodyworn-*.db"):
            path.unlink(missing_ok=True)
