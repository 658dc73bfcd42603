"""petition: the module's own fields of each petition

The plugin's Alembic branch (label ``petition``); ``depends_on`` the core revision that
created ``case_record``. tenant_id leads every key.

Revision ID: petition_0001
Revises:
Create Date: 2026-11-23 23:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "petition_0001"
down_revision = None
branch_labels = ("petition",)
depends_on = "0003_cases"


def upgrade() -> None:
    op.create_table(
        "petition_case",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("form", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("demands", sa.Text(), nullable=False),
        sa.Column("visitors", sa.Integer(), nullable=False),
        sa.Column("procedure", sa.String(length=16), nullable=True),
        sa.Column("first_inquiry", sa.String(length=100), nullable=False),
        sa.Column("repeat_of_id", sa.BigInteger(), nullable=True),
        sa.Column("repeat_count", sa.Integer(), nullable=False),
        sa.Column("override_reason", sa.String(length=500), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "case_id"], ["case_record.tenant_id", "case_record.id"],
                                name=op.f("fk_petition_case_tenant_id_case_id_case_record"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id", "repeat_of_id"], ["case_record.tenant_id", "case_record.id"],
                                name=op.f("fk_petition_case_tenant_id_repeat_of_id_case_record")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], name=op.f("fk_petition_case_tenant_id_tenant")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_petition_case")),
        sa.UniqueConstraint("tenant_id", "case_id", name=op.f("uq_petition_case_tenant_id_case_id")),
        info={"pingan_class": "tenant"},
    )
    op.create_index("ix_petition_case_category", "petition_case", ["tenant_id", "category", "case_id"])


def downgrade() -> None:
    op.drop_index("ix_petition_case_category", table_name="petition_case")
    op.drop_table("petition_case")
