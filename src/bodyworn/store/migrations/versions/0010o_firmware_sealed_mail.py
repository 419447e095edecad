"""firmware installs (signed bundles kept in the data dir); mail whose content is sealed;
the address a Remote Assistant pairing was mailed to

Revision ID: 0010o
Revises: 0007c
"""

from alembic import op
import sqlalchemy as sa

import bodyworn.store.types


revision = "0010o"
down_revision = "0010r"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('firmware_install',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('file_name', sa.String(length=128), nullable=False),
    sa.Column('bundle_sha256', sa.String(length=64), nullable=False),
    sa.Column('manifest_json', sa.Text(), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('installed_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('installed_by', sa.String(length=64), nullable=False),
    sa.Column('during_setup', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_firmware_install'))
    )
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed', sa.LargeBinary(), nullable=True))
    with op.batch_alter_table('assistant_pairing', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mailed_to', sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('assistant_pairing', schema=None) as batch_op:
        batch_op.drop_column('mailed_to')
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.drop_column('sealed')

    op.drop_table('firmware_install')
