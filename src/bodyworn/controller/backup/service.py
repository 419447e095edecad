"""Settings → System backup: configure, run (on schedule and on demand), and restore.

A run reads the whole configuration in one transaction, seals it (format.py) with the key
derived from the super admin passphrase when the backup was configured, hands it to the
target outside any transaction, and records how it went in a transaction of its own. A
failure is a dashboard issue until a run succeeds, and each change between failing and
working is a `BackupFailed` event (mail, through notifications/).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import structlog
from sqlalchemy.orm import Session

from bodyworn.controller.audit.service import record
from bodyworn.controller.backup import contents as backup_contents
from bodyworn.controller.backup import format as backup_format
from bodyworn.controller.backup import targets
from bodyworn.controller.backup.contents import BackupContents
from bodyworn.controller.backup.format import BackupFileError, BackupKey
from bodyworn.controller.backup.models import BACKUP_KEY_PURPOSE, BackupSettings
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.events import BackupFailed, emit
from bodyworn.controller.identity import service as identity
from bodyworn.controller.identity.keys import keypair_matches
from bodyworn.controller.identity.restore_key import DEFAULT_KDF, KdfParams
from bodyworn.controller.refusals import FieldError, FieldsRefused, Refused
from bodyworn.controller.setup.service import Identity, SetupAnswers
from bodyworn.controller.setup.wizard import Draft
from bodyworn.controller.system import service as system
from bodyworn.domain.clock import Clock
from bodyworn.store.secrets import box_of

log = structlog.get_logger(__name__)
DEFAULT_INTERVAL_HOURS = 24.0
INTERVAL_RANGE = (1.0, 168.0)
# After a failure the next try comes sooner than a whole interval.
RETRY_AFTER = timedelta(minutes=15)
_run_lock = threading.Lock()


class BackupRefused(Refused):
    """A backup that cannot run or a configuration that cannot be saved."""


class PassphraseWrong(BackupRefused):
    """The super admin passphrase did not match (the refusal is audited)."""

    status = 403

    def __init__(self) -> None:
        super().__init__("The Super admin passphrase is wrong.", keep=True)


@dataclass(frozen=True)
class BackupStatus:
    """What Settings → System backup shows."""

    configured: bool
    target: str
    target_label: str
    interval_hours: float
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_size: int | None
    last_error: str | None
    failing: bool
    next_due_at: datetime | None


def _label(key: str) -> str:
    if key.startswith(targets.FOLDER):
        return f"Folder {key[len(targets.FOLDER):]}"
    return key


def status(session: Session) -> BackupStatus:
    """The backup's configuration and how the last run went."""
    row = session.get(BackupSettings, 1)
    if row is None:
        return BackupStatus(False, "", "", DEFAULT_INTERVAL_HOURS, None, None, None, None,
                            False, None)
    return BackupStatus(True, row.target, _label(row.target), row.interval_hours,
                        row.last_attempt_at, row.last_success_at, row.last_size,
                        row.last_error, row.failing, _next_due(row))


def _next_due(row: BackupSettings) -> datetime | None:
    if row.last_attempt_at is None:
        return None  # now
    wait = timedelta(hours=row.interval_hours)
    return row.last_attempt_at + (min(wait, RETRY_AFTER) if row.failing else wait)


def problem(session: Session) -> str | None:
    """Why the last backup failed, while it has not succeeded since (the dashboard)."""
    row = session.get(BackupSettings, 1)
    return (row.last_error or "unknown error") if row is not None and row.failing else None


def check_interval(hours: float) -> list[FieldError]:
    """Hours between backups: 1 to 168."""
    low, high = INTERVAL_RANGE
    if not low <= hours <= high:
        return [FieldError("interval_hours", f"must be from {low:g} to {high:g} hours")]
    return []


def target_of(ctx: ControllerContext, kind: str, folder: str, choice: str) -> str:
    """The key of the target a form chose (FieldsRefused when it is not one)."""
    if kind == "folder":
        try:
            return targets.folder_target(folder.strip()).key
        except ValueError as exc:
            raise FieldsRefused([FieldError("folder", str(exc))]) from None
    if kind == "controller" and any(t.key == choice for t in targets.choices(ctx)):
        return choice
    raise FieldsRefused([FieldError("target", "choose a system controller or a folder")])


def configure(ctx: ControllerContext, *, target: str, interval_hours: float, passphrase: str,
              actor: str, source: str, kdf: KdfParams = DEFAULT_KDF) -> BackupStatus:
    """Save where backups go and how often, after the super admin passphrase; the first
    time, derive the backup key from it (the passphrase itself is not kept)."""
    errors = check_interval(interval_hours)
    if errors:
        raise FieldsRefused(errors)
    with ctx.factory() as session:
        known = identity.passphrase_matches(session, passphrase)
        has_key = session.get(BackupSettings, 1) is not None
    if not known:
        ctx.write(_deny, actor=actor, source=source)
    key = None if has_key else backup_format.derive_key(passphrase, kdf=kdf)
    return ctx.write(_save, target, interval_hours, key, actor=actor, source=source)


def _deny(session: Session, clock: Clock, *, actor: str, source: str) -> None:
    record(session, clock, actor=actor, action="backup.configure", outcome="denied",
           detail="wrong super admin passphrase", source=source)
    raise PassphraseWrong()


def _save(session: Session, clock: Clock, target: str, interval_hours: float,
          key: BackupKey | None, *, actor: str, source: str) -> BackupStatus:
    row = session.get(BackupSettings, 1)
    if row is None:
        if key is None:
            raise BackupRefused("configure the backup again: its key is missing")
        row = BackupSettings(id=1, failing=False)
        session.add(row)
    if key is not None:
        row.key_sealed = box_of(session).seal(key.key, BACKUP_KEY_PURPOSE)
        row.salt, row.kdf_iterations = key.salt, key.kdf.iterations
        row.kdf_lanes, row.kdf_memory_kib = key.kdf.lanes, key.kdf.memory_cost_kib
    row.target, row.interval_hours, row.updated_at = target, interval_hours, clock.now()
    record(session, clock, actor=actor, action="backup.configure",
           detail=f"{_label(target)}, every {interval_hours:g} h", source=source)
    session.flush()
    return status(session)


def _stored_key(session: Session, row: BackupSettings) -> BackupKey:
    kdf = KdfParams(row.kdf_iterations, row.kdf_lanes, row.kdf_memory_kib)
    return BackupKey(box_of(session).open(row.key_sealed, BACKUP_KEY_PURPOSE), row.salt, kdf)


def key_in_force(session: Session) -> bytes | None:
    """The backup key (derived from the passphrase) when a backup is configured: a secret
    the system report removes wherever it would appear (support/)."""
    row = session.get(BackupSettings, 1)
    return _stored_key(session, row).key if row is not None else None


def build_backup(session: Session, now: datetime) -> bytes:
    """The bytes of a backup of this system now, read in the caller's one transaction."""
    row = session.get(BackupSettings, 1)
    if row is None:
        raise BackupRefused("the system backup is not configured")
    payload = backup_contents.snapshot(session, now)
    return backup_format.seal(payload, _stored_key(session, row),
                              system_id=payload["system_id"], created_at=now)


@dataclass(frozen=True)
class RunOutcome:
    """How one backup run went."""

    ok: bool
    detail: str
    size: int = 0


def run_backup(ctx: ControllerContext, *, actor: str = "system", source: str = "") -> RunOutcome:
    """Make a backup and send it to the target; record how it went (never raises for a
    failed send: that is the outcome)."""
    with _run_lock:
        now = ctx.clock.now()
        with ctx.factory() as session:
            row = session.get(BackupSettings, 1)
            if row is None:
                raise BackupRefused("the system backup is not configured")
            target_key = row.target
            system_id = system.current(session).system_id
            data = build_backup(session, now)
        try:
            target = targets.resolve(ctx, target_key)
            target.send(system_id, data)
            outcome = RunOutcome(True, f"{len(data)} bytes to {target.label}", len(data))
        except (LookupError, targets.TargetUnavailable, OSError) as exc:
            outcome = RunOutcome(False, str(exc) or type(exc).__name__)
        except Exception as exc:  # a transport's own error: still a failed backup
            log.exception("backup.send_failed")
            outcome = RunOutcome(False, f"{type(exc).__name__}: {exc}")
        ctx.write(_note, now, outcome, actor=actor, source=source)
        return outcome


def _note(session: Session, clock: Clock, at: datetime, outcome: RunOutcome, *, actor: str,
          source: str) -> None:
    row = session.get(BackupSettings, 1)
    if row is None:
        return  # reset meanwhile
    was_failing = row.failing
    row.last_attempt_at, row.failing = at, not outcome.ok
    if outcome.ok:
        row.last_success_at, row.last_size, row.last_error = at, outcome.size, None
    else:
        row.last_error = outcome.detail[:2000]
    record(session, clock, actor=actor, action="backup.run",
           outcome="success" if outcome.ok else "failure", detail=outcome.detail[:500],
           source=source)
    if was_failing != row.failing:
        emit(session, BackupFailed("" if outcome.ok else outcome.detail, not outcome.ok))
    log.info("backup.run", ok=outcome.ok, detail=outcome.detail)


def run_if_due(ctx: ControllerContext) -> RunOutcome | None:
    """The schedule: a backup when the interval has passed (sooner again after a failure)."""
    with ctx.factory() as session:
        row = session.get(BackupSettings, 1)
        due = row is not None and system.settings_if_set_up(session) is not None and (
            (at := _next_due(row)) is None or at <= ctx.clock.now())
    return run_backup(ctx) if due else None


def open_backup(data: bytes, passphrase: str) -> BackupContents:
    """Check, decrypt and check again a backup file (BackupFileError: refused)."""
    _, payload = backup_format.open_sealed(data, passphrase)
    return backup_contents.parse(payload)


def fill_answers(contents: BackupContents, answers: SetupAnswers, host_now: datetime) -> None:
    """Setup's answers from a backup's settings (the passphrase and root password are
    the restorer's; manual time keeps this host's clock, the old offset was another's)."""
    values = contents.settings
    for key in ("system_name", "timezone", "time_mode", "ntp_server", "ntp_fallback_server",
                "cloud_extensions", "cloud_location", "power_line_frequency",
                "camera_assignment", "language"):
        setattr(answers, key, values[key])
    answers.connection_file = contents.connection_file
    answers.manual_time = host_now if answers.time_mode == "manual" else None


def identity_of(contents: BackupContents) -> Identity:
    """The system identity a backup holds (checked: the keys belong together)."""
    try:
        if keypair_matches(contents.private_key_pem, contents.public_key_pem):
            return Identity(contents.system_id, contents.private_key_pem,
                            contents.public_key_pem)
    except ValueError:
        pass
    raise BackupFileError("The backup file is damaged: its identity keys do not match.")


def restorer(contents: BackupContents) -> Callable[[Session, Clock], None]:
    """What setup runs in its one transaction to restore the backup's data."""
    return partial(backup_contents.restore_data, contents=contents)


RESTORED_FROM_BACKUP = "a system backup"


def restore_into_draft(draft: Draft, passphrase: str, data: bytes | None,
                       host_now: datetime) -> list[FieldError]:
    """The wizard's restore from a backup file: the identity, the settings as answers for
    the steps that follow, and the data for Finish's one transaction. Nothing is written
    now; a refused file leaves the draft as it was."""
    if not passphrase:
        return [FieldError("backup_passphrase", "enter the Super admin passphrase")]
    if not data:
        return [FieldError("backup_file", "choose the system backup file")]
    try:
        contents = open_backup(data, passphrase)
        restored = identity_of(contents)
    except BackupFileError as exc:
        return [FieldError("backup_file", str(exc))]
    language = draft.answers.language  # the person restoring chose the wizard's language
    draft.restore(restored, passphrase, RESTORED_FROM_BACKUP)
    fill_answers(contents, draft.answers, host_now)
    draft.answers.language = language
    draft.connection_file_name = "(from the system backup)"
    draft.then = restorer(contents)
    return []


def latest_from_target(ctx: ControllerContext) -> bytes | None:
    """The newest backup the configured target holds for this system."""
    with ctx.factory() as session:
        row = session.get(BackupSettings, 1)
        if row is None:
            return None
        system_id = system.current(session).system_id
    return targets.resolve(ctx, row.target).fetch_latest(system_id)


def forget(session: Session) -> None:
    """Drop the backup's settings (a system reset)."""
    row = session.get(BackupSettings, 1)
    if row is not None:
        session.delete(row)


__all__ = ["BackupFileError", "BackupRefused", "BackupStatus", "PassphraseWrong", "RunOutcome",
           "build_backup", "configure", "open_backup", "run_backup", "run_if_due", "status"]
