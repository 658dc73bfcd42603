"""hello: the greetings register

The plugin's own Alembic branch (label ``hello``); ``depends_on`` names the core revision that
created ``tenant``, ``org_unit`` and ``app_user``. The columns of ``sdk.RegisterRecord`` first,
then the module's own; tenant_id leads every key.

Revision ID: hello_0001
Revises:
Create Date: 2026-12-06 21:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "hello_0001"
down_revision = None
branch_labels = ("hello",)
depends_on = "0001_core"


def upgrade() -> None:
    op.create_table(
        "hello_greeting",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("org_unit_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.BigInteger(), nullable=True),
        sa.Column("recipient", sa.String(length=50), nullable=False),
        sa.Column("message", sa.String(length=200), nullable=False),
        sa.Column("reply", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], name=op.f("fk_hello_greeting_tenant_id_tenant")),
        sa.ForeignKeyConstraint(["tenant_id", "org_unit_id"], ["org_unit.tenant_id", "org_unit.id"],
                                name=op.f("fk_hello_greeting_tenant_id_org_unit_id_org_unit")),
        sa.ForeignKeyConstraint(["tenant_id", "created_by_id"], ["app_user.tenant_id", "app_user.id"],
                                name=op.f("fk_hello_greeting_tenant_id_created_by_id_app_user")),
        sa.ForeignKeyConstraint(["tenant_id", "closed_by_id"], ["app_user.tenant_id", "app_user.id"],
                                name=op.f("fk_hello_greeting_tenant_id_closed_by_id_app_user")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_hello_greeting")),
        info={"pingan_class": "tenant"},
    )
    with op.batch_alter_table("hello_greeting", schema=None) as batch_op:
        batch_op.create_index("ix_hello_greeting_unit", ["tenant_id", "org_unit_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("hello_greeting", schema=None) as batch_op:
        batch_op.drop_index("ix_hello_greeting_unit")
    op.drop_table("hello_greeting")
