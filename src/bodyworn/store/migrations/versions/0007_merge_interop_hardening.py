"""merge the interop (clip verified by the CD) and hardening (folded names, sealed secrets) branches

Revision ID: 0007
Revises: 0006d, 0006g_sealed_secrets
"""

revision = "0007"
down_revision = ("0006d", "0006g_sealed_secrets")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
