"""users searched by an index and paged by keyset: a trigram index of the folded name and
user ID (SQLite FTS5, PostgreSQL pg_trgm), and an index on (name_key, id)

Revision ID: 0011p
Revises: 0010o

SQLite: an external-content FTS5 table over body_worn_user (trigram tokenizer, so any
substring of three characters or more is found through the index), kept in step by
triggers; it holds no copy of the text, only its index. A later migration that rebuilds
body_worn_user (a batch migration copies, drops and renames it) drops these triggers with
the old table and must create them again (tests/store/test_user_search.py checks).

PostgreSQL: pg_trgm's GIN indexes serve the same LIKE '%…%' the search runs everywhere.
Where the extension cannot be created (no privilege), the search still works, by a scan.

Both: the list is ordered by (name_key, id) and paged after the last row seen, so one
index on both replaces the one on name_key. camera_profile.user_count counts each
profile's users, kept by triggers on body_worn_user, so the profiles pages do not count
every user (the same warning as above for a later rebuild of body_worn_user).
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0011p"
down_revision = "0010o"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# body_worn_user_search, spelled out: a migration's SQL never changes afterwards.
TRIGGERS = {
    "body_worn_user_search_insert": """
        CREATE TRIGGER body_worn_user_search_insert AFTER INSERT ON body_worn_user BEGIN
            INSERT INTO body_worn_user_search(rowid, name_key, user_id_key)
            VALUES (new.id, new.name_key, new.user_id_key);
        END""",
    "body_worn_user_search_delete": """
        CREATE TRIGGER body_worn_user_search_delete AFTER DELETE ON body_worn_user BEGIN
            INSERT INTO body_worn_user_search(body_worn_user_search, rowid, name_key,
                                              user_id_key)
            VALUES ('delete', old.id, old.name_key, old.user_id_key);
        END""",
    "body_worn_user_search_update": """
        CREATE TRIGGER body_worn_user_search_update
        AFTER UPDATE OF name_key, user_id_key ON body_worn_user BEGIN
            INSERT INTO body_worn_user_search(body_worn_user_search, rowid, name_key,
                                              user_id_key)
            VALUES ('delete', old.id, old.name_key, old.user_id_key);
            INSERT INTO body_worn_user_search(rowid, name_key, user_id_key)
            VALUES (new.id, new.name_key, new.user_id_key);
        END""",
}
# camera_profile.user_count follows the users (SQLite; PostgreSQL below).
COUNT_TRIGGERS = {
    "camera_profile_count_insert": """
        CREATE TRIGGER camera_profile_count_insert AFTER INSERT ON body_worn_user BEGIN
            UPDATE camera_profile SET user_count = user_count + 1 WHERE id = new.profile_id;
        END""",
    "camera_profile_count_delete": """
        CREATE TRIGGER camera_profile_count_delete AFTER DELETE ON body_worn_user BEGIN
            UPDATE camera_profile SET user_count = user_count - 1 WHERE id = old.profile_id;
        END""",
    "camera_profile_count_update": """
        CREATE TRIGGER camera_profile_count_update AFTER UPDATE OF profile_id ON body_worn_user
        WHEN old.profile_id IS NOT new.profile_id BEGIN
            UPDATE camera_profile SET user_count = user_count - 1 WHERE id = old.profile_id;
            UPDATE camera_profile SET user_count = user_count + 1 WHERE id = new.profile_id;
        END""",
}
PG_COUNT_FUNCTION = """
    CREATE FUNCTION camera_profile_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            UPDATE camera_profile SET user_count = user_count - 1 WHERE id = OLD.profile_id;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            UPDATE camera_profile SET user_count = user_count + 1 WHERE id = NEW.profile_id;
        END IF;
        RETURN NULL;
    END $$"""
PG_COUNT_TRIGGERS = (
    "CREATE TRIGGER camera_profile_count_change AFTER INSERT OR DELETE ON body_worn_user "
    "FOR EACH ROW EXECUTE FUNCTION camera_profile_count()",
    "CREATE TRIGGER camera_profile_count_move AFTER UPDATE OF profile_id ON body_worn_user "
    "FOR EACH ROW WHEN (OLD.profile_id IS DISTINCT FROM NEW.profile_id) "
    "EXECUTE FUNCTION camera_profile_count()",
)
TRGM_INDEXES = {"ix_body_worn_user_name_key_trgm": "name_key",
                "ix_body_worn_user_user_id_key_trgm": "user_id_key"}


def _sqlite_up(conn: sa.Connection) -> None:
    conn.exec_driver_sql(
        "CREATE VIRTUAL TABLE body_worn_user_search USING fts5(name_key, user_id_key, "
        "content='body_worn_user', content_rowid='id', tokenize='trigram case_sensitive 1')")
    conn.exec_driver_sql(
        "INSERT INTO body_worn_user_search(body_worn_user_search) VALUES ('rebuild')")
    for sql in TRIGGERS.values():
        conn.exec_driver_sql(sql)


def _postgresql_up(conn: sa.Connection) -> None:
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:
        log.warning("pg_trgm could not be created (%s): user search runs without its "
                    "index", str(exc).splitlines()[0])
        return
    for name, col in TRGM_INDEXES.items():
        conn.exec_driver_sql(
            f"CREATE INDEX {name} ON body_worn_user USING gin ({col} gin_trgm_ops)")


def _counts_up(conn: sa.Connection) -> None:
    op.add_column("camera_profile", sa.Column("user_count", sa.Integer(), nullable=False,
                                              server_default="0"))
    conn.exec_driver_sql(
        "UPDATE camera_profile SET user_count = (SELECT count(*) FROM body_worn_user "
        "WHERE body_worn_user.profile_id = camera_profile.id)")
    if conn.dialect.name == "sqlite":
        for sql in COUNT_TRIGGERS.values():
            conn.exec_driver_sql(sql)
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(PG_COUNT_FUNCTION)
        for sql in PG_COUNT_TRIGGERS:
            conn.exec_driver_sql(sql)


def upgrade() -> None:
    op.drop_index("ix_body_worn_user_name_key", table_name="body_worn_user")
    op.create_index("ix_body_worn_user_name_key_id", "body_worn_user", ["name_key", "id"])
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        _sqlite_up(conn)
    elif conn.dialect.name == "postgresql":
        _postgresql_up(conn)
    _counts_up(conn)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for name in COUNT_TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    elif conn.dialect.name == "postgresql":
        for name in ("camera_profile_count_change", "camera_profile_count_move"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON body_worn_user")
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS camera_profile_count()")
    with op.batch_alter_table("camera_profile") as batch:
        batch.drop_column("user_count")
    if conn.dialect.name == "sqlite":
        for name in TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        conn.exec_driver_sql("DROP TABLE IF EXISTS body_worn_user_search")
    elif conn.dialect.name == "postgresql":
        for name in TRGM_INDEXES:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_body_worn_user_name_key_id", table_name="body_worn_user")
    op.create_index("ix_body_worn_user_name_key", "body_worn_user", ["name_key"])
