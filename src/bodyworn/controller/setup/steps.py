"""The wizard's steps as a table: how each step's form goes into the draft and is checked.

A step stores its form in the draft (returning what the form itself got wrong), is
checked by the rules in service.py, and may then do the slow part once its answers
hold (a new identity, an NTP measurement, checking a firmware file). `apply` runs one
step; pages.py has one handler for every step. The order and the titles are
wizard.STEPS; the page is `setup/<slug>.html` and the next step is the one after it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bodyworn.controller.identity.restore_key import (
    DECRYPT_FAILED,
    NOT_A_RESTORE_KEY,
    RestoreKeyError,
    open_restore_key,
)
from bodyworn.controller.ports import NtpMeasurer
from bodyworn.controller.refusals import Refused
from bodyworn.controller.setup import service
from bodyworn.controller.setup.service import FieldError, Identity
from bodyworn.controller.setup.wizard import SLUGS, Draft
from bodyworn.controller.web.params import form_int
from bodyworn.domain.clock import utcnow
from bodyworn.firmware.bundle import MAX_BUNDLE_BYTES, Bundle

MAX_CONNECTION_FILE = 64 * 1024
# How much of an uploaded file is read, by form field (others: MAX_CONNECTION_FILE).
FILE_LIMITS = {"firmware": MAX_BUNDLE_BYTES}


@dataclass(frozen=True)
class Submitted:
    """A submitted step form: its text fields, and the files uploaded with it."""

    fields: Mapping[str, str]
    files: Mapping[str, tuple[str, bytes]] = field(default_factory=dict)

    def text(self, name: str) -> str:
        """A field without surrounding spaces ("" when absent)."""
        return self.fields.get(name, "").strip()

    def raw(self, name: str) -> str:
        """A field exactly as typed (passwords)."""
        return self.fields.get(name, "")


Errors = list[FieldError]


@dataclass(frozen=True)
class StepTools:
    """What a step's slow part may use: the NTP measurement and the firmware check (which
    raises a Refused saying what is wrong with the file)."""

    ntp: NtpMeasurer | None = None
    verify_firmware: Callable[[bytes], Bundle] | None = None


@dataclass(frozen=True)
class Step:
    """One wizard step."""

    slug: str
    store: Callable[[Submitted, Draft], Errors]
    check: Callable[[Draft], Errors]
    then: Callable[[Draft, StepTools], Errors] | None = None

    @property
    def next(self) -> str:
        """The step that follows."""
        return SLUGS[SLUGS.index(self.slug) + 1]


def apply(step: Step, form: Submitted, draft: Draft, tools: StepTools) -> Errors:
    """Store and check one step (blocking: run it in a worker thread)."""
    errors = step.store(form, draft)
    given = {e.field for e in errors}
    errors += [e for e in step.check(draft) if e.field not in given]
    if errors or step.then is None:
        return errors
    return step.then(draft, tools)


# ---- start ---------------------------------------------------------------------------


def _store_start(form: Submitted, draft: Draft) -> Errors:
    draft.mode = form.text("mode")
    draft.answers.language = form.text("language") or "en"
    upload = form.files.get("firmware")
    if upload is not None:
        draft.firmware_upload = upload[1]
        draft.firmware_name = upload[0][:128]
    elif form.text("firmware_remove") == "on":
        draft.firmware, draft.firmware_name = None, ""
    return []


def _check_firmware(draft: Draft, tools: StepTools) -> Errors:
    """A firmware file given on the first step is checked whole now (any version: this is
    a new system, the way to an older version)."""
    data, draft.firmware_upload = draft.firmware_upload, b""
    if not data:
        return []
    if tools.verify_firmware is None:
        return [FieldError("firmware", "firmware cannot be installed here")]
    try:
        draft.firmware = tools.verify_firmware(data)
    except Refused as exc:
        draft.firmware, draft.firmware_name = None, ""
        return [FieldError("firmware", exc.message)]
    return []


def _check_start(draft: Draft) -> Errors:
    errors = service.check_language(draft.answers)
    if draft.mode == "extend":
        errors.append(FieldError(
            "mode",
            "Extending an existing system is not available yet: it comes with support "
            "for several system controllers.",
        ))
    elif draft.mode != "create":
        errors.append(FieldError("mode", "choose Create a new system"))
    return errors


# ---- accounts and keys ---------------------------------------------------------------


def _store_admin(form: Submitted, draft: Draft) -> Errors:
    draft.answers.root_password = form.raw("root_password")
    draft.answers.root_password_confirm = form.raw("root_password_confirm")
    return []


def _store_passphrase(form: Submitted, draft: Draft) -> Errors:
    new = form.raw("super_admin_passphrase")
    if new != draft.answers.super_admin_passphrase:
        # A new passphrase means a new key file: the old download no longer counts, and
        # an identity restored with the old one is given up.
        draft.identity = None
        draft.restore_key_downloaded = False
        draft.restored_from, draft.then = "", None
        draft.done.discard("restore-key")
    draft.answers.super_admin_passphrase = new
    draft.answers.super_admin_passphrase_confirm = form.raw("super_admin_passphrase_confirm")
    return []


def _new_identity(draft: Draft, _tools: StepTools) -> Errors:
    if draft.identity is None:
        draft.identity = Identity.generate()
    return []


def _store_nothing(_form: Submitted, _draft: Draft) -> Errors:
    return []


RESTORED_FROM_KEY = "the System restore key"
KEY_NOT_OPENED = ("The Super admin passphrase does not open this System restore key: the "
                  "passphrase is wrong, the file was changed, or it is another system's key.")


def restore_identity(form: Submitted, draft: Draft) -> Errors:
    """The restore-key step's other way: an existing System restore key and the Super admin
    passphrase that opens it give the new controller the old system's identity, so the
    system's cameras can be unlocked. Nothing else is restored; nothing is written."""
    passphrase = form.raw("restore_passphrase")
    upload = form.files.get("restore_key_file")
    if not passphrase:
        return [FieldError("restore_passphrase", "enter the Super admin passphrase")]
    if upload is None or not upload[1]:
        return [FieldError("restore_key_file", "choose the System restore key file")]
    try:
        contents = open_restore_key(upload[1], passphrase)
    except RestoreKeyError as exc:
        if str(exc) == DECRYPT_FAILED:
            message = KEY_NOT_OPENED
        elif str(exc).startswith(NOT_A_RESTORE_KEY):
            message = "This file is not a System restore key."
        else:
            message = f"This System restore key cannot be read: {exc}."
        return [FieldError("restore_key_file", message)]
    draft.restore(Identity(contents.system_id, contents.private_key_pem,
                           contents.public_key_pem), passphrase, RESTORED_FROM_KEY)
    if not draft.answers.system_name:
        draft.answers.system_name = contents.system_name
    return []


def _check_downloaded(draft: Draft) -> Errors:
    if not draft.restore_key_downloaded:
        return [FieldError("restore_key", "download the System restore key first")]
    return []


# ---- the system ----------------------------------------------------------------------


def _store_name(form: Submitted, draft: Draft) -> Errors:
    draft.answers.system_name = form.text("system_name")
    return []


def _store_network(form: Submitted, draft: Draft) -> Errors:
    draft.answers.listen_host = form.text("listen_host")
    port = form.text("listen_port")
    draft.answers.listen_port = form_int(port, 0, 65535) or -1
    return []


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _store_time(form: Submitted, draft: Draft) -> Errors:
    a = draft.answers
    a.timezone = form.text("timezone")
    a.time_mode = form.text("time_mode")
    a.ntp_server = form.text("ntp_server") or None
    a.ntp_fallback_server = form.text("ntp_fallback_server") or None
    a.manual_time = None
    if a.time_mode != "manual":
        return []
    # An empty field keeps the current time; a prefilled value would be read in a time
    # zone the user may change on the same form.
    raw = form.text("manual_time") or utcnow().isoformat()
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        return [FieldError("manual_time", "must be a date and time")]
    a.manual_time = local.replace(tzinfo=_zone(a.timezone)) if local.tzinfo is None else local
    return []


def _measure_time(draft: Draft, tools: StepTools) -> Errors:
    a, ntp = draft.answers, tools.ntp
    if a.time_mode == "manual":
        draft.offset_seconds = service.clock_offset(a, utcnow(), None)
    elif ntp is not None:
        try:
            draft.offset_seconds = ntp(a.ntp_server or "", a.ntp_fallback_server)
        except Exception as exc:  # the NTP client's own error names both servers
            # Most often a site without internet access: say so, and what to do instead.
            return service.ntp_unreachable(exc)
    return []


def _store_cloud(form: Submitted, draft: Draft) -> Errors:
    a = draft.answers
    a.cloud_extensions = form.text("cloud_extensions") == "on"
    a.cloud_location = (form.text("cloud_location") or None) if a.cloud_extensions else None
    return []


def _store_destination(form: Submitted, draft: Draft) -> Errors:
    upload = form.files.get("connection_file")
    if upload is not None:
        filename, data = upload
        draft.answers.connection_file = data
        draft.connection_file_name = filename[:128]
        draft.connection_file_warned = False
    elif not draft.answers.connection_file:
        return [FieldError("connection_file", "is required")]
    return []


def _store_power(form: Submitted, draft: Draft) -> Errors:
    value = form.text("power_line_frequency")
    draft.answers.power_line_frequency = form_int(value, 0, 1000) or -1
    return []


def _store_assignment(form: Submitted, draft: Draft) -> Errors:
    draft.answers.camera_assignment = form.text("camera_assignment")
    return []


def _rule(check: Callable[[service.SetupAnswers], Errors]) -> Callable[[Draft], Errors]:
    return lambda draft: check(draft.answers)


STEPS: dict[str, Step] = {step.slug: step for step in (
    Step("start", _store_start, _check_start, _check_firmware),
    Step("admin", _store_admin, _rule(service.check_admin)),
    Step("passphrase", _store_passphrase, _rule(service.check_passphrase), _new_identity),
    Step("restore-key", _store_nothing, _check_downloaded),
    Step("name", _store_name, _rule(service.check_system_name)),
    Step("network", _store_network, _rule(service.check_network)),
    Step("time", _store_time, _rule(service.check_time), _measure_time),
    Step("cloud", _store_cloud, _rule(service.check_cloud)),
    Step("destination", _store_destination, _rule(service.check_connection_file)),
    Step("power", _store_power, _rule(service.check_power_line)),
    Step("assignment", _store_assignment, _rule(service.check_assignment)),
)}  # every step of wizard.STEPS but the summary, in its order (a test holds them together)
