"""folded names: camera profile names unique whatever their case or Unicode form, users
searchable the same way

Revision ID: 0006g_folded_names
Revises: 0005
Create Date: 2026-11-28 09:00:00

Each name gets a column holding its folded form (canonical caseless match, stored NFC),
filled here for existing rows. Profile names that only differed in case or form were
possible before (SQLite's lower() knows only ASCII): the younger ones get " (2)", " (3)", …
so that the new unique key can be made.
"""

import logging
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0006g_folded_names"
down_revision = "0005"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
PROFILE_NAME_MAX = 64


def _fold(text: str) -> str:
    # A frozen copy of bodyworn.domain.text.fold: a migration must not change afterwards.
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).casefold())


def _unique_profile_names(conn: sa.Connection) -> None:
    profile = sa.table("camera_profile", sa.column("id", sa.Integer),
                       sa.column("name", sa.String), sa.column("name_key", sa.String))
    rows = conn.execute(sa.select(profile.c.id, profile.c.name).order_by(profile.c.id)).all()
    taken = {_fold(name) for _, name in rows}
    seen: set[str] = set()
    for row_id, name in rows:
        key = _fold(name)
        if key in seen:
            n = 2
            while True:
                suffix = f" ({n})"
                candidate = name[:PROFILE_NAME_MAX - len(suffix)] + suffix
                if _fold(candidate) not in taken:
                    break
                n += 1
            log.warning("camera profile %r renamed %r: its name differed from another "
                        "one's only in case or Unicode form", name, candidate)
            name, key = candidate, _fold(candidate)
            taken.add(key)
        seen.add(key)
        conn.execute(profile.update().where(profile.c.id == row_id)
                     .values(name=name, name_key=key))


def _fill_user_keys(conn: sa.Connection) -> None:
    user = sa.table("body_worn_user", sa.column("id", sa.Integer), sa.column("name", sa.String),
                    sa.column("user_id", sa.String), sa.column("name_key", sa.String),
                    sa.column("user_id_key", sa.String))
    rows = conn.execute(sa.select(user.c.id, user.c.name, user.c.user_id)).all()
    for row_id, name, user_id in rows:
        conn.execute(user.update().where(user.c.id == row_id).values(
            name_key=_fold(name), user_id_key=None if user_id is None else _fold(user_id)))


def upgrade() -> None:
    with op.batch_alter_table("camera_profile", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=256), nullable=True))
    with op.batch_alter_table("body_worn_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("user_id_key", sa.String(length=128), nullable=True))
    conn = op.get_bind()
    _unique_profile_names(conn)
    _fill_user_keys(conn)
    with op.batch_alter_table("camera_profile", schema=None) as batch_op:
        batch_op.alter_column("name_key", existing_type=sa.String(length=256), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_camera_profile_name_key"), ["name_key"])
    with op.batch_alter_table("body_worn_user", schema=None) as batch_op:
        batch_op.alter_column("name_key", existing_type=sa.String(length=256), nullable=False)
        batch_op.create_index(batch_op.f("ix_body_worn_user_name_key"), ["name_key"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_body_worn_user_user_id_key"), ["user_id_key"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("body_worn_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_body_worn_user_user_id_key"))
        batch_op.drop_index(batch_op.f("ix_body_worn_user_name_key"))
        batch_op.drop_column("user_id_key")
        batch_op.drop_column("name_key")
    with op.batch_alter_table("camera_profile", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_camera_profile_name_key"), type_="unique")
        batch_op.drop_column("name_key")
