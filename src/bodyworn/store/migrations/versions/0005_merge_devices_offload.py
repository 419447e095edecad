"""merge the devices and offload branches (written side by side from 0003)

Revision ID: 0005
Revises: 0004_devices, 0004_offload
"""

revision = "0005"
down_revision = ("0004_devices", "0004_offload")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
