"""API tokens: made by an administrator (shown once, stored hashed, audited), revoked."""

from __future__ import annotations

import hashlib
import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.tokens.models import ApiToken


def _audit(ctx: ControllerContext) -> list[tuple[str, str, str]]:
    with ctx.factory() as session:
        return [(e.actor, e.action, e.detail) for e in
                session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_rest_create_use_and_revoke(logged_in: tuple[TestClient, str],
                                    ctx: ControllerContext) -> None:
    client, csrf = logged_in
    h = {"X-CSRF-Token": csrf}
    r = client.post("/api/v1/tokens", json={"name": "Evidence export", "access": "read-write"},
                    headers=h)
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    made = r.json()
    value = made["token"]
    assert value.startswith("bwt_") and len(value) > 40 and made["hint"] == value[:12]
    listed = client.get("/api/v1/tokens").json()
    assert [t["name"] for t in listed] == ["Evidence export"] and "token" not in listed[0]
    with ctx.factory() as session:
        row = session.scalars(select(ApiToken)).one()
        assert row.token_hash == hashlib.sha256(value.encode()).hexdigest()
    # Another program, no cookie and no CSRF token.
    bot = TestClient(client.app, base_url="https://testserver")
    auth = {"Authorization": f"Bearer {value}"}
    assert bot.get("/api/v1/system", headers=auth).json()["system_name"] == "North precinct"
    r = bot.put("/api/v1/system/name", json={"system_name": "South precinct"}, headers=auth)
    assert r.status_code == 200
    assert ("token:Evidence export", "system.rename", "'North precinct' -> 'South precinct'") \
        in _audit(ctx)
    assert client.get("/api/v1/tokens").json()[0]["last_used_at"] is not None
    # Same name (whatever the case) is taken; a bad access level is refused.
    assert client.post("/api/v1/tokens", json={"name": "EVIDENCE export"},
                       headers=h).status_code == 422
    assert client.post("/api/v1/tokens", json={"name": "x", "access": "admin"},
                       headers=h).status_code == 422
    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=h).status_code == 204
    assert bot.get("/api/v1/system", headers=auth).status_code == 401
    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=h).status_code == 404
    actions = [(a, d) for _, a, d in _audit(ctx) if a.startswith("token.")]
    assert actions == [("token.create", "'Evidence export', read and write"),
                       ("token.revoke", "'Evidence export'")]
    assert all(value not in d for _, _, d in _audit(ctx))


def test_a_read_only_token_reads_and_cannot_change(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    value = client.post("/api/v1/tokens", json={"name": "dashboard wall"},
                        headers={"X-CSRF-Token": csrf}).json()["token"]
    bot = TestClient(client.app, base_url="https://testserver")
    auth = {"Authorization": f"Bearer {value}"}
    assert bot.get("/api/v1/dashboard", headers=auth).status_code == 200
    r = bot.put("/api/v1/system/name", json={"system_name": "Nope"}, headers=auth)
    assert r.status_code == 403 and r.json()["detail"] == "this API token is read-only"
    # Tokens cannot make tokens, nor touch the account.
    r = bot.post("/api/v1/tokens", json={"name": "more"}, headers=auth)
    assert r.status_code == 403
    assert bot.get("/api/v1/tokens", headers=auth).status_code == 403


def test_the_page_shows_a_new_token_once_and_revokes(logged_in: tuple[TestClient, str],
                                                     ctx: ControllerContext) -> None:
    client, csrf = logged_in
    r = client.post("/settings/api-tokens", data={"csrf_token": csrf, "name": "Grafana",
                                                  "access": "read"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    value = re.search(r'id="new-token">(bwt_[^<]+)<', r.text).group(1)  # type: ignore[union-attr]
    page = client.get("/settings/api-tokens").text
    assert "Grafana" in page and value not in page and value[:12] in page
    r = client.post("/settings/api-tokens", data={"csrf_token": csrf, "name": "grafana"})
    assert r.status_code == 400 and "is taken by another token" in r.text
    with ctx.factory() as session:
        token_id = session.scalars(select(ApiToken.id)).one()
    r = client.post(f"/settings/api-tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert r.status_code == 200 and "The token was revoked." in r.text
    assert "Grafana" not in r.text.split("</form>", 1)[1]
    bot = TestClient(client.app, base_url="https://testserver")
    assert bot.get("/metrics", headers={"Authorization": f"Bearer {value}"}).status_code == 401
