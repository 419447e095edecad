"""Paging users through the API and the users page: cursors (keyset), the old offset too."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient
from sqlalchemy import insert

from bodyworn.controller.context import ControllerContext
from bodyworn.controller.models import BodyWornUser
from bodyworn.controller.profiles import service as profiles
from bodyworn.domain.text import fold


def _seed(ctx: ControllerContext, count: int) -> None:
    """Users with tied names ("Kim", "kim", "KIM") by one bulk insert."""
    with ctx.factory() as s, s.begin():
        default = profiles.default_row(s, ctx.clock).id
        now = ctx.clock.now()
        s.execute(insert(BodyWornUser), [
            {"uuid": f"00000000-0000-0000-0000-{i:012d}", "name": ("Kim", "kim", "KIM")[i % 3],
             "name_key": fold("Kim"), "user_id": f"K{i:04d}", "user_id_key": fold(f"K{i:04d}"),
             "profile_id": default, "created_at": now, "updated_at": now}
            for i in range(count)])


def test_api_pages_by_cursor_and_still_by_offset(ctx: ControllerContext,
                                                 logged_in: tuple[TestClient, str]) -> None:
    client, _ = logged_in
    _seed(ctx, 25)
    first = client.get("/api/v1/users", params={"limit": 10}).json()
    assert first["total"] == 25 and len(first["users"]) == 10 and first["before"] is None
    seen = [u["id"] for u in first["users"]]
    page = first
    while page["after"] is not None:
        page = client.get("/api/v1/users", params={"limit": 10, "after": page["after"]}).json()
        seen += [u["id"] for u in page["users"]]
    assert len(seen) == len(set(seen)) == 25  # ties of names: each user once
    back = client.get("/api/v1/users", params={"limit": 10, "before": page["before"]}).json()
    assert [u["id"] for u in back["users"]] == seen[10:20]
    # Older callers: offset counts rows, in the same order.
    by_offset = client.get("/api/v1/users", params={"limit": 10, "offset": 10}).json()
    assert [u["id"] for u in by_offset["users"]] == seen[10:20]
    r = client.get("/api/v1/users", params={"after": "not-a-cursor"})
    assert r.status_code == 422 and "after" in r.text


def test_users_page_links_to_the_next_and_previous_pages(
        ctx: ControllerContext, logged_in: tuple[TestClient, str]) -> None:
    client, _ = logged_in
    _seed(ctx, 120)
    names_on = re.compile(r'href="/users/([0-9a-f-]{36})"')
    page = client.get("/users").text
    seen = names_on.findall(page)
    assert 'id="users-previous"' not in page and "120" in page
    for _ in range(5):
        found = re.search(r'id="users-next" href="([^"]+)"', page)
        if not found:
            break
        page = client.get(unescape(found.group(1))).text
        seen += names_on.findall(page)
        assert 'id="users-previous"' in page
    assert len(seen) == len(set(seen)) == 120
    # A hand-made cursor shows the first page.
    assert client.get("/users", params={"after": "garbage"}).status_code == 200
