"""petition: query codes and ratings (PET-7), leader ownership (PET-3), risk assessments and the
watch list (PET-5), quotas, level-skipping records and accountability (PET-4)

Revision ID: petition_0002
Revises: petition_0001
Create Date: 2026-11-24 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "petition_0002"
down_revision = "petition_0001"
branch_labels = None
depends_on = None

TENANT = {"pingan_class": "tenant"}


def _key(table: str) -> list:
    return [sa.Column("tenant_id", sa.BigInteger(), nullable=False),
            sa.Column("id", sa.BigInteger(), nullable=False),
            sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], name=op.f(f"fk_{table}_tenant_id_tenant")),
            sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{table}"))]


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["tenant_id", column], [f"{target}.tenant_id", f"{target}.id"],
                                   name=op.f(f"fk_{table}_tenant_id_{column}_{target}"), ondelete=ondelete)


def upgrade() -> None:
    with op.batch_alter_table("petition_case") as batch:
        batch.add_column(sa.Column("query_code", sa.String(length=512), nullable=True))
        batch.add_column(sa.Column("query_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("rating", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("risk_grade", sa.String(length=8), nullable=True))
        batch.create_index("ix_petition_case_query", ["tenant_id", "query_hash"])

    op.create_table(
        "petition_leader", *_key("petition_leader"),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("leader_name", sa.String(length=50), nullable=False),
        sa.Column("leader_post", sa.String(length=100), nullable=False),
        sa.Column("leader_user_id", sa.BigInteger(), nullable=True),
        sa.Column("team", sa.JSON(), nullable=False),
        sa.Column("investigate", sa.Text(), nullable=False),
        sa.Column("handle", sa.Text(), nullable=False),
        sa.Column("stabilise", sa.Text(), nullable=False),
        sa.Column("assigned_by", sa.BigInteger(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dissolved_at", sa.DateTime(timezone=True), nullable=True),
        _fk("petition_leader", "case_id", "case_record", "CASCADE"),
        _fk("petition_leader", "leader_user_id", "app_user"),
        info=TENANT)
    op.create_index("ix_petition_leader_case", "petition_leader", ["tenant_id", "case_id"])

    op.create_table(
        "petition_risk", *_key("petition_risk"),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("grade", sa.String(length=8), nullable=False),
        sa.Column("opinion", sa.Text(), nullable=False),
        sa.Column("assessed_by", sa.BigInteger(), nullable=True),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        _fk("petition_risk", "case_id", "case_record", "CASCADE"),
        info=TENANT)
    op.create_index("ix_petition_risk_case", "petition_risk", ["tenant_id", "case_id"])

    op.create_table(
        "petition_watch", *_key("petition_watch"),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("org_unit_id", sa.BigInteger(), nullable=False),
        sa.Column("grade", sa.String(length=8), nullable=False),
        sa.Column("signs", sa.Text(), nullable=False),
        sa.Column("added_by", sa.BigInteger(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=500), nullable=True),
        _fk("petition_watch", "person_id", "person"),
        _fk("petition_watch", "org_unit_id", "org_unit"),
        info=TENANT)
    op.create_index("ix_petition_watch_unit", "petition_watch", ["tenant_id", "org_unit_id", "ended_at"])
    op.create_index("ix_petition_watch_person", "petition_watch", ["tenant_id", "person_id"])

    op.create_table(
        "petition_followup", *_key("petition_followup"),
        sa.Column("watch_id", sa.BigInteger(), nullable=False),
        sa.Column("task", sa.String(length=500), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("assignee_id", sa.BigInteger(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        _fk("petition_followup", "watch_id", "petition_watch", "CASCADE"),
        info=TENANT)
    op.create_index("ix_petition_followup_watch", "petition_followup", ["tenant_id", "watch_id"])

    op.create_table(
        "petition_quota", *_key("petition_quota"),
        sa.Column("org_unit_id", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=False),
        _fk("petition_quota", "org_unit_id", "org_unit"),
        sa.UniqueConstraint("tenant_id", "org_unit_id", "period", "kind",
                            name=op.f("uq_petition_quota_tenant_id_org_unit_id_period_kind")),
        info=TENANT)

    op.create_table(
        "petition_escalation", *_key("petition_escalation"),
        sa.Column("org_unit_id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=True),
        sa.Column("petitioner", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("abnormal", sa.Boolean(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("reported_by", sa.String(length=100), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.BigInteger(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        _fk("petition_escalation", "org_unit_id", "org_unit"),
        _fk("petition_escalation", "person_id", "person"),
        _fk("petition_escalation", "case_id", "case_record"),
        info=TENANT)
    op.create_index("ix_petition_escalation_period", "petition_escalation",
                    ["tenant_id", "period", "org_unit_id"])

    op.create_table(
        "petition_accountability", *_key("petition_accountability"),
        sa.Column("escalation_id", sa.BigInteger(), nullable=False),
        sa.Column("org_unit_id", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.Column("persons", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.BigInteger(), nullable=True),
        _fk("petition_accountability", "org_unit_id", "org_unit"),
        _fk("petition_accountability", "escalation_id", "petition_escalation"),
        sa.UniqueConstraint("tenant_id", "escalation_id", "org_unit_id", "kind",
                            name=op.f("uq_petition_accountability_tenant_id_escalation_id_org_unit_id_kind")),
        info=TENANT)
    op.create_index("ix_petition_accountability_unit", "petition_accountability",
                    ["tenant_id", "org_unit_id", "period"])


def downgrade() -> None:
    for table in ("petition_accountability", "petition_escalation", "petition_quota", "petition_followup",
                  "petition_watch", "petition_risk", "petition_leader"):
        op.drop_table(table)
    with op.batch_alter_table("petition_case") as batch:
        batch.drop_index("ix_petition_case_query")
        for column in ("risk_grade", "rated_at", "rating", "query_hash", "query_code"):
            batch.drop_column(column)
