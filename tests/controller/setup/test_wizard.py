"""The wizard over HTTP: order, gating, validation on the server, nothing kept until Finish."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bodyworn.controller.context import ControllerContext
from bodyworn.controller.identity.restore_key import open_restore_key
from bodyworn.controller.setup.models import SystemSettings
from tests.controller.conftest import PASSPHRASE, ROOT_PASSWORD
from tests.controller.visible import visible_text
from tests.domain.connection_factory import OMIT, connection_file_bytes


def token(client: TestClient, page: str) -> str:
    html = client.get(page).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def post(client: TestClient, slug: str, data: dict[str, str], files: dict | None = None):
    data = {**data, "csrf_token": token(client, f"/setup/{slug}")}
    return client.post(f"/setup/{slug}", data=data, files=files, follow_redirects=False)


def walk_to(client: TestClient, last: str) -> None:
    """Complete every step before `last` with good answers."""
    client.get("/setup")
    steps = [
        ("start", {"mode": "create", "language": "en"}),
        ("admin", {"root_password": ROOT_PASSWORD, "root_password_confirm": ROOT_PASSWORD}),
        ("passphrase", {"super_admin_passphrase": PASSPHRASE,
                        "super_admin_passphrase_confirm": PASSPHRASE}),
        ("restore-key", {}),
        ("name", {"system_name": "Harbour unit"}),
        ("network", {"listen_host": "127.0.0.1", "listen_port": "8443"}),
        ("time", {"timezone": "Europe/Stockholm", "time_mode": "manual",
                  "manual_time": "2026-11-27T10:15"}),
        ("cloud", {"cloud_location": ""}),
        ("destination", {}),
        ("power", {"power_line_frequency": "60"}),
        ("assignment", {"camera_assignment": "self-assign"}),
    ]
    for slug, data in steps:
        if slug == last:
            return
        if slug == "restore-key":
            assert client.get("/setup/restore-key/download").status_code == 200
        files = None
        if slug == "destination":
            files = {"connection_file": ("cd.json", connection_file_bytes(), "application/json")}
        r = post(client, slug, data, files)
        assert r.status_code == 303, (slug, r.text[:2000])


def system_rows(ctx: ControllerContext) -> int:
    with ctx.factory() as s:
        return s.scalar(select(func.count()).select_from(SystemSettings)) or 0


def test_everything_leads_to_setup_until_it_is_finished(client: TestClient) -> None:
    for path in ("/", "/login", "/audit", "/settings/password", "/anything"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/setup", path
    assert client.get("/api/v1/system").status_code == 503


def test_steps_open_in_order(client: TestClient) -> None:
    client.get("/setup")
    r = client.get("/setup/name", follow_redirects=False)
    assert r.headers["location"] == "/setup/start"


def test_extend_is_shown_as_not_available(client: TestClient) -> None:
    client.get("/setup")
    html = client.get("/setup/start").text
    assert "Extend an existing system" in html and "not available yet" in html.lower()
    r = post(client, "start", {"mode": "extend", "language": "en"})
    assert r.status_code == 400 and "not available yet" in r.text


def test_wizard_posts_need_the_csrf_token(client: TestClient) -> None:
    client.get("/setup")
    r = client.post("/setup/start", data={"mode": "create", "language": "en"})
    assert r.status_code == 403
    r = client.post("/setup/start", data={"mode": "create", "language": "en",
                                          "csrf_token": "forged"})
    assert r.status_code == 403


def test_common_password_is_refused_by_the_server(client: TestClient) -> None:
    walk_to(client, "admin")
    r = post(client, "admin", {"root_password": "password1", "root_password_confirm": "password1"})
    assert r.status_code == 400 and "commonly used" in r.text


def test_restore_key_must_be_downloaded_before_going_on(client: TestClient) -> None:
    walk_to(client, "restore-key")
    r = post(client, "restore-key", {})
    assert r.status_code == 400 and "download the System restore key first" in r.text
    data = client.get("/setup/restore-key/download").content
    contents = open_restore_key(data, PASSPHRASE)
    assert contents.system_id in client.get("/setup/restore-key").text
    assert post(client, "restore-key", {}).status_code == 303


def test_a_new_passphrase_needs_a_new_download(client: TestClient) -> None:
    walk_to(client, "name")
    other = "another long passphrase"
    r = post(client, "passphrase", {"super_admin_passphrase": other,
                                    "super_admin_passphrase_confirm": other})
    assert r.status_code == 303
    assert post(client, "restore-key", {}).status_code == 400


def test_bad_connection_file_is_refused_with_its_field(client: TestClient) -> None:
    walk_to(client, "destination")
    bad = connection_file_bytes(BlobAPIUserName="u" * 65)
    r = post(client, "destination", {}, {"connection_file": ("cd.json", bad, "application/json")})
    assert r.status_code == 400 and "BlobAPIUserName" in r.text


def test_nothing_is_written_before_finish(client: TestClient, ctx: ControllerContext) -> None:
    walk_to(client, "summary")
    assert system_rows(ctx) == 0
    html = client.get("/setup/summary").text
    assert "Harbour unit" in html
    r = client.post("/setup/finish", data={"csrf_token": token(client, "/setup/summary")},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?setup=done"
    assert system_rows(ctx) == 1
    with ctx.factory() as s:
        row = s.get(SystemSettings, 1)
        assert row is not None
        assert (row.system_name, row.power_line_frequency, row.camera_assignment,
                row.timezone, row.time_mode) == ("Harbour unit", 60, "self-assign",
                                                  "Europe/Stockholm", "manual")
    # Setup is over: the wizard is gone.
    assert client.get("/setup/start", follow_redirects=False).headers["location"] == "/login"


def test_manual_time_moves_the_system_clock(client: TestClient, ctx: ControllerContext) -> None:
    from datetime import timedelta

    from bodyworn.controller.app import build_context
    from bodyworn.domain.clock import SystemClock, utcnow

    walk_to(client, "summary")
    client.post("/setup/finish", data={"csrf_token": token(client, "/setup/summary")})
    # A real controller started on this data directory runs on the chosen time.
    real = build_context(ctx.settings, clock=SystemClock())
    try:
        assert isinstance(real.clock, SystemClock)
        with real.factory() as s:
            row = s.get(SystemSettings, 1)
            assert row is not None
            expected = row.manual_offset_seconds
        assert abs(real.clock.offset.total_seconds() - expected) < 1e-6
        assert abs((real.clock.now() - utcnow()) - timedelta(seconds=expected)) < timedelta(
            seconds=2)
    finally:
        real.engine.dispose()


def test_a_connection_file_without_the_ntp_attribute_is_accepted_with_a_warning(
    client: TestClient,
) -> None:
    walk_to(client, "destination")
    raw = connection_file_bytes(ContentDestinationAsNTPServer=OMIT)
    r = post(client, "destination", {}, {"connection_file": ("cd.json", raw, "application/json")})
    # Accepted (the step is done), but the page says what the file leaves out first.
    assert r.status_code == 200 and 'id="connection-warnings"' in r.text
    assert "take its time from the" in r.text and "taken as no" in r.text
    assert "ContentDestinationAsNTPServer: required" not in r.text
    # Next goes on without uploading again; the summary repeats the warning.
    r = post(client, "destination", {})
    assert r.status_code == 303 and r.headers["location"] == "/setup/power"
    walk_from = client.get("/setup/power")
    assert walk_from.status_code == 200
    assert post(client, "power", {"power_line_frequency": "50"}).status_code == 303
    assert post(client, "assignment", {"camera_assignment": "fixed"}).status_code == 303
    assert "taken as no" in client.get("/setup/summary").text


def test_an_offline_site_is_told_to_use_manual_time_and_can_at_once(
        ctx: ControllerContext, client: TestClient) -> None:
    def unreachable(server: str, fallback: str | None) -> float:
        raise OSError(f"{server}: Name or service not known")

    ctx.ntp = unreachable
    walk_to(client, "time")
    page = client.get("/setup/time").text
    assert 'id="offline-hint"' in page and "Manual time" in page
    r = post(client, "time", {"timezone": "Europe/Stockholm", "time_mode": "ntp",
                              "ntp_server": "pool.ntp.org"})
    assert r.status_code == 400
    assert "did not answer" in r.text and "A site without internet access" in r.text
    assert 'id="use-manual-time"' in r.text and "ntp_unreachable" not in visible_text(r.text)
    # The offer: one click on Manual time, the zone kept, the time as it is.
    offer = re.search(r'<form[^>]*id="ntp-offline".*?</form>', r.text, re.S)
    assert offer is not None
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', offer.group(0)))
    assert fields["time_mode"] == "manual" and fields["timezone"] == "Europe/Stockholm"
    moved = client.post("/setup/time", data=fields, follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/setup/cloud"
