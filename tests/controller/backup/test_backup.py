"""The system backup: what it holds, restoring it whole or not at all, the schedule, failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bodyworn.controller.app import build_context
from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.backup import contents as backup_contents
from bodyworn.controller.backup import format as fmt
from bodyworn.controller.backup import service as backup
from bodyworn.controller.backup.targets import BackupInbox
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.events import BackupFailed
from bodyworn.controller.health import service as health
from bodyworn.controller.identity.models import SystemIdentity
from bodyworn.controller.settings import ControllerSettings
from bodyworn.controller.setup import service as setup
from bodyworn.controller.setup.models import SystemSettings
from bodyworn.controller.users.models import BodyWornUser
from bodyworn.domain.clock import ManualClock, utcnow
from tests.controller.backup.data import WHO, configure_folder, populate, system_view
from tests.controller.conftest import PASSPHRASE, ROOT_PASSWORD, set_up


@pytest.fixture
def fresh(tmp_path: Path, clock: ManualClock) -> Iterator[ControllerContext]:
    """A second controller, new, in its own data directory (the replacement)."""
    other = build_context(ControllerSettings(data_dir=tmp_path / "new"), clock=clock)
    yield other
    other.engine.dispose()


@pytest.fixture
def backed_up(ctx: ControllerContext, tmp_path: Path) -> bytes:
    """A populated system's backup, sent to a folder; the file's bytes."""
    set_up(ctx, camera_assignment="self-assign", cloud_extensions=True, cloud_location="eu-de")
    populate(ctx)
    configure_folder(ctx, tmp_path / "target")
    outcome = backup.run_backup(ctx)
    assert outcome.ok, outcome.detail
    with ctx.factory() as session:
        system_id = session.get(SystemSettings, 1).system_id  # type: ignore[union-attr]
    data = BackupInbox(tmp_path / "target").latest(system_id)
    assert data is not None and len(data) == outcome.size
    return data


def restore(ctx: ControllerContext, data: bytes, passphrase: str = PASSPHRASE) -> None:
    """What the wizard and unattended setup do with a backup file (setup's one commit)."""
    contents = backup.open_backup(data, passphrase)
    answers = setup.SetupAnswers(root_password="another fine root password 9",
                                 super_admin_passphrase=passphrase)
    backup.fill_answers(contents, answers, utcnow())
    row = setup.commit(ctx.factory, ctx.clock, answers, backup.identity_of(contents),
                       offset_seconds=0.0, source="test", then=backup.restorer(contents),
                       restored=backup.RESTORED_FROM_BACKUP)
    ctx.apply_system(row)


def test_a_restored_controller_has_everything_the_backup_keeps(
        ctx: ControllerContext, fresh: ControllerContext, backed_up: bytes) -> None:
    restore(fresh, backed_up)
    assert system_view(fresh) == system_view(ctx)
    view = system_view(fresh)
    assert view["mail"]["smtp_password"] == "smtp secret"
    assert ("Björn Ålund" in {u[1] for u in view["users"]})
    assert view["system"][3] == "self-assign" and view["readiness"] == (10.0, "11.2.3")


def test_the_backup_holds_no_evidence_no_accounts_and_no_plain_text(
        ctx: ControllerContext, backed_up: bytes) -> None:
    for secret in (b"Anna Berg", b"smtp secret", b"PRIVATE KEY", ROOT_PASSWORD.encode()):
        assert secret not in backed_up
    _, payload = fmt.open_sealed(backed_up, PASSPHRASE)
    assert set(payload) == backup_contents.TOP
    assert "accounts" not in payload and "offload" not in str(sorted(payload))


def test_a_wrong_passphrase_or_a_changed_byte_restores_nothing(
        fresh: ControllerContext, backed_up: bytes) -> None:
    with pytest.raises(fmt.BackupFileError, match="passphrase is wrong"):
        restore(fresh, backed_up, "not the super admin passphrase")
    middle = bytearray(backed_up)
    middle[len(middle) // 2] ^= 0x01
    with pytest.raises(fmt.BackupFileError):
        restore(fresh, bytes(middle))
    with pytest.raises(fmt.BackupFileError):
        restore(fresh, backed_up[:-40])
    with fresh.factory() as session:
        assert session.get(SystemSettings, 1) is None
        assert session.scalar(select(func.count()).select_from(BodyWornUser)) == 0


def test_data_that_do_not_hold_together_roll_the_whole_setup_back(
        ctx: ControllerContext, fresh: ControllerContext, backed_up: bytes) -> None:
    # Sealed with the right key, but a user's profile is not in it: the last section fails
    # after setup's rows and the earlier sections were written; nothing of it stays.
    with ctx.factory() as session:
        key = backup._stored_key(session, session.get(backup.BackupSettings, 1))  # type: ignore[arg-type]
    _, payload = fmt.open_sealed(backed_up, PASSPHRASE)
    payload["users"][0]["profile"] = "No such profile"
    when = fmt.parse_utc(payload["created_at"], "time")
    bad = fmt.seal(payload, key, system_id=payload["system_id"], created_at=when)
    with pytest.raises(fmt.BackupFileError, match="do not hold together"):
        restore(fresh, bad)
    with fresh.factory() as session:
        assert session.get(SystemSettings, 1) is None
        assert session.get(SystemIdentity, 1) is None
        assert session.scalar(select(func.count()).select_from(BodyWornUser)) == 0
    assert not fresh.set_up


def test_a_payload_with_a_field_too_many_or_of_the_wrong_type_is_refused() -> None:
    good = {key: [] for key in backup_contents.ROWS} | {
        "system_id": "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", "created_at": "2026-11-27T09:00:00Z",
        "connection_file": "{}", "identity": {"private_key_pem": "", "public_key_pem": ""},
        "settings": dict.fromkeys(backup_contents.SETTINGS_FIELDS, ""),
        "notifications": None, "assignment_settings": None}
    with pytest.raises(fmt.BackupFileError, match="wrong type"):
        backup_contents.parse(good)  # the settings' numbers and flags are text here
    good["settings"] = {**good["settings"], "listen_port": 8443, "power_line_frequency": 50,
                        "cloud_extensions": False, "cloud_location": None,
                        "ntp_server": None, "ntp_fallback_server": None}
    assert backup_contents.parse(good).count("users") == 0
    with pytest.raises(fmt.BackupFileError, match="fields of this version"):
        backup_contents.parse({**good, "users": [{"uuid": "x"}]})
    with pytest.raises(fmt.BackupFileError, match="fields of this version"):
        backup_contents.parse({**good, "audit": []})
    true_port = {**good, "settings": {**good["settings"], "listen_port": True}}
    with pytest.raises(fmt.BackupFileError, match="wrong type"):
        backup_contents.parse(true_port)


def test_configuring_needs_the_passphrase_and_a_real_folder(
        ctx: ControllerContext, tmp_path: Path) -> None:
    set_up(ctx)
    with pytest.raises(backup.PassphraseWrong):
        backup.configure(ctx, target=f"folder:{tmp_path}", interval_hours=24,
                         passphrase="not it at all", **WHO)
    with ctx.factory() as session:
        assert not backup.status(session).configured
        denied = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "backup.configure")).all()
    assert [e.outcome for e in denied] == ["denied"]
    with pytest.raises(backup.FieldsRefused):
        backup.target_of(ctx, "folder", "relative/path", "")
    with pytest.raises(backup.FieldsRefused):
        backup.target_of(ctx, "controller", "", "extension:nobody")
    with pytest.raises(backup.FieldsRefused):
        backup.configure(ctx, target=f"folder:{tmp_path}", interval_hours=0.5,
                         passphrase=PASSPHRASE, **WHO)


def test_the_schedule_runs_every_interval_and_sooner_after_a_failure(
        ctx: ControllerContext, clock: ManualClock, tmp_path: Path) -> None:
    set_up(ctx)
    target = tmp_path / "target"
    configure_folder(ctx, target, hours=24)
    heard: list[BackupFailed] = []
    ctx.events.subscribe(BackupFailed, heard.append)
    assert backup.run_if_due(ctx) is not None  # never run: due at once
    assert backup.run_if_due(ctx) is None
    clock.advance(timedelta(hours=23))
    assert backup.run_if_due(ctx) is None
    clock.advance(timedelta(hours=1))
    first = backup.run_if_due(ctx)
    assert first is not None and first.ok
    # The target goes away: the next run fails, the dashboard says so, one event.
    target.rename(tmp_path / "gone")
    clock.advance(timedelta(hours=24))
    failed = backup.run_if_due(ctx)
    assert failed is not None and not failed.ok
    assert [(e.failed, "not there" in e.detail) for e in heard] == [(True, True)]
    board = health.build(ctx)
    assert [i.link for i in board.issues if i.kind == "backup_failed"] == ["/settings/backup"]
    clock.advance(timedelta(minutes=10))
    assert backup.run_if_due(ctx) is None
    clock.advance(timedelta(minutes=5))  # retried 15 minutes after a failure
    assert backup.run_if_due(ctx) is not None
    assert len(heard) == 1  # still failing: no second event
    (tmp_path / "gone").rename(target)
    clock.advance(timedelta(minutes=15))
    again = backup.run_if_due(ctx)
    assert again is not None and again.ok
    assert [e.failed for e in heard] == [True, False]
    assert not [i for i in health.build(ctx).issues if i.kind == "backup_failed"]
    with ctx.factory() as session:
        status = backup.status(session)
    assert status.last_success_at == clock.now() and not status.failing


def test_the_folder_keeps_the_previous_backup_beside_the_newest(
        ctx: ControllerContext, clock: ManualClock, tmp_path: Path) -> None:
    set_up(ctx)
    configure_folder(ctx, tmp_path / "target")
    backup.run_backup(ctx)
    clock.advance(timedelta(hours=1))
    backup.run_backup(ctx)
    inbox = BackupInbox(tmp_path / "target")
    (system_id,) = inbox.systems()
    newest = inbox.latest(system_id)
    assert newest is not None
    previous = (inbox.folder / f"{system_id}.previous.bwbackup").read_bytes()
    assert fmt.read_header(previous)[0].created_at < fmt.read_header(newest)[0].created_at
    assert backup.latest_from_target(ctx) == newest
    with pytest.raises(fmt.BackupFileError):
        inbox.store(b"not a backup")
    assert inbox.latest(system_id) == newest
