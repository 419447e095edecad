"""One request-size limit in front of every route; JSON bodies parsed strictly, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bodyworn.controller.app import create_app
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.docks.service import ensure_token
from bodyworn.controller.web.bodies import MAX_BODY_BYTES, UPLOAD_LIMITS
from tests.bodies import MIB, deep_json, stream_body
from tests.cd_server import serving
from tests.controller.accounts.test_accounts import _walk
from tests.controller.conftest import set_up

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


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
            .replace("{serial}", "B8A44F000001").replace("{slug}", "name"))


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


def test_every_route_refuses_a_body_over_its_limit(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    routes = _routes(client)
    assert len(routes) > 40
    assert set(UPLOAD_LIMITS) <= set(routes)
    for method, path in routes:
        limit = UPLOAD_LIMITS.get((method, path), MAX_BODY_BYTES)
        r = client.request(method, _concrete(path), content=b"x" * (limit + 1),
                           headers={"X-CSRF-Token": csrf, "Content-Type": "text/plain"})
        assert r.status_code == 413, (method, path, r.status_code, r.text[:200])


def test_uploads_are_the_only_routes_above_the_default(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    # A CSV a little over the default limit is still read (and judged) by the import.
    rows = "".join(f"User {i},u{i}\n" for i in range(80_000)).encode()
    assert MAX_BODY_BYTES < len(rows) < UPLOAD_LIMITS[("POST", "/api/v1/users/import")]
    r = client.post("/api/v1/users/import", content=b"name,user_id\n" + rows,
                    headers={"X-CSRF-Token": csrf, "Content-Type": "text/csv"})
    assert r.status_code in (200, 422), r.text[:200]


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
