"""backup: the system backup's settings, key and last outcome

Revision ID: 0010b
Revises: 0007c
"""

from alembic import op
import sqlalchemy as sa
import bodyworn.store.types


revision = "0010b"
down_revision = "0007c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('backup_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target', sa.String(length=1024), nullable=False),
    sa.Column('interval_hours', sa.Float(), nullable=False),
    sa.Column('key_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('salt', sa.LargeBinary(), nullable=False),
    sa.Column('kdf_iterations', sa.Integer(), nullable=False),
    sa.Column('kdf_lanes', sa.Integer(), nullable=False),
    sa.Column('kdf_memory_kib', sa.Integer(), nullable=False),
    sa.Column('last_attempt_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_size', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('failing', sa.Boolean(), nullable=False),
    sa.Column('updated_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_backup_settings_single_row')),
    sa.CheckConstraint('interval_hours >= 1 AND interval_hours <= 168', name=op.f('ck_backup_settings_interval')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backup_settings'))
    )


def downgrade() -> None:
    op.drop_table('backup_settings')
