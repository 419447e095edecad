"""Unattended setup from an answers file: same checks as the wizard, all errors at once.

An entry point like server.py (beside app.py, above the folders): it opens the data
directory as a starting controller does (app.build_context) and commits through setup/.
"""

from __future__ import annotations

from pathlib import Path

from bodyworn.controller.app import build_context
from bodyworn.controller.ports import NtpMeasurer
from bodyworn.controller.settings import ControllerSettings
from bodyworn.controller.setup import service
from bodyworn.controller.setup.answers import load_answers
from bodyworn.controller.setup.service import FieldError, Identity, SetupInvalid
from bodyworn.domain.clock import Clock, utcnow
from bodyworn.store.files import write_file_atomic


def run_unattended(
    settings: ControllerSettings, answers_path: Path, clock: Clock, ntp: NtpMeasurer | None
) -> service.UnattendedResult:
    """Set a system up from an answers file; SetupInvalid lists every error, nothing written."""
    loaded = load_answers(answers_path, host_now=utcnow())
    errors = list(loaded.errors) + [
        e for e in service.validate(loaded.answers)
        if not any(x.field == e.field for x in loaded.errors)
    ]
    if errors:
        raise SetupInvalid(errors)
    assert loaded.restore_key_path is not None
    offset = 0.0
    try:
        offset = service.clock_offset(loaded.answers, utcnow(), ntp)
    except Exception as exc:  # the NTP client's error names both servers
        raise SetupInvalid([FieldError("ntp_server", f"no answer: {exc}")]) from None
    ctx = build_context(settings, clock=clock, ntp=ntp)
    try:
        if ctx.set_up:
            raise service.AlreadySetUp()
        identity = Identity.generate()
        key_file = service.restore_key_bytes(loaded.answers, identity, clock)
        # The key file is written first: a system whose restore key was never saved must
        # not exist. If the commit then fails, the file is removed again.
        write_file_atomic(loaded.restore_key_path, key_file)
        try:
            service.commit(ctx.factory, clock, loaded.answers, identity,
                           offset_seconds=offset, source="unattended")
        except BaseException:
            loaded.restore_key_path.unlink(missing_ok=True)
            raise
    finally:
        ctx.engine.dispose()
    return service.UnattendedResult(identity.system_id, loaded.restore_key_path,
                                    warnings=service.connection_file_warnings(loaded.answers))
