"""The Assistant speaks Swedish too: its page templates, the words its script shows and
its refusals all have Swedish translations, and the template catalog lists them."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from bodyworn.assistant.camera import MESSAGES
from bodyworn.assistant.strings import STRINGS
from bodyworn.controller.assistant_pairing.service import PairingRefused
from bodyworn.i18n.catalog import translations
from tests.i18n.test_catalog import POT, SV_PO, _read

ASSISTANT = Path(__file__).resolve().parents[2] / "src" / "bodyworn" / "assistant"
# Refusals the manager shows through _(…) with a message the service chose.
DYNAMIC = {"Choose Local pairing or Remote pairing.", "Body Worn Assistant", "Assistant"}


def _template_msgids() -> set[str]:
    found: set[str] = set()
    for _f, _l, message, _c, _x in extract_from_dir(
            str(ASSISTANT), [("templates/**.html", "jinja2")],
            {"templates/**.html": {"trim_blocks": "True", "lstrip_blocks": "True"}}):
        if isinstance(message, str):
            found.add(message)
    return found


def assistant_msgids() -> set[str]:
    """Every msgid the app and the pairing pages translate beyond the manager's templates."""
    return _template_msgids() | set(STRINGS.values()) | set(MESSAGES.values()) | DYNAMIC


def test_extraction_finds_the_apps_strings() -> None:
    found = _template_msgids()
    assert {"Body Worn Assistant", "Recordings", "Live view"} <= found
    assert len(assistant_msgids()) > 80


@pytest.mark.parametrize("msgid", sorted(assistant_msgids()))
def test_every_assistant_string_has_a_swedish_translation(msgid: str) -> None:
    message = _read(SV_PO, "sv").get(msgid)
    assert message is not None, f"{msgid!r} is missing from {SV_PO.name}"
    assert isinstance(message.string, str) and message.string.strip()
    assert _read(POT).get(msgid) is not None, f"{msgid!r} is missing from {POT.name}"


def test_placeholders_survive_translation() -> None:
    sv = translations("sv")
    for text in MESSAGES.values():
        for field in ("{user}", "{left}"):
            if field in text:
                assert field in sv.gettext(text), text


def test_the_pairing_refusal_is_translated() -> None:
    refusal = PairingRefused("Choose Local pairing or Remote pairing.")
    assert translations("sv").gettext(refusal.message) != refusal.message
