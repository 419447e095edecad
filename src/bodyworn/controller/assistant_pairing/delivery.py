"""How a Remote pairing reaches the user: one small interface, one backend today.

The manual's Remote pairing mails the QR code and the instructions to the user. The
backend today is a pairing sheet: an HTML page with the QR code and the instructions that
the administrator downloads and hands on. A mail backend (on notifications/' outbox, once
users have addresses and the outbox can keep the code sealed) implements the same
`Handover` and is chosen in `handover_for`. The PIN never travels with the QR
code: the administrator tells it to the user another way (a phone call).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from jinja2 import Environment

from bodyworn.i18n.catalog import translations


@dataclass(frozen=True)
class PairingSheet:
    """What the user needs to pair: whose pairing, the QR code, until when."""

    user_name: str
    user_id: str | None
    system_name: str
    qr_svg: str
    code_text: str
    expires_at: datetime


class Handover(Protocol):
    """A way of getting a pairing sheet to the user."""

    kind: str

    def hand_over(self, sheet: PairingSheet, html: bytes) -> str | None:
        """Send the sheet; the notice for the administrator (None: they download it)."""


class SheetDownload:
    """The administrator downloads the sheet and hands it on."""

    kind = "download"

    def hand_over(self, sheet: PairingSheet, html: bytes) -> str | None:
        """Nothing leaves the controller: the page offers the download."""
        return None


def handover_for() -> Handover:
    """The way Remote pairings reach users on this controller."""
    return SheetDownload()


def render_sheet(env: Environment, sheet: PairingSheet, language: str, zone: str) -> bytes:
    """The sheet as a page of its own (it opens from a file, so its style is inline); its
    times in the system's time zone."""
    template = env.get_template("assistant_pairing/sheet.html")
    text = template.render(s=sheet, lang=language, _=translations(language).gettext, zone=zone)
    return text.encode("utf-8")
