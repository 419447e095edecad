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
from sqlalchemy import Engine, MetaData, create_engine, event, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from bodyworn.store.files import make_dirs_durable
from bodyworn.store.private import DIR_MODE, create_private_file
from bodyworn.store.secrets import SESSION_INFO_KEY, SecretBox

log = structlog.get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# What migrations make beside the models: the users' search index (migration 0011p:
# SQLite's FTS5 table with its shadow tables, PostgreSQL's trigram indexes). Comparing
# the models with a database leaves these names out.
OUTSIDE_MODELS = ("body_worn_user_search", "ix_body_worn_user_name_key_trgm",
                  "ix_body_worn_user_user_id_key_trgm")


def in_models(name: str | None, _type: str, _parents: Any) -> bool:
    """Alembic's include_name: False for what `OUTSIDE_MODELS` names."""
    return not (name or "").startswith(OUTSIDE_MODELS)


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
    # EXTRA: every commit fsynced (the WAL; in rollback-journal mode, where SQLite falls
    # back if a file system cannot hold a WAL, also the folder after the journal is
    # unlinked: under FULL a power cut right after a commit would roll it back).
    cur.execute("PRAGMA synchronous=EXTRA")
    cur.close()


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            # Made private before SQLite makes it; its WAL and SHM files copy its mode.
            create_private_file(Path(database))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    return create_engine(url, pool_pre_ping=True)


def session_factory(engine: Engine, secrets: SecretBox | None = None) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit; its sessions find
    `secrets` (the box sealing the stored secrets) with `store.secrets.box_of`."""
    info = {SESSION_INFO_KEY: secrets} if secrets is not None else {}
    return sessionmaker(engine, expire_on_commit=False, info=info)


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
    backup_dir.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    stamp = (clock_now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    target = backup_dir / f"bodyworn-{stamp}.db"
    create_private_file(target)
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


def upgrade(
    engine: Engine, backup_dir: Path | None = None, secrets: SecretBox | None = None
) -> Path | None:
    """Bring the database to the newest migration, copying a SQLite database first.

    `secrets` seals stored secrets a migration finds in clear. Returns the path of the copy
    when one was taken (only when a migration is due).
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
                cfg.attributes[SESSION_INFO_KEY] = secrets
                command.upgrade(cfg, "heads")
                if sqlite and (broken := conn.exec_driver_sql("PRAGMA foreign_key_check").all()):
                    raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                # Never hand a connection without foreign keys back to the pool.
                conn.invalidate()
    if cfg.attributes.get(SCRUB_TABLES):
        scrub(engine, cfg.attributes[SCRUB_TABLES])
    return copy


def ensure_data_dir(data_dir: Path) -> Path:
    """Create the data directory (private to this user) if it does not exist, durably."""
    make_dirs_durable(data_dir)
    return data_dir
# Set by a migration that replaced secrets held in clear: the tables whose old versions
# must not stay readable in the database's files.
SCRUB_TABLES = "scrub_tables"


def scrub(engine: Engine, tables: list[str]) -> None:
    """Leave no old version of `tables` readable in the database's own files.

    SQLite: the migration zeroed freed pages (secure_delete); the WAL, which may still
    hold earlier page images, is checkpointed and truncated. PostgreSQL: the tables are
    rewritten (VACUUM FULL); its WAL archive and backups are the operator's to manage.
    """
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    elif engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM FULL " + ", ".join(tables))


def remove_tree(path: Path) -> None:
    """Remove a directory tree if it exists."""
    if path.exists():
        shutil.rmtree(path)
