"""offload: a recording's own failures in a row, apart from its attempts (prompt recovery)

Revision ID: 0010r
Revises: 0007c
"""

from alembic import op
import sqlalchemy as sa


revision = "0010r"
down_revision = "0010i"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('offload_recording', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failures', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('offload_recording', schema=None) as batch_op:
        batch_op.drop_column('failures')
