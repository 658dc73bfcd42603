"""mediation: disputes, parties, tiers, sessions, agreements, follow-ups, referrals,
screening reports and the three ledgers

The plugin's Alembic branch (label ``mediation``); ``depends_on`` the core revision that
created ``case_record``. tenant_id leads every key.

Revision ID: mediation_0001
Revises:
Create Date: 2026-11-24 03:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "mediation_0001"
down_revision = None
branch_labels = ("mediation",)
depends_on = "0003_cases"


def upgrade() -> None:
    op.create_table('mediation_screening',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('org_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('period', sa.String(length=12), nullable=False),
    sa.Column('cadence', sa.String(length=16), nullable=False),
    sa.Column('nil', sa.Boolean(), nullable=False),
    sa.Column('found', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('filed_by', sa.BigInteger(), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'filed_by'], ['app_user.tenant_id', 'app_user.id'], name=op.f('fk_mediation_screening_tenant_id_filed_by_app_user')),
    sa.ForeignKeyConstraint(['tenant_id', 'org_unit_id'], ['org_unit.tenant_id', 'org_unit.id'], name=op.f('fk_mediation_screening_tenant_id_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_mediation_screening_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_mediation_screening')),
    sa.UniqueConstraint('tenant_id', 'org_unit_id', 'period', name=op.f('uq_mediation_screening_tenant_id_org_unit_id_period')),
    info={'pingan_class': 'tenant'}
    )
    op.create_index('ix_mediation_screening_period', 'mediation_screening', ['tenant_id', 'period'], unique=False)
    op.create_table('mediation_agreement',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('form', sa.String(length=8), nullable=False),
    sa.Column('facts', sa.Text(), nullable=False),
    sa.Column('issues', sa.Text(), nullable=False),
    sa.Column('responsibility', sa.Text(), nullable=False),
    sa.Column('terms', sa.Text(), nullable=False),
    sa.Column('performance', sa.Text(), nullable=False),
    sa.Column('performance_due', sa.Date(), nullable=True),
    sa.Column('mediator', sa.String(length=50), nullable=False),
    sa.Column('committee', sa.String(length=100), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('copies', sa.Integer(), nullable=False),
    sa.Column('performed', sa.String(length=16), nullable=False),
    sa.Column('confirmation', sa.String(length=16), nullable=False),
    sa.Column('confirmation_court', sa.String(length=100), nullable=False),
    sa.Column('confirmation_applied_on', sa.Date(), nullable=True),
    sa.Column('confirmation_decided_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_mediation_agreement_tenant_id_case_id_case_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_mediation_agreement_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_mediation_agreement')),
    sa.UniqueConstraint('tenant_id', 'case_id', name=op.f('uq_mediation_agreement_tenant_id_case_id')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('mediation_dispute',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('dispute_type', sa.String(length=32), nullable=False),
    sa.Column('people_involved', sa.Integer(), nullable=False),
    sa.Column('risk_grade', sa.String(length=8), nullable=False),
    sa.Column('may_turn_criminal', sa.Boolean(), nullable=False),
    sa.Column('may_become_mass', sa.Boolean(), nullable=False),
    sa.Column('emergency', sa.Boolean(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reported_late', sa.Boolean(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=True),
    sa.Column('tier', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('outcome_note', sa.Text(), nullable=False),
    sa.Column('screening_id', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_mediation_dispute_tenant_id_case_id_case_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_mediation_dispute_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_mediation_dispute')),
    sa.UniqueConstraint('tenant_id', 'case_id', name=op.f('uq_mediation_dispute_tenant_id_case_id')),
    info={'pingan_class': 'tenant'}
    )
    op.create_index('ix_mediation_dispute_type', 'mediation_dispute', ['tenant_id', 'dispute_type', 'case_id'], unique=False)
    op.create_table('mediation_followup',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('performed', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_mediation_followup_tenant_id_case_id_case_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_mediation_followup_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_mediation_followup')),
    info={'pingan_class': 'tenant'}
    )
    op.create_index('ix_mediation_followup_case', 'mediation_followup', ['tenant_id', 'case_id'], unique=False)
    op.create_table('mediation_party',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('person_id', sa.BigInteger(), nullable=False),
    sa.Column('side', sa.String(length=16), nullable=False),
    sa.Column('organisation', sa.Boolean(), nullable=False),
    sa.Column('consent', sa.String(length=16), nullable=False),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_mediation_party_tenant_id_case_id_case_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'person_id'], ['person.tenant_id', 'person.id'], name=op.f('fk_mediation_party_tenant_id_person_id_person')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_mediation_party_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_mediation_party')),
    sa.UniqueConstraint('tenant_id', 'case_id', 'person_id', name=op.f('uq_mediation_party_tenant_id_case_id_person_id')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('mediation_referral',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('direction', sa.String(length=4), nullable=False),
    sa.Column('from_kind', sa.String(length=16), nullable=False),
    sa.Column('to_kind', sa.String(length=16), nullable=False),
    sa.Column('from_body', sa.String(length=100), nullable=False),
    sa.Column('to_body', sa.String(length=100), nullable=False),
    sa.Column('document', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('referred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('outcome_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_mediation_referral_tenant_id_case_id_case_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_mediation_referral_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_mediation_referral')),
    info={'pingan_class': 'tenant'}
    )
    op.create_index('ix_mediation_referral_at', 'mediation_referral', ['tenant_id', 'referred_at'], unique=False)
    op.create_index('ix_mediation_referral_case', 'mediation_referral', ['tenant_id', 'case_id'], unique=False)
    op.create_table('mediation_register',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('org_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('found_on', sa.Date(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('measures', sa.Text(), nullable=False),
    sa.Column('responsible', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('resolved_on', sa.Date(), nullable=True),
    sa.Column('case_id', sa.BigInteger(), nullable=True),
    sa.Column('created_by', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_mediation_register_tenant_id_case_id_case_record')),
    sa.ForeignKeyConstraint(['tenant_id', 'org_unit_id'], ['org_unit.tenant_id', 'org_unit.id'], name=op.f('fk_mediation_register_tenant_id_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_mediation_register_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_mediation_register')),
    info={'pingan_class': 'tenant'}
    )
    op.create_index('ix_mediation_register_kind', 'mediation_register', ['tenant_id', 'kind', 'found_on'], unique=False)
    op.create_table('mediation_session',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=100), nullable=False),
    sa.Column('mediators', sa.String(length=200), nullable=False),
    sa.Column('participants', sa.String(length=500), nullable=False),
    sa.Column('record', sa.Text(), nullable=False),
    sa.Column('created_by', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_mediation_session_tenant_id_case_id_case_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_mediation_session_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_mediation_session')),
    info={'pingan_class': 'tenant'}
    )
    op.create_index('ix_mediation_session_case', 'mediation_session', ['tenant_id', 'case_id'], unique=False)
    op.create_table('mediation_tier_step',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('tier', sa.String(length=32), nullable=False),
    sa.Column('org_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('holders', sa.String(length=300), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('escalated_by', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_mediation_tier_step_tenant_id_case_id_case_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'org_unit_id'], ['org_unit.tenant_id', 'org_unit.id'], name=op.f('fk_mediation_tier_step_tenant_id_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_mediation_tier_step_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_mediation_tier_step')),
    info={'pingan_class': 'tenant'}
    )
    op.create_index('ix_mediation_tier_step_case', 'mediation_tier_step', ['tenant_id', 'case_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_mediation_tier_step_case', table_name='mediation_tier_step')
    op.drop_index('ix_mediation_session_case', table_name='mediation_session')
    op.drop_index('ix_mediation_register_kind', table_name='mediation_register')
    op.drop_index('ix_mediation_referral_case', table_name='mediation_referral')
    op.drop_index('ix_mediation_referral_at', table_name='mediation_referral')
    op.drop_index('ix_mediation_followup_case', table_name='mediation_followup')
    op.drop_index('ix_mediation_dispute_type', table_name='mediation_dispute')
    op.drop_index('ix_mediation_screening_period', table_name='mediation_screening')
    op.drop_table('mediation_tier_step')
    op.drop_table('mediation_session')
    op.drop_table('mediation_register')
    op.drop_table('mediation_referral')
    op.drop_table('mediation_party')
    op.drop_table('mediation_followup')
    op.drop_table('mediation_dispute')
    op.drop_table('mediation_agreement')
    op.drop_table('mediation_screening')
