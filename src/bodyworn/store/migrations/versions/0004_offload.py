"""offload: transfer state per recording and clip

Revision ID: 0004_offload
Revises: 0003
Create Date: 2026-11-27 08:11:17.505343
"""

from alembic import op
import sqlalchemy as sa
import bodyworn.store.types


revision = "0004_offload"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('offload_recording',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.String(length=128), nullable=False),
    sa.Column('camera_serial', sa.String(length=64), nullable=False),
    sa.Column('manifest_json', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('container', sa.String(length=256), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offload_recording')),
    sa.UniqueConstraint('recording_id', name=op.f('uq_offload_recording_recording_id'))
    )
    with op.batch_alter_table('offload_recording', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offload_recording_camera_serial'), ['camera_serial'], unique=False)
        batch_op.create_index(batch_op.f('ix_offload_recording_completed_at'), ['completed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_offload_recording_state'), ['state'], unique=False)

    op.create_table('offload_clip',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recording_pk', sa.Integer(), nullable=False),
    sa.Column('camera_serial', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('md5', sa.String(length=32), nullable=True),
    sa.Column('start', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('in_spool_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('released_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('at_cd_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('spool_removed_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['recording_pk'], ['offload_recording.id'], name=op.f('fk_offload_clip_recording_pk_offload_recording'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offload_clip')),
    sa.UniqueConstraint('name', name=op.f('uq_offload_clip_name'))
    )
    with op.batch_alter_table('offload_clip', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offload_clip_camera_serial'), ['camera_serial'], unique=False)
        batch_op.create_index(batch_op.f('ix_offload_clip_recording_pk'), ['recording_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_offload_clip_state'), ['state'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('offload_clip', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offload_clip_state'))
        batch_op.drop_index(batch_op.f('ix_offload_clip_recording_pk'))
        batch_op.drop_index(batch_op.f('ix_offload_clip_camera_serial'))

    op.drop_table('offload_clip')
    with op.batch_alter_table('offload_recording', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offload_recording_state'))
        batch_op.drop_index(batch_op.f('ix_offload_recording_completed_at'))
        batch_op.drop_index(batch_op.f('ix_offload_recording_camera_serial'))

    op.drop_table('offload_recording')
