"""integrity: the system's binding state and certificate, camera certificates, audit anchors

Revision ID: 0010i
Revises: 0010b
"""

from alembic import op
import sqlalchemy as sa
import bodyworn.store.types


revision = "0010i"
down_revision = "0010b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_anchor',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('from_id', sa.Integer(), nullable=False),
    sa.Column('to_id', sa.Integer(), nullable=False),
    sa.Column('head_hash', sa.String(length=64), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.Column('created_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('stored_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_anchor'))
    )
    op.create_table('camera_certificate',
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('certificate_pem', sa.LargeBinary(), nullable=False),
    sa.Column('key_sha256', sa.String(length=64), nullable=False),
    sa.Column('issued_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('serial', name=op.f('pk_camera_certificate'))
    )
    op.create_table('integrity_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.String(length=100), nullable=False),
    sa.Column('certificate_pem', sa.LargeBinary(), nullable=False),
    sa.Column('bound_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', bodyworn.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_integrity_state_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integrity_state'))
    )


def downgrade() -> None:
    op.drop_table('integrity_state')
    op.drop_table('camera_certificate')
    op.drop_table('audit_anchor')
