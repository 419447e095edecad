"""merge the assistant pairing and operations (mail, certificates, tokens, metrics) branches

Revision ID: 0009
Revises: 0008a, 0008n
"""

revision = "0009"
down_revision = ("0008a", "0008n")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
