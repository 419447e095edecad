"""Users at scale: the search goes through its index (SQLite FTS5, PostgreSQL pg_trgm), the
index follows every change, and keyset pages give every user exactly once, ties included."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, text
from sqlalchemy.orm import Session, sessionmaker

from bodyworn.controller.models import BodyWornUser
from bodyworn.controller.profiles import service as profiles
from bodyworn.controller.users import service as users
from bodyworn.domain.clock import ManualClock
from bodyworn.domain.text import fold
from bodyworn.store.db import make_engine, session_factory, upgrade
from tests.store.backends import BACKENDS, backend_settings

CLOCK = ManualClock(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
# Ties on purpose: the same name in other cases and Unicode forms folds to one key.
NAMES = ("Åsa Öberg", "åsa öberg", "ÅSA ÖBERG", unicodedata.normalize("NFD", "Åsa Öberg"),
         "Per Ahl", "per ahl", "Ida Ström", "Örjan Ek", "Anna", "anna", "ANNA", "Zoë Berg")


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, Any]]:
    with backend_settings(str(request.param), tmp_path / "data") as settings:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.db_url)
        upgrade(engine)
        factory = session_factory(engine)
        with factory() as s, s.begin():
            profiles.ensure_preconfigured(s, CLOCK)
        try:
            yield engine, factory
        finally:
            engine.dispose()


def _add(factory: sessionmaker[Session], count: int) -> None:
    """`count` users by one bulk insert (as the CSV import writes them), names from NAMES."""
    with factory() as s, s.begin():
        default = profiles.default_row(s, CLOCK).id
        now = CLOCK.now()
        s.execute(insert(BodyWornUser), [
            {"uuid": f"00000000-0000-0000-0000-{i:012d}", "name": NAMES[i % len(NAMES)],
             "name_key": fold(NAMES[i % len(NAMES)]), "user_id": f"ID{i:05d}",
             "user_id_key": fold(f"ID{i:05d}"), "profile_id": default, "created_at": now,
             "updated_at": now} for i in range(count)])


def _walk(factory: sessionmaker[Session], query: str, limit: int) -> list[list[str]]:
    """Every page from the first on by `after`; uuids by page."""
    pages: list[list[str]] = []
    after = None
    while True:
        with factory() as s:
            page = users.page_users(s, query, limit, after=after)
        pages.append([u.uuid for u in page.users])
        assert page.total >= sum(map(len, pages))
        if page.after is None:
            return pages
        after = page.after


@pytest.mark.parametrize("query", ["", "åsa", "ANNA", "id0001"])
def test_keyset_pages_give_every_user_once_in_order(db: tuple[Engine, Any], query: str
                                                    ) -> None:
    _, factory = db
    _add(factory, 101)
    with factory() as s:
        everyone = users.page_users(s, query, 1000)
    assert everyone.after is None and everyone.before is None
    assert len(everyone.users) == everyone.total > 0
    expected = [u.uuid for u in everyone.users]
    keys = [fold(u.name) for u in everyone.users]
    assert keys == sorted(keys)  # by folded name: ties sit together
    for limit in (1, 4, 7):
        pages = _walk(factory, query, limit)
        seen = [u for page in pages for u in page]
        assert seen == expected, f"limit {limit}"  # each exactly once, in the same order
        assert all(len(p) == limit for p in pages[:-1])
        # And back: `before` the first row of each page gives the page before it.
        with factory() as s:
            last = users.page_users(s, query, limit, after=None)
            cursors = []
            while last.after is not None:
                cursors.append(last.before)
                last = users.page_users(s, query, limit, after=last.after)
            back, before = [last.users], last.before
            while before is not None:
                prev = users.page_users(s, query, limit, before=before)
                back.insert(0, prev.users)
                before = prev.before
        assert [u.uuid for page in back for u in page] == expected


def test_a_cursor_is_checked(db: tuple[Engine, Any]) -> None:
    _, factory = db
    _add(factory, 3)
    with factory() as s:
        for bad in ("", "x" * 2000, "not base64!", "WzEsMl0", "WyJhIiwgLTFd", "bnVsbA"):
            with pytest.raises(ValueError):
                users.page_users(s, "", 2, after=bad)


def test_the_search_index_follows_changes(db: tuple[Engine, Any]) -> None:
    _, factory = db
    _add(factory, 12)

    def found(q: str) -> list[str]:
        with factory() as s:
            return sorted(u.name for u in users.page_users(s, q, 100).users)

    assert found("ström") == ["Ida Ström"]
    with factory() as s, s.begin():
        ida = users.page_users(s, "ström", 10).users[0]
        users.update_user(s, CLOCK, ida.uuid, {"name": "Ida Strand", "user_id": "NEW-42"},
                          actor="test", source="test")
    assert found("ström") == [] and found("strand") == ["Ida Strand"]
    assert found("new-42") == ["Ida Strand"] and found(ida.user_id or "") == []
    with factory() as s, s.begin():
        users.remove(s, CLOCK, ida.uuid, actor="test", source="test")
    assert found("strand") == [] and found("new-42") == []
    with factory() as s, s.begin():
        users.create(s, CLOCK, name="Karl Strandberg", user_id=None, actor="test",
                     source="test")
    assert found("trandb") == ["Karl Strandberg"]


def _statements(engine: Engine) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
              _many: bool) -> None:
        if ("body_worn_user" in statement and "camera_profile" not in statement
                and not statement.startswith("EXPLAIN")):
            seen.append((statement, parameters))

    return seen


def test_sqlite_searches_and_pages_by_index_not_by_scan(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    upgrade(engine)
    factory = session_factory(engine)
    with factory() as s, s.begin():
        profiles.ensure_preconfigured(s, CLOCK)
    _add(factory, 300)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    with factory() as s:
        second = users.page_users(s, "", 10).after
    seen = _statements(engine)
    with factory() as s:
        users.page_users(s, "öberg", 10)  # three characters or more: the trigram index
        users.page_users(s, "", 10, after=second)  # a later page: the (name_key, id) index
    assert len(seen) == 4
    with engine.connect() as conn:
        plans = ["\n".join(str(r[-1]) for r in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + sql, tuple(params))) for sql, params in seen]
    for plan in plans[:2]:  # the search's page and its count
        assert not re.search(r"\bSCAN body_worn_user\b", plan), plan
        assert "body_worn_user_search VIRTUAL TABLE" in plan, plan
    assert re.search(r"SEARCH body_worn_user USING (COVERING )?INDEX "
                     r"ix_body_worn_user_name_key_id \(", plans[2]), plans[2]
    assert "TEMP B-TREE" not in plans[2], plans[2]  # no sort: the index's order
    engine.dispose()


def test_postgresql_has_the_trigram_index_and_uses_it(db: tuple[Engine, Any]) -> None:
    engine, factory = db
    if engine.dialect.name != "postgresql":
        pytest.skip("the PostgreSQL half of the index test (SQLite: the test above)")
    _add(factory, 50)
    with engine.connect() as conn:
        names = set(conn.execute(text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'body_worn_user'")).scalars())
        assert {"ix_body_worn_user_name_key_trgm", "ix_body_worn_user_user_id_key_trgm",
                "ix_body_worn_user_name_key_id"} <= names
        conn.exec_driver_sql("SET enable_seqscan = off")  # a tiny table: make it choose
        plan = "\n".join(conn.execute(text(
            "EXPLAIN SELECT id FROM body_worn_user WHERE name_key LIKE :q OR "
            "user_id_key LIKE :q"), {"q": "%öberg%"}).scalars())
    assert "ix_body_worn_user_name_key_trgm" in plan, plan


def test_profile_user_counts_follow_every_change(db: tuple[Engine, Any]) -> None:
    _, factory = db
    _add(factory, 30)  # a bulk insert, as the CSV import does

    def counts() -> tuple[dict[str, int], dict[str, int]]:
        with factory() as s:
            kept = {p.profile.name: p.users for p in profiles.list_profiles(s, CLOCK)}
            real = {p.profile.name: 0 for p in profiles.list_profiles(s, CLOCK)}
            for u in users.page_users(s, "", 1000).users:
                real[u.profile_name] += 1
        return kept, real

    kept, real = counts()
    assert kept == real and sum(kept.values()) == 30
    with factory() as s, s.begin():
        other = next(p.id for p in profiles.list_profiles(s, CLOCK) if not p.is_default)
        first, second = users.page_users(s, "", 2).users
        users.update_user(s, CLOCK, first.uuid, {"profile_id": other}, actor="t", source="t")
        users.update_user(s, CLOCK, second.uuid, {"name": "Renamed"}, actor="t", source="t")
        users.remove(s, CLOCK, second.uuid, actor="t", source="t")
        users.create(s, CLOCK, name="New", user_id=None, profile_id=other, actor="t",
                     source="t")
    kept, real = counts()
    assert kept == real and sum(kept.values()) == 30


def test_a_cursor_of_the_longest_name_fits(db: tuple[Engine, Any]) -> None:
    _, factory = db
    longest = "\u0390" * 32  # 64 bytes; folds to three code points each (6 bytes)
    with factory() as s, s.begin():
        for name in (longest, longest, "Zed"):
            users.create(s, CLOCK, name=name, user_id=None, actor="t", source="t")
    with factory() as s:
        page = users.page_users(s, "", 2)  # "zed" sorts first, then the Greek
        assert [u.name for u in page.users] == ["Zed", longest]
        assert page.after is not None and len(page.after) <= users.CURSOR_MAX
        assert users.parse_cursor(page.after)[0] == fold(longest)
        rest = users.page_users(s, "", 5, after=page.after)
    assert [u.name for u in rest.users] == [longest]
