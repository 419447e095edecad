"""How a Remote pairing reaches the user: by mail, or on a sheet the administrator hands on.

The manual's Remote pairing mails the QR code and the instructions to the user. When the
system can send mail (an SMTP server under Settings → Email notifications, and cloud
extensions on: the rule notifications follow), the administrator gives the user's
address and `mail_pairing` queues the mail in the pairing's transaction: the
instructions, the QR code as a PNG picture and the pairing sheet as a page. The mail
carries the pairing code, so it is queued sealed (notifications/ keeps its content
sealed with the secrets key and empties it once the SMTP server took it). The PIN never
travels with the QR code: the administrator tells it to the user another way (a phone
call). Without mail, the pairing sheet is downloaded from the pairing page instead.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import segno
from jinja2 import Environment
from sqlalchemy.orm import Session

from bodyworn.controller.assistant_pairing.models import AssistantPairingRow
from bodyworn.controller.audit.service import record
from bodyworn.controller.notifications import service as mail
from bodyworn.controller.refusals import FieldsRefused, Refused
from bodyworn.controller.setup.models import SystemSettings
from bodyworn.domain.clock import Clock
from bodyworn.i18n.catalog import translations
from bodyworn.webui import local_time

# The mail's words (the sheet's own where they say the same; the catalog translates all).
SUBJECT = "Pairing with AXIS Body Worn Assistant"
GREETING = "For"
VALID_UNTIL = "The QR code and the PIN are valid until"
PIN_ELSEWHERE = "Your administrator tells you the PIN."
STEPS = (
    "Dock your camera once, so that it learns the pairing.",
    "Undock the camera and wait until it has started.",
    "In AXIS Body Worn Assistant, tap Connect and scan the QR code attached to this mail.",
    "Enter the PIN within 5 minutes of undocking the camera.",
)
PASTE = "On the phone itself, paste this text instead:"
KEEP = "Keep this mail to yourself: anyone with it and your camera could pair a phone."
MAIL_MSGIDS = (SUBJECT, GREETING, VALID_UNTIL, PIN_ELSEWHERE, *STEPS, PASTE, KEEP)


@dataclass(frozen=True)
class PairingSheet:
    """What the user needs to pair: whose pairing, the QR code, until when."""

    user_name: str
    user_id: str | None
    system_name: str
    qr_svg: str
    code_text: str
    expires_at: datetime


class MailUnavailable(Refused):
    """Remote pairing by mail while the system cannot send mail."""

    status = 409

    def __init__(self) -> None:
        super().__init__("This system cannot send mail: set the SMTP server under Settings > "
                         "Email notifications and turn cloud extensions on, or leave the "
                         "address empty and download the pairing sheet.")


def render_sheet(env: Environment, sheet: PairingSheet, language: str, zone: str) -> bytes:
    """The sheet as a page of its own (it opens from a file, so its style is inline); its
    times in the system's time zone."""
    template = env.get_template("assistant_pairing/sheet.html")
    text = template.render(s=sheet, lang=language, _=translations(language).gettext, zone=zone)
    return text.encode("utf-8")


def qr_png(text: str) -> bytes:
    """The QR code of `text` as a PNG picture (segno)."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=8, border=4)
    return out.getvalue()


def mail_text(sheet: PairingSheet, language: str, zone: str = "UTC") -> tuple[str, str]:
    """Subject and body of the pairing mail (no PIN in it), times in `zone` (named)."""
    tr = translations(language).gettext
    who = sheet.user_name + (f" ({sheet.user_id})" if sheet.user_id else "")
    lines = [f"{tr(GREETING)} {who}, {sheet.system_name}.", "",
             f"{tr(VALID_UNTIL)} {local_time(sheet.expires_at, zone)}. "
             f"{tr(PIN_ELSEWHERE)}", ""]
    lines += [f"{n}. {tr(step)}" for n, step in enumerate(STEPS, 1)]
    lines += ["", tr(PASTE), sheet.code_text, "", tr(KEEP)]
    return f"[{sheet.system_name}] {tr(SUBJECT)}", "\n".join(lines) + "\n"


def mail_pairing(session: Session, clock: Clock, row: AssistantPairingRow, sheet: PairingSheet,
                 address: str, *, render: Callable[[PairingSheet], bytes], language: str,
                 actor: str, source: str) -> None:
    """Queue the pairing mail to `address` (sealed) in the caller's transaction."""
    address = address.strip()
    errors = mail.check_address(address, "email")
    if errors:
        raise FieldsRefused(errors)
    if not mail.can_mail(session):
        raise MailUnavailable()
    system = session.get(SystemSettings, 1)
    subject, body = mail_text(sheet, language, system.timezone if system else "UTC")
    mail.queue_mail(session, clock, to=address, subject=subject, body=body, kind=mail.PAIRING,
                    sealed=True, attachments=(
                        mail.Attachment("assistant-pairing-qr.png", "image/png",
                                        qr_png(sheet.code_text)),
                        mail.Attachment("assistant-pairing.html", "text/html", render(sheet))))
    row.mailed_to = address
    record(session, clock, actor=actor, action="assistant.pair.mail",
           detail=f"{row.user_uuid}: pairing {row.pairing_id} mailed to {address}",
           source=source)
