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
