"""sealed secrets: the identity private key and the connection file (which holds the CD's
key) sealed with the secrets key kept outside the database

Revision ID: 0006g_sealed_secrets
Revises: 0006g_folded_names
Create Date: 2026-11-28 10:00:00

The clear values are sealed into new columns and the old columns dropped. On SQLite the
freed pages are zeroed (secure_delete) and store.db.upgrade then truncates the WAL; on
PostgreSQL it rewrites the two tables. Copies in backups/ taken before this migration still
hold the clear values: a warning names them.
"""

import logging

import sqlalchemy as sa
from alembic import context, op

from bodyworn.store.db import SCRUB_TABLES
from bodyworn.store.secrets import SESSION_INFO_KEY, SecretBox

revision = "0006g_sealed_secrets"
down_revision = "0006g_folded_names"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
# Frozen copies of the purposes in the models: a migration must not change afterwards.
PRIVATE_KEY = "system_identity.private_key"
CONNECTION_FILE = "content_destination.connection_file"
TABLES = ["system_identity", "content_destination"]

identity = sa.table("system_identity", sa.column("id", sa.Integer),
                    sa.column("private_key_pem", sa.LargeBinary),
                    sa.column("private_key_sealed", sa.LargeBinary))
destination = sa.table("content_destination", sa.column("id", sa.Integer),
                       sa.column("raw_json", sa.Text),
                       sa.column("connection_file_sealed", sa.LargeBinary))


def _box(conn: sa.Connection) -> SecretBox:
    box = context.config.attributes.get(SESSION_INFO_KEY)
    if not isinstance(box, SecretBox):
        raise RuntimeError("the stored secrets can only be sealed or opened with the secrets "
                           "key: run the migration through the controller")
    return box


def _secure_delete(conn: sa.Connection, on: bool) -> None:
    if conn.dialect.name == "sqlite":
        # Pages freed by the table copies below are zeroed, not left holding the clear values.
        conn.exec_driver_sql(f"PRAGMA secure_delete = {'ON' if on else 'OFF'}")


def upgrade() -> None:
    conn = op.get_bind()
    _secure_delete(conn, True)
    with op.batch_alter_table("system_identity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("private_key_sealed", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("content_destination", schema=None) as batch_op:
        batch_op.add_column(sa.Column("connection_file_sealed", sa.LargeBinary(), nullable=True))
    keys = conn.execute(sa.select(identity.c.id, identity.c.private_key_pem)).all()
    files = conn.execute(sa.select(destination.c.id, destination.c.raw_json)).all()
    if keys or files:
        box = _box(conn)
        for row_id, pem in keys:
            conn.execute(identity.update().where(identity.c.id == row_id).values(
                private_key_sealed=box.seal(bytes(pem), PRIVATE_KEY), private_key_pem=b""))
        for row_id, raw in files:
            conn.execute(destination.update().where(destination.c.id == row_id).values(
                connection_file_sealed=box.seal(raw.encode("utf-8"), CONNECTION_FILE),
                raw_json=""))
        context.config.attributes[SCRUB_TABLES] = TABLES
        log.warning("stored secrets sealed with the secrets key; database copies in backups/ "
                    "taken before now still hold them in clear: delete them once this version "
                    "runs well")
    with op.batch_alter_table("system_identity", schema=None) as batch_op:
        batch_op.alter_column("private_key_sealed", existing_type=sa.LargeBinary(),
                              nullable=False)
        batch_op.drop_column("private_key_pem")
    with op.batch_alter_table("content_destination", schema=None) as batch_op:
        batch_op.alter_column("connection_file_sealed", existing_type=sa.LargeBinary(),
                              nullable=False)
        batch_op.drop_column("raw_json")
    _secure_delete(conn, False)


def downgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table("system_identity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("private_key_pem", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("content_destination", schema=None) as batch_op:
        batch_op.add_column(sa.Column("raw_json", sa.Text(), nullable=True))
    keys = conn.execute(sa.select(identity.c.id, identity.c.private_key_sealed)).all()
    files = conn.execute(sa.select(destination.c.id, destination.c.connection_file_sealed)).all()
    if keys or files:
        box = _box(conn)
        for row_id, sealed in keys:
            conn.execute(identity.update().where(identity.c.id == row_id).values(
                private_key_pem=box.open(bytes(sealed), PRIVATE_KEY)))
        for row_id, sealed in files:
            conn.execute(destination.update().where(destination.c.id == row_id).values(
                raw_json=box.open(bytes(sealed), CONNECTION_FILE).decode("utf-8")))
    with op.batch_alter_table("system_identity", schema=None) as batch_op:
        batch_op.alter_column("private_key_pem", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("private_key_sealed")
    with op.batch_alter_table("content_destination", schema=None) as batch_op:
        batch_op.alter_column("raw_json", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("connection_file_sealed")
