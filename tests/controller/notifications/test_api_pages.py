"""The REST twin and the page of Settings → Email notifications."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from bodyworn.controller.context import ControllerContext
from bodyworn.controller.events import CdHealthChanged, CdState
from tests.controller.conftest import login, set_up
from tests.smtp_server import smtp_server

SECRET = "Api smtp password 99"


def _client(ctx: ControllerContext, *, cloud: bool) -> tuple[TestClient, str]:
    from bodyworn.controller.app import create_app

    if cloud:
        set_up(ctx, cloud_extensions=True, cloud_location="us-east")
    else:
        set_up(ctx)
    client = TestClient(create_app(ctx), base_url="https://testserver")
    return client, login(client)


def test_rest_twin_sets_the_server_and_address_and_never_returns_the_password(
        ctx: ControllerContext) -> None:
    client, csrf = _client(ctx, cloud=True)
    h = {"X-CSRF-Token": csrf}
    # No lifespan (no `with client`): the test drives the notifier itself.
    with smtp_server("tls", username="api", password=SECRET) as smtp:
        r = client.put("/api/v1/notifications", json={"address": "ops@example.org"}, headers=h)
        assert r.status_code == 409 and "SMTP server" in r.json()["detail"]
        r = client.put("/api/v1/notifications/smtp", headers=h, json={
            "host": smtp.host, "port": smtp.port, "security": "tls", "username": "api",
            "password": SECRET, "from_address": "bw@example.org", "ca_pem": smtp.ca_pem})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["smtp"]["password_set"] is True and SECRET not in r.text
        r = client.put("/api/v1/notifications", headers=h,
                       json={"address": "ops@example.org", "send_test": True})
        assert r.status_code == 200 and r.json()["enabled"] is True
        notifier = client.app.state.notifier  # type: ignore[attr-defined]
        assert asyncio.run(notifier.run_once()) == 1, client.get("/api/v1/notifications").text
        assert [m.recipients for m in smtp.received] == [["ops@example.org"]]
        ctx.events.publish(CdHealthChanged(CdState.LOST, "timed out", ctx.clock.now()))
        asyncio.run(notifier.run_once())
        info = client.get("/api/v1/notifications").json()
        assert info["active_problems"] == ["content_destination"]
        mails = client.get("/api/v1/notifications/mails").json()
        assert [m["kind"] for m in mails] == ["problem", "test"]
        assert all(m["state"] == "sent" for m in mails)
        # Saving without a password keeps it.
        r = client.put("/api/v1/notifications/smtp", headers=h, json={
            "host": smtp.host, "port": smtp.port, "security": "tls", "username": "api",
            "from_address": "bw@example.org", "ca_pem": smtp.ca_pem})
        assert r.json()["smtp"]["password_set"] is True
        r = client.put("/api/v1/notifications/smtp", headers=h, json={
            "host": "bad host!", "security": "plain", "from_address": "nope"})
        assert r.status_code == 422
        assert {e["field"] for e in r.json()["detail"]} == {"smtp_host", "smtp_security",
                                                            "from_address"}
        r = client.put("/api/v1/notifications", headers=h, json={"address": None})
        assert r.status_code == 200 and r.json()["enabled"] is False


def test_rest_twin_refuses_an_address_while_cloud_extensions_are_off(
        ctx: ControllerContext) -> None:
    client, csrf = _client(ctx, cloud=False)
    r = client.put("/api/v1/notifications", json={"address": "ops@example.org"},
                   headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409 and "cloud extensions" in r.json()["detail"]
    assert client.get("/api/v1/notifications").json()["cloud_extensions"] is False


def test_the_page_keeps_the_password_hidden_and_explains_refusals(
        ctx: ControllerContext) -> None:
    client, csrf = _client(ctx, cloud=True)
    r = client.post("/settings/notifications/smtp", data={
        "csrf_token": csrf, "smtp_host": "mail.example.org", "smtp_port": "",
        "smtp_security": "tls", "smtp_username": "u", "smtp_password": SECRET,
        "from_address": "bw@example.org"})
    assert r.status_code == 200 and "SMTP server saved." in r.text
    assert SECRET not in r.text and 'value="465"' in r.text  # the TLS port by default
    r = client.post("/settings/notifications", data={"csrf_token": csrf,
                                                     "address": "two@a.org; three@b.org"})
    assert r.status_code == 400 and "must be one email address" in r.text
    r = client.post("/settings/notifications", data={"csrf_token": csrf,
                                                     "address": "ops@example.org"})
    assert r.status_code == 200 and "Notifications are sent to" in r.text
    r = client.post("/settings/notifications/smtp", data={
        "csrf_token": csrf, "smtp_host": "mail.example.org", "smtp_port": "x"})
    assert r.status_code == 400 and "must be a port number" in r.text
