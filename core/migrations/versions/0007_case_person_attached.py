"""who attached a person to a case, when, and on what basis (issue 14, finding 6)

``person.created_by``: the user who registered the person (their data typed by that user).
``case_person.attached_by`` / ``attached_at`` / ``pii_basis``: who attached the person to
the case and when, and why the case type's PII permission may reveal them — ``entered``
(the attaching user registered the person), ``pii`` (the attaching user could read the
person's personal data there), ``system`` (an import or job). NULL: attached by a user who
could not read them — the case type's PII permission does not reveal that person. Rows
attached before this migration stay NULL: their basis is unknown, so they are revealed only
to holders of ``core.person.pii.read`` on the person's unit.

Revision ID: 0007_case_person_attached
Revises: 0006_national_calendar
Create Date: 2026-12-06 05:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_case_person_attached'
down_revision = '0006_national_calendar'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('case_person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attached_by', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('attached_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pii_basis', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('case_person', schema=None) as batch_op:
        batch_op.drop_column('pii_basis')
        batch_op.drop_column('attached_at')
        batch_op.drop_column('attached_by')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('created_by')
