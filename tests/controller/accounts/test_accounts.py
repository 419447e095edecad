"""Login, sessions, lockout with back-off, idle timeout, CSRF, password change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from bodyworn.controller.accounts.guard import SESSION_COOKIE
from bodyworn.controller.context import ControllerContext
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.throttle import lockout_for
from tests.controller.conftest import ROOT_PASSWORD, csrf_of, login


def try_login(client: TestClient, password: str):
    return client.post("/login", data={"username": "root", "password": password, "next": "/",
                                       "csrf_token": csrf_of(client, "/login")},
                       follow_redirects=False)


def test_login_sets_a_secure_httponly_strict_cookie(ready: TestClient) -> None:
    r = try_login(ready, ROOT_PASSWORD)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "Secure" in cookie
    assert "samesite=strict" in cookie.lower()
    assert ready.get("/", follow_redirects=False).status_code == 200


def test_wrong_password_is_refused(ready: TestClient) -> None:
    r = try_login(ready, "not the password")
    assert r.status_code == 401 and "Wrong user name or password" in r.text


def test_login_form_needs_its_csrf_token(ready: TestClient) -> None:
    ready.get("/login")
    r = ready.post("/login", data={"username": "root", "password": ROOT_PASSWORD})
    assert r.status_code == 403


def test_lockout_grows_and_ends(ready: TestClient, clock: ManualClock) -> None:
    for _ in range(5):
        assert try_login(ready, "wrong wrong wrong").status_code == 401
    r = try_login(ready, ROOT_PASSWORD)  # locked: even the right password is refused
    assert r.status_code == 429 and "Try again in" in r.text
    clock.advance(timedelta(seconds=31))
    assert try_login(ready, "wrong again!!").status_code == 401  # 6th failure: 60 s
    clock.advance(timedelta(seconds=31))
    assert try_login(ready, ROOT_PASSWORD).status_code == 429
    clock.advance(timedelta(seconds=30))
    assert try_login(ready, ROOT_PASSWORD).status_code == 303


def test_lockout_back_off_is_capped() -> None:
    assert lockout_for(4, 5) == timedelta(0)
    assert lockout_for(5, 5) == timedelta(seconds=30)
    assert lockout_for(7, 5) == timedelta(seconds=120)
    assert lockout_for(50, 5) == timedelta(minutes=15)


def test_idle_session_expires(logged_in: tuple[TestClient, str], clock: ManualClock) -> None:
    client, _ = logged_in
    clock.advance(timedelta(minutes=29))
    assert client.get("/", follow_redirects=False).status_code == 200
    clock.advance(timedelta(minutes=29))  # the request above renewed it
    assert client.get("/", follow_redirects=False).status_code == 200
    clock.advance(timedelta(minutes=31))
    r = client.get("/audit", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def _walk(routes: list, prefix: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for route in routes:
        if isinstance(route, Mount):
            continue
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI keeps included routers as wrappers
            found += _walk(included.routes, prefix + route.include_context.prefix)
            continue
        assert isinstance(route, Route), route
        for method in sorted(route.methods or []):
            if method != "HEAD":
                found.append((method, prefix + route.path))
    return found


def _routes(client: TestClient) -> list[tuple[str, str]]:
    return _walk(client.app.routes)  # type: ignore[attr-defined]


PUBLIC = {("GET", "/login"), ("POST", "/login"), ("POST", "/api/v1/session"),
          ("GET", "/favicon.ico")}
# Machine routes (docking stations, the dock RFID reader) take the dock port token instead.
MACHINE = {("POST", "/docklink/v1/events"), ("POST", "/docklink/v1/rfid/taps")}


def _url(path: str) -> str:
    url = path.replace("{slug}", "start").replace("{serial}", "B8A44F000001")
    url = url.replace("{pairing_id}", "1").replace("{token_id}", "999")
    url = url.replace("{cert_id}", "999")
    return url.replace("{profile_id}", "1").replace("{user_uuid}", "x")


def test_every_route_but_login_and_static_needs_a_session(ready: TestClient) -> None:
    routes = _routes(ready)
    assert len(routes) > 20
    for method, path in routes:
        if (method, path) in PUBLIC or path.startswith("/setup"):
            continue
        r = ready.request(method, _url(path), follow_redirects=False)
        if (method, path) in MACHINE:
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers["www-authenticate"].startswith("Bearer"), (method, path)
            continue
        if path.startswith("/api/") or path == "/metrics":
            assert r.status_code == 401, (method, path, r.status_code)
        else:
            assert r.status_code == 303, (method, path, r.status_code)
            assert r.headers["location"].startswith("/login"), (method, path)
    assert ready.get("/static/bodyworn.css").status_code == 200
    icon = ready.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert ready.get("/static/favicon.svg").status_code == 200
    assert set(routes) >= MACHINE


def test_machine_routes_need_the_dock_port_token_not_a_session(
    logged_in: tuple[TestClient, str], ctx: ControllerContext,
) -> None:
    from bodyworn.controller.docks.service import ensure_token

    client, csrf = logged_in
    good = {"Authorization": f"Bearer {ensure_token(ctx.data_dir)}"}
    for method, path in sorted(MACHINE):
        # A manager session (even with its CSRF token) is not a machine's credential.
        r = client.request(method, path, json={}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 401, (method, path, r.status_code)
        r = client.request(method, path, json={}, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401, (method, path, r.status_code)
        # With the token the route itself answers (here: the empty body is refused).
        anonymous = TestClient(client.app, base_url="https://testserver")
        r = anonymous.request(method, path, json={}, headers=good)
        assert r.status_code in (400, 422), (method, path, r.status_code)


def test_every_state_changing_route_needs_the_csrf_token(
    logged_in: tuple[TestClient, str],
) -> None:
    client, _ = logged_in
    changing = [(m, p) for m, p in _routes(client)
                if m in {"POST", "PUT", "PATCH", "DELETE"} and (m, p) not in PUBLIC | MACHINE
                and not p.startswith("/setup")]
    assert len(changing) >= 8
    for method, path in changing:
        r = client.request(method, path, data={"csrf_token": "forged"}
                           if method == "POST" else None, follow_redirects=False)
        assert r.status_code == 403, (method, path, r.status_code)
        r = client.request(method, path, headers={"X-CSRF-Token": "forged"},
                           follow_redirects=False)
        assert r.status_code == 403, (method, path, r.status_code)
    # Still logged in: nothing above changed anything.
    assert client.get("/", follow_redirects=False).status_code == 200


def _token(ctx: ControllerContext, access: str) -> str:
    from bodyworn.controller.tokens import service as tokens

    with ctx.factory() as session, session.begin():
        return tokens.create(session, ctx.clock, f"walk {access}", access, actor="root",
                             source="test")[1]


def _token_routes(client: TestClient) -> list[tuple[str, str]]:
    return [(m, p) for m, p in _routes(client)
            if (p.startswith("/api/") or p == "/metrics") and (m, p) not in PUBLIC]


def test_every_api_route_takes_a_token_instead_of_a_session(
        ready: TestClient, ctx: ControllerContext) -> None:
    """A bad token is 401 everywhere; a read-only one is 403 on every change; neither needs
    (or is helped by) a session cookie or a CSRF token."""
    read_only = _token(ctx, "read")
    routes = _token_routes(ready)
    assert ("GET", "/metrics") in routes and len(routes) > 20
    for method, path in routes:
        for bad in ("Bearer wrong", "Bearer bwt_" + "x" * 43, "Basic cm9vdDpyb290",
                    f"Bearer {read_only}x"):
            r = ready.request(method, _url(path), headers={"Authorization": bad})
            assert r.status_code == 401, (method, path, bad, r.status_code)
            assert r.headers["www-authenticate"].startswith("Bearer"), (method, path)
        r = ready.request(method, _url(path), headers={"Authorization": f"Bearer {read_only}"})
        if method in {"POST", "PUT", "PATCH", "DELETE"} or path.startswith(SESSION_ONLY):
            assert r.status_code == 403, (method, path, r.status_code)
        else:
            assert r.status_code not in (401, 403), (method, path, r.status_code)


# A token never reaches these, whatever its access: a person logs in for them.
SESSION_ONLY = ("/api/v1/tokens", "/api/v1/session", "/api/v1/account",
                "/api/v1/system/reset")


def test_a_read_write_token_changes_without_csrf_but_not_the_session_only_routes(
        logged_in: tuple[TestClient, str], ctx: ControllerContext) -> None:
    client, _ = logged_in
    token = _token(ctx, "read-write")
    anonymous = TestClient(client.app, base_url="https://testserver")
    auth = {"Authorization": f"Bearer {token}"}
    for method, path in _token_routes(anonymous):
        if method not in {"POST", "PUT", "PATCH", "DELETE"}:
            continue
        # An empty body: the route itself answers (refuses the body, or finds nothing),
        # never the gate or the CSRF guard.
        r = anonymous.request(method, _url(path), headers=auth)
        if path.startswith(SESSION_ONLY):
            assert r.status_code == 403, (method, path, r.status_code)
            assert "log in" in r.json()["detail"], (method, path)
        else:
            assert r.status_code not in (401, 403), (method, path, r.status_code)
    # The header decides: a logged-in browser's cookie beside a wrong token does not help.
    r = client.get("/api/v1/system", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert client.get("/api/v1/system").status_code == 200
    # Pages are for people: a token there is not a login.
    r = anonymous.get("/settings/system", headers=auth, follow_redirects=False)
    assert r.status_code == 303


def test_password_change_logs_out_other_sessions(ctx: ControllerContext,
                                                 logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    other = TestClient(client.app, base_url="https://testserver")
    login(other)
    new = "a brand new root passphrase"
    r = client.post("/settings/password", data={
        "csrf_token": csrf, "current_password": ROOT_PASSWORD, "new_password": new,
        "new_password_confirm": new})
    assert r.status_code == 200 and "Password changed" in r.text
    assert client.get("/", follow_redirects=False).status_code == 200  # this browser stays in
    assert other.get("/", follow_redirects=False).status_code == 303
    assert try_login(other, ROOT_PASSWORD).status_code == 401
    assert try_login(other, new).status_code == 303


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("wrong current password", "a fine new password", "a fine new password",
         "current password is wrong"),
        (ROOT_PASSWORD, "short", "short", "at least 8"),
        (ROOT_PASSWORD, "qwertyuiop", "qwertyuiop", "commonly used"),
        (ROOT_PASSWORD, "a fine new password", "another new password", "do not match"),
    ],
)
def test_password_change_rules(logged_in: tuple[TestClient, str], current: str, new: str,
                               confirm: str, message: str) -> None:
    client, csrf = logged_in
    r = client.post("/settings/password", data={
        "csrf_token": csrf, "current_password": current, "new_password": new,
        "new_password_confirm": confirm})
    assert r.status_code == 400 and message in r.text


def test_api_login_whoami_and_logout(ready: TestClient) -> None:
    r = ready.post("/api/v1/session", json={"username": "root", "password": ROOT_PASSWORD})
    assert r.status_code == 200
    csrf = r.json()["csrf_token"]
    assert ready.get("/api/v1/session").json()["username"] == "root"
    assert ready.delete("/api/v1/session").status_code == 403  # no CSRF header
    assert ready.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert ready.get("/api/v1/session").status_code == 401


def test_api_login_accepts_json_only(ready: TestClient) -> None:
    r = ready.post("/api/v1/session", content=b'{"username":"root","password":"x"}',
                   headers={"content-type": "text/plain"})
    assert r.status_code in (415, 422)


def test_open_redirect_after_login_is_refused(ready: TestClient) -> None:
    form = {"username": "root", "password": ROOT_PASSWORD, "next": "//evil.example/",
            "csrf_token": csrf_of(ready, "/login")}
    r = ready.post("/login", data=form, follow_redirects=False)
    assert r.headers["location"] == "/"
