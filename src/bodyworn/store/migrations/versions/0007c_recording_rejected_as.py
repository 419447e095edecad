"""offload: the rejected-content decision kept with its recording (one container after a restart)

Revision ID: 0007c
Revises: 0009
"""

from alembic import op
import sqlalchemy as sa

import bodyworn.store.types


revision = "0007c"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('offload_recording', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rejected_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('rejected_id', sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('offload_recording', schema=None) as batch_op:
        batch_op.drop_column('rejected_id')
        batch_op.drop_column('rejected_at')
