"""One request-size limit in front of every route; JSON bodies parsed strictly, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bodyworn.controller.app import create_app
from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.certificates.service import FILE_MAX as CERTIFICATE_FILE_MAX
from bodyworn.controller.certificates.service import FORM_MAX as CERTIFICATE_FORM_BYTES
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.docks.service import ensure_token
from bodyworn.controller.users import csvfile
from bodyworn.controller.web.bodies import MAX_BODY_BYTES, body_limit, upload_limits
from bodyworn.firmware.bundle import MAX_UPLOAD_BYTES as FIRMWARE_FORM_BYTES
from tests.bodies import MIB, deep_json, stream_body
from tests.cd_server import serving
from tests.controller.accounts.test_accounts import _walk
from tests.controller.conftest import set_up

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
# The routes that take a file, each with a limit sized for it.
UPLOAD_LIMITS = {
    ("POST", "/users/import"): csvfile.FORM_MAX_BYTES,
    ("POST", "/api/v1/users/import"): csvfile.MAX_BYTES,
    ("POST", "/settings/certificates/install"): CERTIFICATE_FORM_BYTES,
    ("POST", "/api/v1/certificates/install"): CERTIFICATE_FORM_BYTES,
    ("POST", "/settings/firmware"): FIRMWARE_FORM_BYTES,
    ("POST", "/api/v1/firmware"): FIRMWARE_FORM_BYTES,
    ("POST", "/setup/start"): FIRMWARE_FORM_BYTES,
}
# Limits so large (a firmware bundle's) that sending them whole would test the machine, not
# the rule: such bodies are declared over the limit instead (DeclaredSizes refuses those
# before reading a byte); the routes read what they take like any other (test_firmware.py).
SENT_WHOLE_UP_TO = 8 * MIB


def _over(limit: int) -> dict[str, object]:
    """A request body over `limit`: sent whole, or declared (see SENT_WHOLE_UP_TO)."""
    if limit <= SENT_WHOLE_UP_TO:
        return {"content": b"x" * (limit + 1)}
    return {"content": b"x" * 1024, "headers": {"Content-Length": str(limit + 1)}}


@pytest.fixture
def served(ctx: ControllerContext) -> Iterator[str]:
    """A set-up controller on a real socket (plain HTTP, in this process)."""
    set_up(ctx)
    with serving(create_app(ctx)) as url:
        yield url


def _routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) of the app that may carry a body."""
    return [(m, p) for m, p in _walk(client.app.routes) if m in UNSAFE]  # type: ignore[attr-defined]


def _concrete(path: str) -> str:
    return (path.replace("{profile_id}", "1").replace("{pairing_id}", "1")
            .replace("{user_uuid}", "00000000-0000-4000-8000-000000000000")
            .replace("{serial}", "B8A44F000001").replace("{slug}", "name")
            .replace("{cert_id}", "1").replace("{token_id}", "1"))


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_anonymous_50_mb_login_is_refused_without_being_read(served: str, chunked: bool) -> None:
    refused = stream_body(f"{served}/api/v1/session", total=50 * MIB, chunked=chunked,
                          headers={"Content-Type": "application/json"})
    assert refused.status == 413
    # At most the limit was read; the rest never left this process (socket buffers aside).
    assert refused.body_bytes_sent < 8 * MIB


def test_anonymous_form_login_with_a_huge_body_is_refused(served: str) -> None:
    refused = stream_body(f"{served}/login", total=50 * MIB, chunked=True,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert refused.status == 413 and refused.body_bytes_sent < 8 * MIB


def test_machine_routes_refuse_huge_bodies_with_or_without_the_token(
        served: str, ctx: ControllerContext) -> None:
    token = ensure_token(ctx.data_dir)
    for path in ("/docklink/v1/events", "/docklink/v1/rfid/taps"):
        for auth in ({}, {"Authorization": f"Bearer {token}"}):
            refused = stream_body(f"{served}{path}", total=50 * MIB, chunked=True,
                                  headers={"Content-Type": "application/json", **auth})
            assert refused.status in (401, 413), (path, auth, refused)
            assert refused.body_bytes_sent < 8 * MIB


def _audit_count(ctx: ControllerContext) -> int:
    with ctx.factory() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_every_route_refuses_a_body_over_its_limit(logged_in: tuple[TestClient, str],
                                                   ctx: ControllerContext) -> None:
    client, csrf = logged_in
    routes = _routes(client)
    assert len(routes) > 40
    assert set(UPLOAD_LIMITS) <= set(routes)
    audited = _audit_count(ctx)
    for method, path in routes:
        over = _over(body_limit(UPLOAD_LIMITS, method, path))
        headers = {"X-CSRF-Token": csrf, "Content-Type": "text/plain",
                   **over.pop("headers", {})}  # type: ignore[dict-item]
        r = client.request(method, _concrete(path), headers=headers, **over)  # type: ignore[arg-type]
        assert r.status_code == 413, (method, path, r.status_code, r.text[:200])
        # Refused before the route ran: a logout or a DELETE that never reads its body
        # did not act and then answer 413.
        assert client.get("/api/v1/system").status_code == 200, (method, path)
    assert _audit_count(ctx) == audited


def test_the_uploads_limits_are_the_routes_own(client: TestClient) -> None:
    """What DeclaredSizes refuses at once is what the routes count a streamed body against:
    both read the limit each upload route declares, and only those four declare one."""
    assert upload_limits(client.app.routes) == UPLOAD_LIMITS  # type: ignore[attr-defined]


@pytest.mark.parametrize(("method", "path"), sorted(
    key for key, limit in UPLOAD_LIMITS.items() if limit <= SENT_WHOLE_UP_TO))
def test_an_upload_streamed_past_its_limit_is_refused(logged_in: tuple[TestClient, str],
                                                      method: str, path: str) -> None:
    client, csrf = logged_in
    limit = UPLOAD_LIMITS[(method, path)]
    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.crt\"\r\nContent-Type: text/plain\r\n\r\n").encode()

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield head
        for _ in range(limit // (64 * 1024) + 2):
            yield b"x" * (64 * 1024)

    content_type = ("text/csv" if path.startswith("/api/v1/users")
                    else f"multipart/form-data; boundary={boundary}")
    r = client.request(method, path, content=chunks(),
                       headers={"X-CSRF-Token": csrf, "Content-Type": content_type})
    assert r.status_code == 413, (path, r.status_code, r.text[:200])


def test_uploads_are_the_only_routes_above_the_default(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    # A CSV a little over the default limit is still read (and judged) by the import.
    rows = "".join(f"User {i},u{i}\n" for i in range(80_000)).encode()
    assert MAX_BODY_BYTES < len(rows) < UPLOAD_LIMITS[("POST", "/api/v1/users/import")]
    r = client.post("/api/v1/users/import", content=b"name,user_id\n" + rows,
                    headers={"X-CSRF-Token": csrf, "Content-Type": "text/csv"})
    assert r.status_code in (200, 422), r.text[:200]


@pytest.mark.parametrize("path", ["/api/v1/certificates/install",
                                  "/settings/certificates/install"])
def test_a_certificate_upload_has_a_bound_of_its_own(logged_in: tuple[TestClient, str],
                                                     path: str) -> None:
    client, csrf = logged_in
    assert CERTIFICATE_FILE_MAX < CERTIFICATE_FORM_BYTES < MAX_BODY_BYTES
    form = {"csrf_token": csrf}
    # A file a little over a certificate's limit still reaches the service, which says why.
    r = client.post(path, data=form, headers={"X-CSRF-Token": csrf}, files={
        "certificate": ("big.crt", b"x" * (CERTIFICATE_FILE_MAX + 1), "application/x-x509")})
    assert r.status_code == 422 and "too large for a certificate" in r.text
    # Past the route's own bound (far below the default) it is not even read.
    r = client.post(path, data=form, headers={"X-CSRF-Token": csrf}, files={
        "certificate": ("huge.crt", b"x" * CERTIFICATE_FORM_BYTES, "application/x-x509")})
    assert r.status_code == 413
    assert client.get("/api/v1/certificates").json()[0]["name"] == "Default"
    assert len(client.get("/api/v1/certificates").json()) == 1


def test_api_token_requests_meet_the_same_limits(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    made = client.post("/api/v1/tokens", json={"name": "Exporter", "access": "read-write"},
                       headers={"X-CSRF-Token": csrf}).json()
    bot = TestClient(client.app, base_url="https://testserver")
    auth = {"Authorization": f"Bearer {made['token']}"}
    before = bot.get("/api/v1/system", headers=auth).json()
    for method, path in (("PUT", "/api/v1/system/name"), ("PUT", "/api/v1/notifications"),
                         ("POST", "/api/v1/certificates")):
        r = bot.request(method, path, content=b'{"system_name": "A", "system_name": "B"}',
                        headers={**auth, "Content-Type": "application/json"})
        assert r.status_code == 400 and "given more than once" in r.json()["detail"], path
        r = bot.request(method, path, content=b"[" * 100_000 + b"]" * 100_000,
                        headers={**auth, "Content-Type": "application/json"})
        assert r.status_code == 400, path
        r = bot.request(method, path, content=b" " * (MAX_BODY_BYTES + 1),
                        headers={**auth, "Content-Type": "application/json"})
        assert r.status_code == 413, path
    r = bot.post("/api/v1/certificates/install", headers=auth, files={
        "certificate": ("huge.crt", b"x" * CERTIFICATE_FORM_BYTES, "application/x-x509")})
    assert r.status_code == 413
    assert bot.get("/api/v1/system", headers=auth).json() == before


def test_before_setup_the_wizard_has_the_same_limit(client: TestClient) -> None:
    client.get("/setup")
    r = client.post("/setup/name", content=b"x" * (MAX_BODY_BYTES + 1),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413


def _json_routes(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get("/api/v1/openapi.json").json()
    found = [(m.upper(), p) for p, ops in spec["paths"].items() for m, op in ops.items()
             if "application/json" in op.get("requestBody", {}).get("content", {})]
    return [*found, ("POST", "/api/v1/session")]


@pytest.mark.parametrize("body", [deep_json(100_000), deep_json(40),
                                  b'{"name": "a", "name": "b"}', b'{"x": NaN}',
                                  b'{"x": ' + b"1" * 5000 + b"}", b"\xff\xfe"],
                         ids=["100000-deep", "40-deep", "duplicate-key", "nan", "5000-digits",
                              "not-utf8"])
def test_json_that_is_not_strict_is_refused_everywhere(logged_in: tuple[TestClient, str],
                                                       ctx: ControllerContext,
                                                       body: bytes) -> None:
    client, csrf = logged_in
    routes = _json_routes(client)
    assert len(routes) > 15
    for method, path in routes:
        r = client.request(method, _concrete(path), content=body,
                           headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
        assert r.status_code == 400, (method, path, r.status_code, r.text[:200])
        assert "not acceptable JSON" in r.json()["detail"]
    token = {"Authorization": f"Bearer {ensure_token(ctx.data_dir)}"}
    for path in ("/docklink/v1/events", "/docklink/v1/rfid/taps"):
        # Machines need not say it is JSON: the route parses strictly whatever it says.
        for content_type in ({"Content-Type": "application/json"}, {}):
            r = client.post(path, content=body, headers={**token, **content_type})
            assert r.status_code == 400, (path, content_type, r.status_code, r.text[:200])


def test_duplicate_keys_do_not_pick_a_winner(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    before = client.get("/api/v1/profiles").json()
    body = json.dumps({"name": "First"})[:-1] + ', "name": "Second"}'
    r = client.post("/api/v1/profiles", content=body.encode(),
                    headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert r.status_code == 400 and "'name' is given more than once" in r.json()["detail"]
    assert client.get("/api/v1/profiles").json() == before
