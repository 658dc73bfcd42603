"""cases: the case engine, outbox, notifications, long jobs (issue 3)

Cases with their timeline, tasks (分/合), time limits, extensions, supervision and
reminders; the one-window intake; per-county case settings and calendar overrides;
attachments; the transactional outbox, the inbox and long-job progress; users' e-mail
addresses for notifications. tenant_id leads every key. Partial indexes cover open work
only (due times), so the sweep and the dashboard grow with the open cases, not the archive.

Revision ID: 0003_cases
Revises: 0002_oauth
Create Date: 2026-11-23 19:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_cases'
down_revision = '0002_oauth'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_day',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('is_workday', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_calendar_day_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_calendar_day')),
    sa.UniqueConstraint('tenant_id', 'day', name=op.f('uq_calendar_day_tenant_id_day')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('calendar_year',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_calendar_year_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_calendar_year')),
    sa.UniqueConstraint('tenant_id', 'year', name=op.f('uq_calendar_year_tenant_id_year')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('case_counter',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_type', sa.String(length=64), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_case_counter_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_case_counter')),
    sa.UniqueConstraint('tenant_id', 'case_type', 'year', name=op.f('uq_case_counter_tenant_id_case_type_year')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('case_tally',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('org_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('case_type', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_case_tally_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_case_tally')),
    sa.UniqueConstraint('tenant_id', 'org_unit_id', 'case_type', 'state', name=op.f('uq_case_tally_tenant_id_org_unit_id_case_type_state')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('case_type_setting',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_type', sa.String(length=64), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_case_type_setting_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_case_type_setting')),
    sa.UniqueConstraint('tenant_id', 'case_type', name=op.f('uq_case_type_setting_tenant_id_case_type')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('outbox',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('job', sa.String(length=200), nullable=False),
    sa.Column('kwargs', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_outbox_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('tenant_id', 'key', name=op.f('uq_outbox_tenant_id_key')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_pending', ['tenant_id', 'enqueued_at'], unique=False, postgresql_where=sa.text("state = 'pending'"), sqlite_where=sa.text("state = 'pending'"))

    op.create_table('case_record',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_type', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('org_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('handling_unit_id', sa.BigInteger(), nullable=True),
    sa.Column('handler_id', sa.BigInteger(), nullable=True),
    sa.Column('intake_id', sa.BigInteger(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('search_grams', sa.Text(), nullable=False),
    sa.Column('created_by', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'created_by'], ['app_user.tenant_id', 'app_user.id'], name=op.f('fk_case_record_tenant_id_created_by_app_user')),
    sa.ForeignKeyConstraint(['tenant_id', 'handler_id'], ['app_user.tenant_id', 'app_user.id'], name=op.f('fk_case_record_tenant_id_handler_id_app_user')),
    sa.ForeignKeyConstraint(['tenant_id', 'handling_unit_id'], ['org_unit.tenant_id', 'org_unit.id'], name=op.f('fk_case_record_tenant_id_handling_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['tenant_id', 'org_unit_id'], ['org_unit.tenant_id', 'org_unit.id'], name=op.f('fk_case_record_tenant_id_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_case_record_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_case_record')),
    sa.UniqueConstraint('tenant_id', 'number', name=op.f('uq_case_record_tenant_id_number')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.create_index('ix_case_record_created', ['tenant_id', 'created_at'], unique=False)
        batch_op.create_index('ix_case_record_handling', ['tenant_id', 'handling_unit_id'], unique=False)
        batch_op.create_index('ix_case_record_open_due', ['tenant_id', 'due_at'], unique=False, postgresql_where=sa.text('closed_at IS NULL'), sqlite_where=sa.text('closed_at IS NULL'))
        batch_op.create_index('ix_case_record_type', ['tenant_id', 'case_type', 'created_at'], unique=False)
        batch_op.create_index('ix_case_record_unit', ['tenant_id', 'org_unit_id', 'created_at'], unique=False)

    op.create_table('job_run',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('result_key', sa.String(length=100), nullable=True),
    sa.Column('result_name', sa.String(length=200), nullable=True),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'user_id'], ['app_user.tenant_id', 'app_user.id'], name=op.f('fk_job_run_tenant_id_user_id_app_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_job_run_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_job_run')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.create_index('ix_job_run_user', ['tenant_id', 'user_id', 'created_at'], unique=False)

    op.create_table('notification',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'user_id'], ['app_user.tenant_id', 'app_user.id'], name=op.f('fk_notification_tenant_id_user_id_app_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_notification_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_notification')),
    sa.UniqueConstraint('tenant_id', 'key', name=op.f('uq_notification_tenant_id_key')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_user', ['tenant_id', 'user_id', 'created_at'], unique=False)

    op.create_table('attachment',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('storage_key', sa.String(length=100), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by', sa.BigInteger(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_by', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_attachment_tenant_id_case_id_case_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_attachment_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_attachment')),
    sa.UniqueConstraint('tenant_id', 'storage_key', name=op.f('uq_attachment_tenant_id_storage_key')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.create_index('ix_attachment_case', ['tenant_id', 'case_id'], unique=False)

    op.create_table('case_event',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=True),
    sa.Column('actor_label', sa.String(length=100), nullable=False),
    sa.Column('from_state', sa.String(length=32), nullable=True),
    sa.Column('to_state', sa.String(length=32), nullable=True),
    sa.Column('org_unit_id', sa.BigInteger(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_case_event_tenant_id_case_id_case_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_case_event_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_case_event')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.create_index('ix_case_event_case', ['tenant_id', 'case_id', 'at'], unique=False)

    op.create_table('case_flag',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('flag', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_case_flag_tenant_id_case_id_case_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_case_flag_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_case_flag')),
    sa.UniqueConstraint('tenant_id', 'case_id', 'flag', name=op.f('uq_case_flag_tenant_id_case_id_flag')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('case_flag', schema=None) as batch_op:
        batch_op.create_index('ix_case_flag_flag', ['tenant_id', 'flag'], unique=False)

    op.create_table('case_person',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('person_id', sa.BigInteger(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_case_person_tenant_id_case_id_case_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'person_id'], ['person.tenant_id', 'person.id'], name=op.f('fk_case_person_tenant_id_person_id_person')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_case_person_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_case_person')),
    sa.UniqueConstraint('tenant_id', 'case_id', 'person_id', 'role', name=op.f('uq_case_person_tenant_id_case_id_person_id_role')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('case_person', schema=None) as batch_op:
        batch_op.create_index('ix_case_person_person', ['tenant_id', 'person_id'], unique=False)

    op.create_table('case_reminder',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_case_reminder_tenant_id_case_id_case_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_case_reminder_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_case_reminder')),
    sa.UniqueConstraint('tenant_id', 'key', name=op.f('uq_case_reminder_tenant_id_key')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('case_reminder', schema=None) as batch_op:
        batch_op.create_index('ix_case_reminder_pending', ['tenant_id', 'enqueued_at'], unique=False, postgresql_where=sa.text("state = 'pending'"), sqlite_where=sa.text("state = 'pending'"))

    op.create_table('case_supervision',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('level', sa.String(length=12), nullable=False),
    sa.Column('issuer_id', sa.BigInteger(), nullable=True),
    sa.Column('issuer_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('target_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('instruction', sa.Text(), nullable=False),
    sa.Column('response_required', sa.Boolean(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('escalated_to_unit_id', sa.BigInteger(), nullable=True),
    sa.Column('response', sa.Text(), nullable=True),
    sa.Column('responded_by', sa.BigInteger(), nullable=True),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_case_supervision_tenant_id_case_id_case_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'issuer_unit_id'], ['org_unit.tenant_id', 'org_unit.id'], name=op.f('fk_case_supervision_tenant_id_issuer_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['tenant_id', 'target_unit_id'], ['org_unit.tenant_id', 'org_unit.id'], name=op.f('fk_case_supervision_tenant_id_target_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_case_supervision_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_case_supervision')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('case_supervision', schema=None) as batch_op:
        batch_op.create_index('ix_case_supervision_case', ['tenant_id', 'case_id'], unique=False)
        batch_op.create_index('ix_case_supervision_open_due', ['tenant_id', 'due_at'], unique=False, postgresql_where=sa.text("state = 'open'"), sqlite_where=sa.text("state = 'open'"))

    op.create_table('case_task',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('org_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('member_unit_id', sa.BigInteger(), nullable=True),
    sa.Column('role', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('instruction', sa.Text(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('assigned_by', sa.BigInteger(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_case_task_tenant_id_case_id_case_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'member_unit_id'], ['member_unit.tenant_id', 'member_unit.id'], name=op.f('fk_case_task_tenant_id_member_unit_id_member_unit')),
    sa.ForeignKeyConstraint(['tenant_id', 'org_unit_id'], ['org_unit.tenant_id', 'org_unit.id'], name=op.f('fk_case_task_tenant_id_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_case_task_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_case_task')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('case_task', schema=None) as batch_op:
        batch_op.create_index('ix_case_task_case', ['tenant_id', 'case_id'], unique=False)
        batch_op.create_index('ix_case_task_unit', ['tenant_id', 'org_unit_id', 'state'], unique=False)

    op.create_table('intake',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('org_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('arose_unit_id', sa.BigInteger(), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('received_by', sa.BigInteger(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('outcome_note', sa.Text(), nullable=True),
    sa.Column('referred_to', sa.String(length=200), nullable=True),
    sa.Column('case_id', sa.BigInteger(), nullable=True),
    sa.Column('decided_by', sa.BigInteger(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_intake_tenant_id_case_id_case_record')),
    sa.ForeignKeyConstraint(['tenant_id', 'org_unit_id'], ['org_unit.tenant_id', 'org_unit.id'], name=op.f('fk_intake_tenant_id_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['tenant_id', 'received_by'], ['app_user.tenant_id', 'app_user.id'], name=op.f('fk_intake_tenant_id_received_by_app_user')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_intake_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_intake')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('intake', schema=None) as batch_op:
        batch_op.create_index('ix_intake_outcome', ['tenant_id', 'outcome', 'received_at'], unique=False)
        batch_op.create_index('ix_intake_unit', ['tenant_id', 'org_unit_id', 'received_at'], unique=False)

    op.create_table('notification_delivery',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('notification_id', sa.BigInteger(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'notification_id'], ['notification.tenant_id', 'notification.id'], name=op.f('fk_notification_delivery_tenant_id_notification_id_notification'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_notification_delivery_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_notification_delivery')),
    sa.UniqueConstraint('tenant_id', 'notification_id', 'channel', name=op.f('uq_notification_delivery_tenant_id_notification_id_channel')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('case_deadline',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('task_id', sa.BigInteger(), nullable=True),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('basis', sa.String(length=300), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('met', sa.Boolean(), nullable=True),
    sa.Column('extensions', sa.Integer(), nullable=False),
    sa.Column('reminded', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_case_deadline_tenant_id_case_id_case_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'task_id'], ['case_task.tenant_id', 'case_task.id'], name=op.f('fk_case_deadline_tenant_id_task_id_case_task'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_case_deadline_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_case_deadline')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('case_deadline', schema=None) as batch_op:
        batch_op.create_index('ix_case_deadline_case', ['tenant_id', 'case_id'], unique=False)
        batch_op.create_index('ix_case_deadline_sweep', ['tenant_id', 'due_at'], unique=False, postgresql_where=sa.text("state = 'running' AND reminded < 2"), sqlite_where=sa.text("state = 'running' AND reminded < 2"))

    op.create_table('intake_person',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('intake_id', sa.BigInteger(), nullable=False),
    sa.Column('person_id', sa.BigInteger(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'intake_id'], ['intake.tenant_id', 'intake.id'], name=op.f('fk_intake_person_tenant_id_intake_id_intake'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'person_id'], ['person.tenant_id', 'person.id'], name=op.f('fk_intake_person_tenant_id_person_id_person')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_intake_person_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_intake_person')),
    sa.UniqueConstraint('tenant_id', 'intake_id', 'person_id', name=op.f('uq_intake_person_tenant_id_intake_id_person_id')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('case_extension',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('deadline_id', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('requested_by', sa.BigInteger(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.BigInteger(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'], name=op.f('fk_case_extension_tenant_id_case_id_case_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'deadline_id'], ['case_deadline.tenant_id', 'case_deadline.id'], name=op.f('fk_case_extension_tenant_id_deadline_id_case_deadline'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_case_extension_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_case_extension')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('case_extension', schema=None) as batch_op:
        batch_op.create_index('ix_case_extension_case', ['tenant_id', 'case_id'], unique=False)

    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('email')

    with op.batch_alter_table('case_extension', schema=None) as batch_op:
        batch_op.drop_index('ix_case_extension_case')

    op.drop_table('case_extension')
    op.drop_table('intake_person')
    with op.batch_alter_table('case_deadline', schema=None) as batch_op:
        batch_op.drop_index('ix_case_deadline_sweep', postgresql_where=sa.text("state = 'running' AND reminded < 2"), sqlite_where=sa.text("state = 'running' AND reminded < 2"))
        batch_op.drop_index('ix_case_deadline_case')

    op.drop_table('case_deadline')
    op.drop_table('notification_delivery')
    with op.batch_alter_table('intake', schema=None) as batch_op:
        batch_op.drop_index('ix_intake_unit')
        batch_op.drop_index('ix_intake_outcome')

    op.drop_table('intake')
    with op.batch_alter_table('case_task', schema=None) as batch_op:
        batch_op.drop_index('ix_case_task_unit')
        batch_op.drop_index('ix_case_task_case')

    op.drop_table('case_task')
    with op.batch_alter_table('case_supervision', schema=None) as batch_op:
        batch_op.drop_index('ix_case_supervision_open_due', postgresql_where=sa.text("state = 'open'"), sqlite_where=sa.text("state = 'open'"))
        batch_op.drop_index('ix_case_supervision_case')

    op.drop_table('case_supervision')
    with op.batch_alter_table('case_reminder', schema=None) as batch_op:
        batch_op.drop_index('ix_case_reminder_pending', postgresql_where=sa.text("state = 'pending'"), sqlite_where=sa.text("state = 'pending'"))

    op.drop_table('case_reminder')
    with op.batch_alter_table('case_person', schema=None) as batch_op:
        batch_op.drop_index('ix_case_person_person')

    op.drop_table('case_person')
    with op.batch_alter_table('case_flag', schema=None) as batch_op:
        batch_op.drop_index('ix_case_flag_flag')

    op.drop_table('case_flag')
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.drop_index('ix_case_event_case')

    op.drop_table('case_event')
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_index('ix_attachment_case')

    op.drop_table('attachment')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_user')

    op.drop_table('notification')
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.drop_index('ix_job_run_user')

    op.drop_table('job_run')
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_index('ix_case_record_unit')
        batch_op.drop_index('ix_case_record_type')
        batch_op.drop_index('ix_case_record_open_due', postgresql_where=sa.text('closed_at IS NULL'), sqlite_where=sa.text('closed_at IS NULL'))
        batch_op.drop_index('ix_case_record_handling')
        batch_op.drop_index('ix_case_record_created')

    op.drop_table('case_record')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_pending', postgresql_where=sa.text("state = 'pending'"), sqlite_where=sa.text("state = 'pending'"))

    op.drop_table('outbox')
    op.drop_table('case_type_setting')
    op.drop_table('case_tally')
    op.drop_table('case_counter')
    op.drop_table('calendar_year')
    op.drop_table('calendar_day')
