"""The store: migrations match the models, a copy is taken before migrating, SQLite pragmas."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from bodyworn.controller.models import Base
from bodyworn.store.db import (
    alembic_config,
    head_revisions,
    in_models,
    make_engine,
    sqlite_url,
    upgrade,
)


def test_models_and_migrations_agree(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path))
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True,
                                                               "include_name": in_models}),
                                Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_a_model_change_without_migration_is_caught(tmp_path: Path) -> None:
    from sqlalchemy import Column, Integer, MetaData, Table

    engine = make_engine(sqlite_url(tmp_path))
    upgrade(engine)
    changed = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    Table("not_migrated", changed, Column("id", Integer, primary_key=True))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), changed)
    assert any(d[0] == "add_table" for d in diff)


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path))
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10000


def test_copy_taken_before_a_due_migration(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    engine = make_engine(url)
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE marker (v TEXT)"))
        conn.execute(text("INSERT INTO marker VALUES ('before')"))
    copy = upgrade(engine, backup_dir=tmp_path / "backups")
    assert copy is not None and copy.exists()
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT v FROM marker").fetchone() == ("before",)
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
    assert upgrade(engine, backup_dir=tmp_path / "backups") is None  # up to date: no copy


def test_fresh_database_reaches_head(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path))
    assert upgrade(engine, backup_dir=tmp_path / "b") is None  # nothing to copy yet
    with engine.connect() as conn:
        versions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    assert versions == head_revisions(sqlite_url(tmp_path))
    assert "audit_entry" in inspect(engine).get_table_names()


PG_URL = os.environ.get("BODYWORN_TEST_DATABASE_URL")


@pytest.mark.skipif(
    not PG_URL,
    reason="no PostgreSQL server at hand: set BODYWORN_TEST_DATABASE_URL "
    "(CI starts one with scripts/start-postgres.sh)",
)
def test_postgresql_store() -> None:
    assert PG_URL is not None
    engine = make_engine(PG_URL)
    cfg = alembic_config(PG_URL)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    try:
        upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(
                conn, opts={"include_name": in_models}), Base.metadata)
        assert diff == []
        from datetime import UTC, datetime

        from bodyworn.controller.audit.service import record, verify_chain
        from bodyworn.domain.clock import ManualClock
        from bodyworn.store.db import session_factory

        clock = ManualClock(datetime(2026, 5, 1, tzinfo=UTC))
        factory = session_factory(engine)
        with factory() as s, s.begin():
            record(s, clock, actor="root", action="test.one")
            record(s, clock, actor="root", action="test.two", detail="ä ö")
        with factory() as s:
            assert verify_chain(s).ok
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text("UPDATE audit_entry SET detail = 'x'"))
    finally:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        engine.dispose()
