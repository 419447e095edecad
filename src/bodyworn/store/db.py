"""Database engine, sessions and migrations: SQLite (WAL, foreign keys) or PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

log = structlog.get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every table; constraint names are stable so batch migrations work."""

    metadata = MetaData(naming_convention=NAMING)


def sqlite_url(data_dir: Path) -> str:
    """The URL of the embedded database inside a data directory."""
    return f"sqlite:///{(data_dir / 'bodyworn.db').resolve()}"


def _on_sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    return create_engine(url, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at our migrations and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def current_revisions(engine: Engine) -> set[str]:
    """The revisions the database is at (empty for an empty database)."""
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def head_revisions(url: str) -> set[str]:
    """The newest revisions among our migrations (more than one while branches are open)."""
    return set(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def backup_sqlite(
    engine: Engine, backup_dir: Path, clock_now: datetime | None = None
) -> Path | None:
    """Copy a SQLite database with the online backup API; returns the copy's path."""
    db_path = engine.url.database
    if not db_path or not Path(db_path).exists() or Path(db_path).stat().st_size == 0:
        return None
    backup_dir.mkdir(parents=True, exist_ok=True)
    stamp = (clock_now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    target = backup_dir / f"bodyworn-{stamp}.db"
    src = sqlite3.connect(db_path)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return target


def upgrade(engine: Engine, backup_dir: Path | None = None) -> Path | None:
    """Bring the database to the newest migration, copying a SQLite database first.

    Returns the path of the copy when one was taken (only when a migration is due).
    """
    url = engine.url.render_as_string(hide_password=False)
    current = current_revisions(engine)
    if current == head_revisions(url):
        return None
    copy = None
    if engine.dialect.name == "sqlite" and current and backup_dir is not None:
        copy = backup_sqlite(engine, backup_dir)
        log.info("database copied before migration", copy=str(copy))
    cfg = alembic_config(url)
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            # A batch migration copies a table, drops it and renames the copy: with foreign
            # keys enforced, the drop fails for a table other rows refer to. SQLite's own
            # procedure turns them off outside the transaction and checks them at its end.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "heads")
                if sqlite and (broken := conn.exec_driver_sql("PRAGMA foreign_key_check").all()):
                    raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                # Never hand a connection without foreign keys back to the pool.
                conn.invalidate()
    return copy


def ensure_data_dir(data_dir: Path) -> Path:
    """Create the data directory (private to this user) if it does not exist."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return data_dir


def remove_tree(path: Path) -> None:
    """Remove a directory tree if it exists."""
    if path.exists():
        shutil.rmtree(path)
