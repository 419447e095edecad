"""Migration 0006g_folded_names fills the folded keys of existing rows and parts clashing
profile names, on SQLite and PostgreSQL."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text

from bodyworn.domain.text import fold
from bodyworn.store.db import alembic_config, make_engine, sqlite_url, upgrade
from tests.store.backends import BACKENDS, PG_URL, to_base

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC).isoformat(sep=" ")


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = sqlite_url(tmp_path) if request.param == "sqlite" else PG_URL
    assert url is not None
    if request.param != "sqlite":
        to_base(url)
    made = make_engine(url)
    try:
        yield made
    finally:
        made.dispose()
        if request.param != "sqlite":
            to_base(url)


def test_existing_rows_get_their_keys_and_clashing_profiles_are_renamed(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
    profiles = ["Öga", "öga", unicodedata.normalize("NFD", "ÖGA"), "Öga (2)", "x" * 64,
                "X" * 64, "Default"]
    with engine.begin() as conn:
        for i, name in enumerate(profiles, start=1):
            conn.execute(text(
                "INSERT INTO camera_profile (id, name, settings_json, is_default, version, "
                "created_at, updated_at) VALUES (:id, :name, '{}', :d, 1, :now, :now)"),
                {"id": i, "name": name, "d": name == "Default", "now": NOW})
        for i, (name, uid) in enumerate([("Åsa Öberg", "ÅÖ-1"), ("Kim", None)], start=1):
            conn.execute(text(
                "INSERT INTO body_worn_user (id, uuid, name, user_id, profile_id, created_at, "
                "updated_at) VALUES (:id, :uuid, :name, :uid, 1, :now, :now)"),
                {"id": i, "uuid": f"u-{i}", "name": name, "uid": uid, "now": NOW})
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT name, name_key FROM camera_profile ORDER BY id")).all()
        users = conn.execute(
            text("SELECT name_key, user_id_key FROM body_worn_user ORDER BY id")).all()
    names = [name for name, _ in rows]
    # The oldest keeps its name; the younger ones get the first free number.
    assert names[:4] == ["Öga", "öga (3)", unicodedata.normalize("NFD", "ÖGA") + " (4)",
                         "Öga (2)"]
    assert names[4] == "x" * 64 and names[5] == "X" * 60 + " (2)"
    assert all(key == fold(name) for name, key in rows)
    assert len({key for _, key in rows}) == len(rows)
    assert list(users) == [(fold("Åsa Öberg"), fold("ÅÖ-1")), ("kim", None)]
    if engine.dialect.name == "sqlite":
        # The migration turned foreign keys off for itself only.
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
