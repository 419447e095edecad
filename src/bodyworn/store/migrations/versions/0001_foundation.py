"""foundation: system, identity, accounts, audit, content destination

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27 07:21:03.015106
"""

from alembic import op
import sqlalchemy as sa
import bodyworn.store.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', bodyworn.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('password_changed_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account')),
    sa.UniqueConstraint('username', name=op.f('uq_account_username'))
    )
    op.create_table('audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry')),
    sa.UniqueConstraint('entry_hash', name=op.f('uq_audit_entry_entry_hash'))
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entry_at'), ['at'], unique=False)

    op.create_table('content_destination',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('raw_json', sa.Text(), nullable=False),
    sa.Column('site_name', sa.String(length=64), nullable=False),
    sa.Column('application_name', sa.String(length=256), nullable=False),
    sa.Column('full_store_and_read', sa.Boolean(), nullable=False),
    sa.Column('want_encryption', sa.Boolean(), nullable=False),
    sa.Column('updated_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_content_destination_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content_destination'))
    )
    op.create_table('system_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('system_id', sa.String(length=36), nullable=False),
    sa.Column('private_key_pem', sa.LargeBinary(), nullable=False),
    sa.Column('public_key_pem', sa.LargeBinary(), nullable=False),
    sa.Column('passphrase_hash', sa.String(length=255), nullable=False),
    sa.Column('created_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_system_identity_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_system_identity')),
    sa.UniqueConstraint('system_id', name=op.f('uq_system_identity_system_id'))
    )
    op.create_table('system_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('system_id', sa.String(length=36), nullable=False),
    sa.Column('system_name', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('time_mode', sa.String(length=8), nullable=False),
    sa.Column('ntp_server', sa.String(length=255), nullable=True),
    sa.Column('ntp_fallback_server', sa.String(length=255), nullable=True),
    sa.Column('manual_offset_seconds', sa.Double(), nullable=False),
    sa.Column('listen_host', sa.String(length=255), nullable=False),
    sa.Column('listen_port', sa.Integer(), nullable=False),
    sa.Column('cloud_extensions', sa.Boolean(), nullable=False),
    sa.Column('cloud_location', sa.String(length=32), nullable=True),
    sa.Column('power_line_frequency', sa.Integer(), nullable=False),
    sa.Column('camera_assignment', sa.String(length=16), nullable=False),
    sa.Column('usage_data_consent', sa.Boolean(), nullable=False),
    sa.Column('created_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("camera_assignment IN ('fixed', 'self-assign')", name=op.f('ck_system_settings_camera_assignment')),
    sa.CheckConstraint("time_mode IN ('ntp', 'manual')", name=op.f('ck_system_settings_time_mode')),
    sa.CheckConstraint('id = 1', name=op.f('ck_system_settings_single_row')),
    sa.CheckConstraint('power_line_frequency IN (50, 60)', name=op.f('ck_system_settings_power_line_frequency')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_system_settings')),
    sa.UniqueConstraint('system_id', name=op.f('uq_system_settings_system_id'))
    )
    op.create_table('web_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('created_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_web_session_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_web_session_token_hash'))
    )
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_session_account_id'), ['account_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_session_account_id'))

    op.drop_table('web_session')
    op.drop_table('system_settings')
    op.drop_table('system_identity')
    op.drop_table('content_destination')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entry_at'))

    op.drop_table('audit_entry')
    op.drop_table('account')
