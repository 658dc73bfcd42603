"""visits: visit requests, the example plugin's case type (visits.visit)

Revision ID: visits_0002
Revises: visits_0001
Create Date: 2026-11-23 19:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = "visits_0002"
down_revision = "visits_0001"
branch_labels = None
depends_on = "0003_cases"


def upgrade() -> None:
    op.create_table(
        "visits_visit",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("visit_kind", sa.String(length=16), nullable=False),
        sa.Column("result", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id", "case_id"], ["case_record.tenant_id", "case_record.id"],
                                name=op.f("fk_visits_visit_tenant_id_case_id_case_record"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], name=op.f("fk_visits_visit_tenant_id_tenant")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_visits_visit")),
        sa.UniqueConstraint("tenant_id", "case_id", name=op.f("uq_visits_visit_tenant_id_case_id")),
        info={"pingan_class": "tenant"},
    )


def downgrade() -> None:
    op.drop_table("visits_visit")
