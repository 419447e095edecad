"""assistant pairings: users paired with AXIS Body Worn Assistant (QR code and PIN)

Revision ID: 0008a
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa
import bodyworn.store.types


revision = '0008a'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assistant_pairing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pairing_id', sa.String(length=32), nullable=False),
    sa.Column('user_uuid', sa.String(length=36), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('blocked_reason', sa.String(length=16), nullable=True),
    sa.Column('secret_sha256', sa.String(length=64), nullable=False),
    sa.Column('pin_verifier', sa.String(length=64), nullable=False),
    sa.Column('secret_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('pin_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('issued_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('device_key', sa.Text(), nullable=True),
    sa.Column('device_fingerprint', sa.String(length=64), nullable=True),
    sa.Column('paired_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paired_camera', sa.String(length=32), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.CheckConstraint("blocked_reason IS NULL OR blocked_reason IN ('wrong_pins', 'device_taken')", name=op.f('ck_assistant_pairing_blocked_reason')),
    sa.CheckConstraint("mode IN ('local', 'remote')", name=op.f('ck_assistant_pairing_mode')),
    sa.CheckConstraint("state IN ('pending', 'paired', 'blocked')", name=op.f('ck_assistant_pairing_state')),
    sa.ForeignKeyConstraint(['user_uuid'], ['body_worn_user.uuid'], name=op.f('fk_assistant_pairing_user_uuid_body_worn_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assistant_pairing')),
    sa.UniqueConstraint('device_fingerprint', name=op.f('uq_assistant_pairing_device_fingerprint')),
    sa.UniqueConstraint('pairing_id', name=op.f('uq_assistant_pairing_pairing_id'))
    )
    with op.batch_alter_table('assistant_pairing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assistant_pairing_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_assistant_pairing_user_uuid'), ['user_uuid'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('assistant_pairing', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assistant_pairing_user_uuid'))
        batch_op.drop_index(batch_op.f('ix_assistant_pairing_state'))

    op.drop_table('assistant_pairing')
