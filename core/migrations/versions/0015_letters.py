"""responsibility letters (责任书): ``letter`` and ``letter_kind_config``

The core's responsibility-letter capability (issues 17, 18, 22; ``core.letters``): one letter per
(kind, year, signing party), issued by a unit, signed or withdrawn; and the county's own text and
reminder day of each kind. Tenant tables, ``tenant_id`` first in every key; grants, row-level
security and the Citus distribution come from ``core.db.secure_schema`` and ``core.citus`` like
every tenant table's.

Revision ID: 0015_letters
Revises: 0014_case_tally_month
Create Date: 2026-12-06 21:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0015_letters'
down_revision = '0014_case_tally_month'
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['tenant_id', column], [f'{target}.tenant_id', f'{target}.id'],
                                   name=op.f(f'fk_{table}_tenant_id_{column}_{target}'))


def upgrade() -> None:
    op.create_table(
        'letter_kind_config',
        sa.Column('tenant_id', sa.BigInteger(), nullable=False),
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.String(length=64), nullable=False),
        sa.Column('paragraphs', sa.Text(), nullable=True),
        sa.Column('remind_month', sa.Integer(), nullable=True),
        sa.Column('remind_day', sa.Integer(), nullable=True),
        sa.Column('remind_every_days', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_letter_kind_config_tenant_id_tenant')),
        sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_letter_kind_config')),
        sa.UniqueConstraint('tenant_id', 'kind', name=op.f('uq_letter_kind_config_tenant_id_kind')),
        info={'pingan_class': 'tenant'})
    op.create_table(
        'letter',
        sa.Column('tenant_id', sa.BigInteger(), nullable=False),
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.String(length=64), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('org_unit_id', sa.BigInteger(), nullable=False),
        sa.Column('issuing_unit_id', sa.BigInteger(), nullable=False),
        sa.Column('party_kind', sa.String(length=16), nullable=False),
        sa.Column('party_id', sa.BigInteger(), nullable=False),
        sa.Column('party_unit_id', sa.BigInteger(), nullable=True),
        sa.Column('party_member_unit_id', sa.BigInteger(), nullable=True),
        sa.Column('party_person_id', sa.BigInteger(), nullable=True),
        sa.Column('party_name', sa.String(length=100), nullable=False),
        sa.Column('counterparty', sa.String(length=100), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.BigInteger(), nullable=True),
        sa.Column('signed_on', sa.Date(), nullable=True),
        sa.Column('signed_by_id', sa.BigInteger(), nullable=True),
        sa.Column('scan_key', sa.String(length=100), nullable=True),
        sa.Column('scan_filename', sa.String(length=200), nullable=True),
        sa.Column('scan_content_type', sa.String(length=100), nullable=True),
        sa.Column('scan_size', sa.BigInteger(), nullable=True),
        sa.Column('scan_sha256', sa.String(length=64), nullable=True),
        sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('withdrawn_by_id', sa.BigInteger(), nullable=True),
        sa.Column('withdraw_reason', sa.String(length=500), nullable=True),
        sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
        _fk('letter', 'created_by_id', 'app_user'), _fk('letter', 'issuing_unit_id', 'org_unit'),
        _fk('letter', 'org_unit_id', 'org_unit'), _fk('letter', 'party_member_unit_id', 'member_unit'),
        _fk('letter', 'party_person_id', 'person'), _fk('letter', 'party_unit_id', 'org_unit'),
        _fk('letter', 'signed_by_id', 'app_user'), _fk('letter', 'withdrawn_by_id', 'app_user'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_letter_tenant_id_tenant')),
        sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_letter')),
        sa.UniqueConstraint('tenant_id', 'kind', 'year', 'party_kind', 'party_id',
                            name=op.f('uq_letter_tenant_id_kind_year_party_kind_party_id')),
        info={'pingan_class': 'tenant'})
    op.create_index('ix_letter_issuing', 'letter', ['tenant_id', 'issuing_unit_id', 'year', 'status'], unique=False)
    op.create_index('ix_letter_unit', 'letter', ['tenant_id', 'org_unit_id', 'year'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_letter_unit', table_name='letter')
    op.drop_index('ix_letter_issuing', table_name='letter')
    op.drop_table('letter')
    op.drop_table('letter_kind_config')
