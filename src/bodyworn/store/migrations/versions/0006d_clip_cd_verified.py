"""offload: whether the CD confirmed each clip it holds by its ETag

Revision ID: 0006d
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa


revision = "0006d"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('offload_clip', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cd_verified', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('offload_clip', schema=None) as batch_op:
        batch_op.drop_column('cd_verified')
