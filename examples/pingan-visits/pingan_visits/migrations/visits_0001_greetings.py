"""visits: greetings and the job's tallies

The plugin's own Alembic branch (label ``visits``), run by ``pingan db upgrade`` with the
core's. ``depends_on`` names the core revision that created ``tenant``, ``org_unit`` and
``app_user``, which these tables refer to. tenant_id leads every key.

Revision ID: visits_0001
Revises:
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "visits_0001"
down_revision = None
branch_labels = ("visits",)
depends_on = "0001_core"


def upgrade() -> None:
    op.create_table(
        "visits_greeting",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("org_unit_id", sa.BigInteger(), nullable=False),
        sa.Column("recipient", sa.String(length=50), nullable=False),
        sa.Column("message", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], name=op.f("fk_visits_greeting_tenant_id_tenant")),
        sa.ForeignKeyConstraint(["tenant_id", "org_unit_id"], ["org_unit.tenant_id", "org_unit.id"],
                                name=op.f("fk_visits_greeting_tenant_id_org_unit_id_org_unit")),
        sa.ForeignKeyConstraint(["tenant_id", "created_by_id"], ["app_user.tenant_id", "app_user.id"],
                                name=op.f("fk_visits_greeting_tenant_id_created_by_id_app_user")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_visits_greeting")),
        info={"pingan_class": "tenant"},
    )
    with op.batch_alter_table("visits_greeting", schema=None) as batch_op:
        batch_op.create_index("ix_visits_greeting_unit", ["tenant_id", "org_unit_id", "created_at"], unique=False)
    op.create_table(
        "visits_tally",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("greetings", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], name=op.f("fk_visits_tally_tenant_id_tenant")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_visits_tally")),
        info={"pingan_class": "tenant"},
    )


def downgrade() -> None:
    op.drop_table("visits_tally")
    with op.batch_alter_table("visits_greeting", schema=None) as batch_op:
        batch_op.drop_index("ix_visits_greeting_unit")
    op.drop_table("visits_greeting")
