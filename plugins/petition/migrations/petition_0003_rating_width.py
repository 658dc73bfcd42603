"""petition: room for the longest rating key (``basically_satisfied``, 19 characters)

Revision ID: petition_0003
Revises: petition_0002
Create Date: 2026-11-24 01:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "petition_0003"
down_revision = "petition_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("petition_case") as batch:
        batch.alter_column("rating", type_=sa.String(length=24), existing_type=sa.String(length=16),
                           existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("petition_case") as batch:
        batch.alter_column("rating", type_=sa.String(length=16), existing_type=sa.String(length=24),
                           existing_nullable=True)
