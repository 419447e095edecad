"""devices: docking stations, cameras, self-assign tags and windows, holster pairings

Revision ID: 0004_devices
Revises: 0003
Create Date: 2026-11-27 08:10:31.981765
"""

from alembic import op
import sqlalchemy as sa
import bodyworn.store.types


revision = "0004_devices"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assignment_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shift_hours', sa.Float(), nullable=False),
    sa.Column('firmware', sa.String(length=32), nullable=True),
    sa.CheckConstraint('id = 1', name=op.f('ck_assignment_settings_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment_settings'))
    )
    op.create_table('docking_station',
    sa.Column('serial', sa.String(length=32), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('bays', sa.Integer(), nullable=False),
    sa.Column('station_url', sa.String(length=512), nullable=False),
    sa.Column('first_seen_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_event_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('serial', name=op.f('pk_docking_station'))
    )
    op.create_table('camera',
    sa.Column('serial', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('firmware', sa.String(length=32), nullable=False),
    sa.Column('user_uuid', sa.String(length=36), nullable=True),
    sa.Column('docked', sa.Boolean(), nullable=False),
    sa.Column('station_serial', sa.String(length=32), nullable=True),
    sa.Column('bay', sa.Integer(), nullable=True),
    sa.Column('camera_url', sa.String(length=512), nullable=True),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('info_json', sa.Text(), nullable=False),
    sa.Column('seen_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('added_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('new', 'added', 'removing')", name=op.f('ck_camera_state')),
    sa.ForeignKeyConstraint(['user_uuid'], ['body_worn_user.uuid'], name=op.f('fk_camera_user_uuid_body_worn_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('serial', name=op.f('pk_camera'))
    )
    with op.batch_alter_table('camera', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_camera_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_camera_user_uuid'), ['user_uuid'], unique=False)

    op.create_table('holster_pairing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_uuid', sa.String(length=36), nullable=False),
    sa.Column('sensor_serial', sa.String(length=6), nullable=False),
    sa.Column('camera_serial', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('pending', 'paired', 'failed')", name=op.f('ck_holster_pairing_state')),
    sa.ForeignKeyConstraint(['user_uuid'], ['body_worn_user.uuid'], name=op.f('fk_holster_pairing_user_uuid_body_worn_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holster_pairing')),
    sa.UniqueConstraint('sensor_serial', name=op.f('uq_holster_pairing_sensor_serial'))
    )
    with op.batch_alter_table('holster_pairing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_holster_pairing_user_uuid'), ['user_uuid'], unique=False)

    op.create_table('self_assign_tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(length=64), nullable=False),
    sa.Column('user_uuid', sa.String(length=36), nullable=False),
    sa.Column('created_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_uuid'], ['body_worn_user.uuid'], name=op.f('fk_self_assign_tag_user_uuid_body_worn_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_self_assign_tag')),
    sa.UniqueConstraint('tag', name=op.f('uq_self_assign_tag_tag')),
    sa.UniqueConstraint('user_uuid', name=op.f('uq_self_assign_tag_user_uuid'))
    )
    op.create_table('self_assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('camera_serial', sa.String(length=32), nullable=False),
    sa.Column('user_uuid', sa.String(length=36), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('tapped_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'taken', 'lapsed', 'returned')", name=op.f('ck_self_assignment_state')),
    sa.ForeignKeyConstraint(['user_uuid'], ['body_worn_user.uuid'], name=op.f('fk_self_assignment_user_uuid_body_worn_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_self_assignment'))
    )
    with op.batch_alter_table('self_assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_self_assignment_camera_serial'), ['camera_serial'], unique=False)
        batch_op.create_index(batch_op.f('ix_self_assignment_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_self_assignment_user_uuid'), ['user_uuid'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('self_assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_self_assignment_user_uuid'))
        batch_op.drop_index(batch_op.f('ix_self_assignment_state'))
        batch_op.drop_index(batch_op.f('ix_self_assignment_camera_serial'))

    op.drop_table('self_assignment')
    op.drop_table('self_assign_tag')
    with op.batch_alter_table('holster_pairing', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_holster_pairing_user_uuid'))

    op.drop_table('holster_pairing')
    with op.batch_alter_table('camera', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_camera_user_uuid'))
        batch_op.drop_index(batch_op.f('ix_camera_state'))

    op.drop_table('camera')
    op.drop_table('docking_station')
    op.drop_table('assignment_settings')
