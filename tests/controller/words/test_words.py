"""People read labels, never internal names: every field a rule can refuse has a label,
and no page nor API error message shows a name of tests/internal_names.py."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bodyworn.controller.display import FIELD_LABELS, STANDALONE, field_label, labelled
from bodyworn.controller.refusals import FieldError, FieldsRefused
from bodyworn.domain.profile_codec import setting_names
from tests.controller.accounts.test_accounts import _walk
from tests.controller.conftest import PASSPHRASE
from tests.controller.device_rig import Rig
from tests.controller.visible import visible_text
from tests.internal_names import internal_names, leaks

SRC = Path(__file__).resolve().parents[3] / "src" / "bodyworn"
CAM = "B8A44F000001"
# Errors that name a field: the constructors, and where their field argument is.
FIELD_ERRORS = {"FieldError": 0, "SettingError": 0, "Issue": 1}
# Fields named by the answers file of unattended setup (its own keys, printed by the CLI)
# and a connection file's attributes (the specification's names, said as such).
NOT_ON_PAGES = {"restore_key_path", "answers", "restore_backup"}


def _refused_fields() -> set[str]:
    found: set[str] = set()
    for path in [*(SRC / "controller").rglob("*.py"), SRC / "domain" / "profile_codec.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            at = FIELD_ERRORS.get(node.func.id)
            if at is not None and len(node.args) > at:
                arg = node.args[at]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
    return found


def test_every_field_a_rule_refuses_has_a_label() -> None:
    fields = _refused_fields()
    assert {"user_id", "confirm", "camera_profile"} <= fields
    unlabelled = sorted(f for f in fields - NOT_ON_PAGES - STANDALONE if not field_label(f))
    assert not unlabelled
    assert all(field_label(s) for s in setting_names()), "a profile setting has no label"


def test_refusals_say_labels_and_standalone_sentences() -> None:
    assert labelled("user_id", "'sgt-0042' belongs to another user") == (
        "User ID: 'sgt-0042' belongs to another user")
    assert labelled("confirm", "Tick the box to confirm the removal.") == (
        "Tick the box to confirm the removal.")
    assert labelled("connection_file.file", "must be valid JSON") == (
        "Connection file: must be valid JSON")
    refused = FieldsRefused([FieldError("camera_profile", "no camera profile named 'X'"),
                             FieldError("user_id", "is required")])
    assert refused.message == "Camera profile: no camera profile named 'X'; User ID: is required"
    assert not leaks(refused.message)


def test_the_list_of_internal_names_is_not_empty() -> None:
    names = internal_names()
    assert {"user_id", "camera_profile", "camera.assign", "None"} <= names
    assert "name" not in names  # an English word too
    assert set(FIELD_LABELS) & names


SKIP = {"/logout", "/metrics", "/favicon.ico", "/api/v1/docs", "/api/v1/openapi.json",
        "/docs/oauth2-redirect", "/api/v1/session", "/api/v1/account/password",
        "/docklink/v1/events", "/docklink/v1/rfid/taps"}
DOWNLOADS = ("/audit.csv", "/users/import/template.csv", "/download", "/sheet")


def _url(path: str, ids: dict[str, str]) -> str | None:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return None if "{" in path else path


def _messages(answer: Any) -> list[str]:
    detail = answer.get("detail") if isinstance(answer, dict) else None
    if isinstance(detail, str):
        return [detail]
    if isinstance(detail, list):
        return [str(d.get("message") or d.get("msg") or "") for d in detail
                if isinstance(d, dict)]
    return []


# Requests the rules refuse (beside the empty body every route gets).
WRONG: dict[tuple[str, str], tuple[dict[str, Any], ...]] = {
    ("POST", "/api/v1/users"): ({"name": "Bo Ek", "user_id": "officer-1"},
                                {"name": "", "user_id": "x" * 40}),
    ("PUT", "/api/v1/users/{user_uuid}"): ({"user_id": "officer-9", "profile_id": 999999},),
    ("PUT", "/api/v1/system/time"): ({"timezone": "Mars/Olympus", "time_mode": "manual"},
                                     {"timezone": "UTC", "time_mode": "ntp",
                                      "ntp_server": "bad host!"}),
    ("PUT", "/api/v1/system/name"): ({"system_name": ""},),
    ("POST", "/api/v1/profiles"): ({"name": ""}, {"name": "Night shift"}),
    ("PUT", "/api/v1/cameras/{serial}/user"): ({"user_uuid": "no-such-user"},),
    ("POST", "/api/v1/tokens"): ({"name": "", "access": "everything"},),
    ("POST", "/api/v1/certificates"): ({"name": "x", "key_type": "dsa", "days": 0},),
}


@pytest.fixture
def populated(rig: Rig) -> dict[str, str]:
    """A user holding an added camera, a profile of one's own: every page has something."""
    rig.add(CAM)
    anna = rig.user("Anna Berg", "officer-1")
    assert rig.api("PUT", f"/api/v1/cameras/{CAM}/user", json={"user_uuid": anna}).is_success
    profile = rig.api("POST", "/api/v1/profiles", json={"name": "Night shift"}).json()
    rig.dock("B8A44F000002", 5)
    return {"serial": CAM, "user_uuid": anna, "profile_id": str(profile["id"]),
            "cert_id": "1"}


def test_no_page_shows_an_internal_name(rig: Rig, populated: dict[str, str]) -> None:
    routes = _walk(rig.client.app.routes)  # type: ignore[attr-defined]
    seen = 0
    for method, path in routes:
        url = _url(path, populated)
        if (url is None or path in SKIP or path.startswith(("/api/", "/setup"))
                or url.endswith(DOWNLOADS)):
            continue
        # A form is sent empty: what its page says about what is missing.
        r = rig.client.get(url) if method == "GET" else rig.form(url, {})
        assert r.status_code < 500, (method, url, r.status_code)
        if "text/html" not in r.headers.get("content-type", ""):
            continue
        seen += 1
        assert not leaks(visible_text(r.text)), (method, url, leaks(visible_text(r.text)))
    assert seen > 50
    # The passphrase forms, sent wrong and right.
    for url in ("/docks/token", f"/cameras/{CAM}/unlock"):
        for passphrase in ("wrong", PASSPHRASE):
            r = rig.form(url, {"passphrase": passphrase})
            assert not leaks(visible_text(r.text)), (url, passphrase)


def test_no_api_error_message_shows_an_internal_name(rig: Rig,
                                                     populated: dict[str, str]) -> None:
    routes = _walk(rig.client.app.routes)  # type: ignore[attr-defined]
    bogus = {"serial": "B8A44F999999", "user_uuid": "no-such-user", "profile_id": "999999",
             "cert_id": "999999", "token_id": "999999", "pairing_id": "999999"}
    said: list[str] = []
    for method, path in routes:
        if not path.startswith("/api/") or path in SKIP or method == "GET":
            continue
        for ids in (bogus, populated):
            url = _url(path, ids)
            if url is None or (method == "DELETE" and ids is populated):
                continue  # the rows of the other checks stay
            for body in ({}, *WRONG.get((method, path), ())):
                r = rig.api(method, url, json=body)
                assert r.status_code < 500, (method, url, r.status_code, r.text)
                if r.status_code >= 400 and "json" in r.headers.get("content-type", ""):
                    for message in _messages(r.json()):
                        said.append(message)
                        assert not leaks(message), (method, url, message)
    assert len(said) > 40 and any("belongs to another user" in m for m in said)


def test_no_setup_wizard_page_shows_an_internal_name(client: TestClient) -> None:
    from bodyworn.controller.setup.wizard import STEPS
    from tests.controller.setup.test_wizard import post, walk_to
    from tests.domain.connection_factory import connection_file_bytes

    walk_to(client, "summary")
    # Last step first: a step sent wrong closes the steps after it.
    for slug, _title in reversed(STEPS):
        page = client.get(f"/setup/{slug}")
        assert page.status_code == 200, slug
        assert not leaks(visible_text(page.text)), (slug, leaks(visible_text(page.text)))
        if slug in ("restore-key", "summary"):
            continue
        # Each step sent wrong: empty, or with what a person gets wrong there.
        wrong = {"time": {"timezone": "Mars/Olympus", "time_mode": "ntp",
                          "ntp_server": "bad host!"},
                 "network": {"listen_host": "not a host!", "listen_port": "0"}}.get(slug, {})
        files = ({"connection_file": ("cd.json", connection_file_bytes(
            ConnectionFileVersion="2.0", BlobAPIUserName="u" * 65), "application/json")}
            if slug == "destination" else None)
        refused = post(client, slug, wrong, files)
        text = visible_text(refused.text)
        assert not leaks(text), (slug, leaks(text))
        if slug == "destination":
            assert "Connection file, BlobAPIUserName" in text
