"""profiles and users: camera profiles, body worn users, the content destination outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 07:48:47.444075
"""

from alembic import op
import sqlalchemy as sa
import bodyworn.store.types


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('camera_profile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('settings_json', sa.Text(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_camera_profile')),
    sa.UniqueConstraint('name', name=op.f('uq_camera_profile_name'))
    )
    op.create_table('cd_pending_object',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('payload_json', sa.Text(), nullable=False),
    sa.Column('created_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("action IN ('upsert', 'deactivate')", name=op.f('ck_cd_pending_object_action')),
    sa.CheckConstraint("kind IN ('user', 'device')", name=op.f('ck_cd_pending_object_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cd_pending_object'))
    )
    with op.batch_alter_table('cd_pending_object', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cd_pending_object_delivered_at'), ['delivered_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cd_pending_object_ref'), ['ref'], unique=False)

    op.create_table('body_worn_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=True),
    sa.Column('cd_username', sa.String(length=256), nullable=True),
    sa.Column('profile_id', sa.Integer(), nullable=False),
    sa.Column('created_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['camera_profile.id'], name=op.f('fk_body_worn_user_profile_id_camera_profile'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_body_worn_user')),
    sa.UniqueConstraint('user_id', name=op.f('uq_body_worn_user_user_id')),
    sa.UniqueConstraint('uuid', name=op.f('uq_body_worn_user_uuid'))
    )
    with op.batch_alter_table('body_worn_user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_body_worn_user_profile_id'), ['profile_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('body_worn_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_body_worn_user_profile_id'))

    op.drop_table('body_worn_user')
    with op.batch_alter_table('cd_pending_object', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cd_pending_object_ref'))
        batch_op.drop_index(batch_op.f('ix_cd_pending_object_delivered_at'))

    op.drop_table('cd_pending_object')
    op.drop_table('camera_profile')
