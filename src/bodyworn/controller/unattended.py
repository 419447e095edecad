"""Unattended setup from an answers file: same checks as the wizard, all errors at once.

An entry point like server.py (beside app.py, above the folders): it opens the data
directory as a starting controller does (app.build_context) and commits through setup/.
With `restore_key` the identity comes from an old system's System restore key; with
`restore_backup` the identity, the settings and the data come from a system backup.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from bodyworn.controller.app import build_context
from bodyworn.controller.backup import service as backup
from bodyworn.controller.backup.format import BackupFileError
from bodyworn.controller.firmware import service as firmware
from bodyworn.controller.identity.restore_key import RestoreKeyError, open_restore_key
from bodyworn.controller.ports import NtpMeasurer
from bodyworn.controller.settings import ControllerSettings
from bodyworn.controller.setup import service
from bodyworn.controller.setup.answers import LoadedAnswers, load_answers
from bodyworn.controller.setup.service import FieldError, Identity, SetupInvalid
from bodyworn.controller.setup.steps import RESTORED_FROM_KEY
from bodyworn.domain.clock import Clock, utcnow
from bodyworn.domain.user_files import UserFileError, read_user_file
from bodyworn.firmware.bundle import MAX_BUNDLE_BYTES, Bundle
from bodyworn.store.files import write_file_atomic

Then = Callable[[Session, Clock], None]


def _restored(loaded: LoadedAnswers) -> tuple[Identity | None, Then | None, str]:
    """The identity (and data) to restore, if the answers ask for a restore."""
    passphrase = loaded.answers.super_admin_passphrase
    if loaded.restore_backup is not None:
        try:
            contents = backup.open_backup(loaded.restore_backup, passphrase)
            identity = backup.identity_of(contents)
        except BackupFileError as exc:
            raise SetupInvalid([FieldError("restore_backup", str(exc))]) from None
        backup.fill_answers(contents, loaded.answers, utcnow())
        return identity, backup.restorer(contents), backup.RESTORED_FROM_BACKUP
    if loaded.restore_key is not None:
        try:
            key = open_restore_key(loaded.restore_key, passphrase)
        except RestoreKeyError as exc:
            raise SetupInvalid([FieldError("restore_key", str(exc))]) from None
        return (Identity(key.system_id, key.private_key_pem, key.public_key_pem), None,
                RESTORED_FROM_KEY)
    return None, None, ""


def _firmware(settings: ControllerSettings, path: Path | None) -> Bundle | None:
    """The answers' firmware file, verified whole (SetupInvalid says why not)."""
    if path is None:
        return None
    try:
        data = read_user_file(path, limit=MAX_BUNDLE_BYTES, what="firmware file")
        return firmware.verify(settings, data)
    except UserFileError as exc:
        raise SetupInvalid([FieldError("firmware_file", str(exc))]) from None
    except firmware.FirmwareRefused as exc:
        raise SetupInvalid([FieldError("firmware_file", exc.message)]) from None


def run_unattended(
    settings: ControllerSettings, answers_path: Path, clock: Clock, ntp: NtpMeasurer | None
) -> service.UnattendedResult:
    """Set a system up from an answers file; SetupInvalid lists every error, nothing written."""
    loaded = load_answers(answers_path, host_now=utcnow())
    errors = list(loaded.errors)
    if errors and loaded.restore_backup is not None:
        raise SetupInvalid(errors)  # the settings to check are in the backup
    restored, then, source = _restored(loaded) if not errors else (None, None, "")
    errors += [e for e in service.validate(loaded.answers)
               if not any(x.field == e.field for x in errors)]
    if errors:
        raise SetupInvalid(errors)
    offset = 0.0
    try:
        offset = service.clock_offset(loaded.answers, utcnow(), ntp)
    except Exception as exc:  # the NTP client's error names both servers
        raise SetupInvalid([FieldError("ntp_server", f"no answer: {exc}")]) from None
    # Checked before the data directory is touched: a bad file writes nothing.
    bundle = _firmware(settings, loaded.firmware_path)
    ctx = build_context(settings, clock=clock, ntp=ntp)
    try:
        if ctx.set_up:
            raise service.AlreadySetUp()
        if restored is not None:
            service.commit(ctx.factory, clock, loaded.answers, restored, offset_seconds=offset,
                           source="unattended", then=then, restored=source, firmware=bundle,
                           installer=ctx.firmware)
            return service.UnattendedResult(restored.system_id, None, restored_from=source)
        assert loaded.restore_key_path is not None
        identity = Identity.generate()
        key_file = service.restore_key_bytes(loaded.answers, identity, clock)
        # The key file is written first: a system whose restore key was never saved must
        # not exist. If the commit then fails, the file is removed again.
        write_file_atomic(loaded.restore_key_path, key_file)
        try:
            service.commit(ctx.factory, clock, loaded.answers, identity,
                           offset_seconds=offset, source="unattended", firmware=bundle,
                           installer=ctx.firmware)
        except BaseException:
            loaded.restore_key_path.unlink(missing_ok=True)
            raise
    finally:
        ctx.engine.dispose()
    return service.UnattendedResult(identity.system_id, loaded.restore_key_path,
                                    warnings=service.connection_file_warnings(loaded.answers))
