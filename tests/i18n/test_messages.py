"""Messages the server's rules produce are translated too, not only the templates' text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bodyworn.controller.setup import service
from bodyworn.i18n.catalog import translations
from tests.controller.conftest import good_answers

BAD_ANSWERS = [
    {"language": "xx"},
    {"root_password": "short"},
    {"root_password": "password123"},
    {"root_password": "x" * 129},
    {"root_password_confirm": "something else entirely"},
    {"super_admin_passphrase_confirm": "not the same phrase"},
    {"super_admin_passphrase": "correct horse battery staple"},
    {"system_name": ""},
    {"system_name": "n" * 65},
    {"system_name": "bad\x07name"},
    {"listen_host": "not a host!", "listen_port": 0},
    {"timezone": "Mars/Olympus", "time_mode": "sundial"},
    {"time_mode": "ntp", "ntp_server": "bad host!"},
    {"manual_time": None},
    {"manual_time": datetime(1999, 1, 1, tzinfo=UTC)},
    {"cloud_extensions": True, "cloud_location": "moon"},
    {"cloud_extensions": False, "cloud_location": "global"},
    {"connection_file": b""},
    {"power_line_frequency": 55, "camera_assignment": "random"},
]


@pytest.mark.parametrize("overrides", BAD_ANSWERS)
def test_setup_rule_messages_have_swedish(overrides: dict[str, object]) -> None:
    sv = translations("sv")
    errors = service.validate(good_answers(**overrides))
    assert errors
    for e in errors:
        assert sv.gettext(e.message) != e.message, f"untranslated: {e.message!r}"


def test_swedish_wizard_shows_translated_field_errors() -> None:
    from pathlib import Path
    from tempfile import TemporaryDirectory

    from fastapi.testclient import TestClient

    from bodyworn.controller.app import build_context, create_app
    from bodyworn.controller.settings import ControllerSettings
    from bodyworn.domain.clock import ManualClock
    from tests.controller.setup.test_wizard import post

    with TemporaryDirectory() as tmp:
        ctx = build_context(ControllerSettings(data_dir=Path(tmp)),
                            clock=ManualClock(datetime(2026, 1, 1, tzinfo=UTC)))
        try:
            client = TestClient(create_app(ctx), base_url="https://testserver")
            client.get("/setup")
            assert post(client, "start", {"mode": "create", "language": "sv"}).status_code == 303
            r = post(client, "admin", {"root_password": "password1",
                                       "root_password_confirm": "password1"})
            assert r.status_code == 400
            assert "finns på en lista över vanliga lösenord" in r.text
            assert "Lösenord: finns på en lista" in r.text  # the summary names the field
        finally:
            ctx.engine.dispose()


def dynamic_msgids() -> set[str]:
    """Texts the code chooses and the pages translate: lamps and their legend, the issues,
    Getting started, the audit log's words, field labels, the offline advice, the menu."""
    from bodyworn.controller import context, display
    from bodyworn.controller.audit import words
    from bodyworn.controller.health import checklist, legend
    from bodyworn.controller.health import service as health
    from bodyworn.controller.setup import service as setup
    from bodyworn.domain.assignment import Mode

    found = legend.every_meaning() | set(health.MESSAGES)
    found |= set(words.ACTIONS.values()) | set(words.OUTCOMES.values())
    found |= set(words.ACTORS.values()) | set(display.FIELD_LABELS.values())
    found |= {label for _href, label, _paths in context.MAIN_NAV}
    found |= {setup.OFFLINE_ADVICE, "Locked", "Not added to this system yet"}
    for mode in Mode:
        found |= {s.title for s in _steps(checklist, mode)}
    return found


def _steps(checklist: object, mode: object) -> list[object]:
    from unittest import mock

    from bodyworn.controller.health import checklist as module

    # The step titles do not depend on what the database holds: read them from stand-ins.
    with mock.patch.multiple(module, cameras=mock.DEFAULT, users=mock.DEFAULT,
                             assignment=mock.DEFAULT, docks=mock.DEFAULT,
                             metrics=mock.DEFAULT, profiles=mock.DEFAULT) as fakes:
        fakes["cameras"].registered.return_value = []
        fakes["users"].count.return_value = 0
        fakes["assignment"].paired_tags.return_value = 0
        fakes["docks"].list_stations.return_value = []
        fakes["metrics"].delivered_clips.return_value = 0
        fakes["profiles"].customised.return_value = False
        return list(module.checklist(mock.Mock(), mode).steps)


def test_the_dynamic_texts_are_found() -> None:
    found = dynamic_msgids()
    assert {"Assigned a camera", "Pulsing amber", "Getting started"} - found == {
        "Getting started"}  # a template's, not the code's
    assert "Add the docked cameras" in found and "Pair the users' self-assign tags" in found


@pytest.mark.parametrize("msgid", sorted(dynamic_msgids()))
def test_every_dynamic_text_has_swedish(msgid: str) -> None:
    from tests.i18n.test_catalog import SV_PO, _read

    message = _read(SV_PO, "sv").get(msgid)  # some words are the same ("Port")
    assert message is not None and str(message.string).strip(), f"untranslated: {msgid!r}"


def test_every_issue_plural_has_swedish() -> None:
    from bodyworn.controller.health.service import PLURALS

    sv = translations("sv")
    for pair in PLURALS:
        assert sv.ngettext(*pair, 1) != pair[0] and sv.ngettext(*pair, 3) != pair[1]
