"""core schema: tenants, org tree, users, roles, persons, plugins, sessions, audit

Every tenant table: tenant_id leads the primary key, each unique key and each foreign key.
Ids come from one platform-wide sequence (a one-row table on SQLite).

Revision ID: 0001_core
Revises: 
Create Date: 2026-11-23 16:48:01.888293
"""
from alembic import op
import sqlalchemy as sa


revision = '0001_core'
down_revision = None
branch_labels = ('core',)
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE IF NOT EXISTS pingan_id_seq AS bigint START 1000")
    else:
        op.create_table("pingan_id_seq", sa.Column("value", sa.BigInteger(), nullable=False))
        op.execute("INSERT INTO pingan_id_seq (value) VALUES (999)")
    op.create_table('tenant',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('slug', sa.String(length=63), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenant')),
    sa.UniqueConstraint('slug', name=op.f('uq_tenant_slug')),
    info={'pingan_class': 'global'}
    )
    op.create_table('audit_entry',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=64), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=True),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('request_id', sa.String(length=32), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_audit_entry_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_audit_entry')),
    info={'append_only': True, 'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entry_actor', ['tenant_id', 'actor_id'], unique=False)
        batch_op.create_index('ix_audit_entry_at', ['tenant_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_entry_object', ['tenant_id', 'object_type', 'object_id'], unique=False)

    op.create_table('audit_head',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_audit_head_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_audit_head')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('login_attempt',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_login_attempt_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_login_attempt')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_login_attempt_ip', ['tenant_id', 'ip', 'at'], unique=False)

    op.create_table('org_level',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('name_en', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_org_level_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_org_level')),
    sa.UniqueConstraint('tenant_id', 'key', name=op.f('uq_org_level_tenant_id_key')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('org_unit',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('parent_id', sa.BigInteger(), nullable=True),
    sa.Column('path', sa.String(length=1024).with_variant(sa.String(length=1024, collation='C'), 'postgresql'), nullable=False),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'parent_id'], ['org_unit.tenant_id', 'org_unit.id'], name=op.f('fk_org_unit_tenant_id_parent_id_org_unit')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_org_unit_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_org_unit')),
    sa.UniqueConstraint('tenant_id', 'path', name=op.f('uq_org_unit_tenant_id_path')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('org_unit', schema=None) as batch_op:
        batch_op.create_index('ix_org_unit_parent', ['tenant_id', 'parent_id'], unique=False)

    op.create_table('role',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('name_en', sa.String(length=50), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_role_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_role')),
    sa.UniqueConstraint('tenant_id', 'key', name=op.f('uq_role_tenant_id_key')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('tenant_domain',
    sa.Column('host', sa.String(length=253), nullable=False),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_tenant_domain_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('host', name=op.f('pk_tenant_domain')),
    info={'pingan_class': 'global'}
    )
    with op.batch_alter_table('tenant_domain', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tenant_domain_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('tenant_plugin',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('plugin', sa.String(length=64), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_tenant_plugin_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_tenant_plugin')),
    sa.UniqueConstraint('tenant_id', 'plugin', name=op.f('uq_tenant_plugin_tenant_id_plugin')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('member_unit',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('org_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'org_unit_id'], ['org_unit.tenant_id', 'org_unit.id'], name=op.f('fk_member_unit_tenant_id_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_member_unit_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_member_unit')),
    sa.UniqueConstraint('tenant_id', 'org_unit_id', 'name', name=op.f('uq_member_unit_tenant_id_org_unit_id_name')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('person',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('id_number', sa.String(length=512), nullable=True),
    sa.Column('id_number_bidx', sa.String(length=32), nullable=True),
    sa.Column('phone', sa.String(length=512), nullable=True),
    sa.Column('phone_bidx', sa.String(length=32), nullable=True),
    sa.Column('address', sa.String(length=512), nullable=True),
    sa.Column('org_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'org_unit_id'], ['org_unit.tenant_id', 'org_unit.id'], name=op.f('fk_person_tenant_id_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_person_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_person')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index('ix_person_id_number', ['tenant_id', 'id_number_bidx'], unique=False)
        batch_op.create_index('ix_person_phone', ['tenant_id', 'phone_bidx'], unique=False)
        batch_op.create_index('ix_person_unit', ['tenant_id', 'org_unit_id'], unique=False)

    op.create_table('role_permission',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('role_id', sa.BigInteger(), nullable=False),
    sa.Column('permission', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'role_id'], ['role.tenant_id', 'role.id'], name=op.f('fk_role_permission_tenant_id_role_id_role'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_role_permission_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_role_permission')),
    sa.UniqueConstraint('tenant_id', 'role_id', 'permission', name=op.f('uq_role_permission_tenant_id_role_id_permission')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('app_user',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('org_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('display_name', sa.String(length=50), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=512), nullable=True),
    sa.Column('member_unit_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('must_change_password', sa.Boolean(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'member_unit_id'], ['member_unit.tenant_id', 'member_unit.id'], name=op.f('fk_app_user_tenant_id_member_unit_id_member_unit')),
    sa.ForeignKeyConstraint(['tenant_id', 'org_unit_id'], ['org_unit.tenant_id', 'org_unit.id'], name=op.f('fk_app_user_tenant_id_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_app_user_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('tenant_id', 'username', name=op.f('uq_app_user_tenant_id_username')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.create_index('ix_app_user_unit', ['tenant_id', 'org_unit_id'], unique=False)

    op.create_table('access_token',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'user_id'], ['app_user.tenant_id', 'app_user.id'], name=op.f('fk_access_token_tenant_id_user_id_app_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_access_token_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_access_token')),
    sa.UniqueConstraint('tenant_id', 'token_hash', name=op.f('uq_access_token_tenant_id_token_hash')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('network_role',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('org_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=True),
    sa.Column('person_name', sa.String(length=50), nullable=False),
    sa.Column('phone', sa.String(length=512), nullable=True),
    sa.Column('started_on', sa.Date(), nullable=True),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'org_unit_id'], ['org_unit.tenant_id', 'org_unit.id'], name=op.f('fk_network_role_tenant_id_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['tenant_id', 'user_id'], ['app_user.tenant_id', 'app_user.id'], name=op.f('fk_network_role_tenant_id_user_id_app_user')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_network_role_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_network_role')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('network_role', schema=None) as batch_op:
        batch_op.create_index('ix_network_role_unit', ['tenant_id', 'org_unit_id', 'kind'], unique=False)

    op.create_table('role_assignment',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('role_id', sa.BigInteger(), nullable=False),
    sa.Column('org_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'org_unit_id'], ['org_unit.tenant_id', 'org_unit.id'], name=op.f('fk_role_assignment_tenant_id_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['tenant_id', 'role_id'], ['role.tenant_id', 'role.id'], name=op.f('fk_role_assignment_tenant_id_role_id_role'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'user_id'], ['app_user.tenant_id', 'app_user.id'], name=op.f('fk_role_assignment_tenant_id_user_id_app_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_role_assignment_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_role_assignment')),
    sa.UniqueConstraint('tenant_id', 'user_id', 'role_id', 'org_unit_id', name=op.f('uq_role_assignment_tenant_id_user_id_role_id_org_unit_id')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('web_session',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'user_id'], ['app_user.tenant_id', 'app_user.id'], name=op.f('fk_web_session_tenant_id_user_id_app_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_web_session_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_web_session')),
    sa.UniqueConstraint('tenant_id', 'token_hash', name=op.f('uq_web_session_tenant_id_token_hash')),
    info={'pingan_class': 'tenant'}
    )


def downgrade() -> None:
    op.drop_table('web_session')
    op.drop_table('role_assignment')
    with op.batch_alter_table('network_role', schema=None) as batch_op:
        batch_op.drop_index('ix_network_role_unit')

    op.drop_table('network_role')
    op.drop_table('access_token')
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_index('ix_app_user_unit')

    op.drop_table('app_user')
    op.drop_table('role_permission')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index('ix_person_unit')
        batch_op.drop_index('ix_person_phone')
        batch_op.drop_index('ix_person_id_number')

    op.drop_table('person')
    op.drop_table('member_unit')
    op.drop_table('tenant_plugin')
    with op.batch_alter_table('tenant_domain', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tenant_domain_tenant_id'))

    op.drop_table('tenant_domain')
    op.drop_table('role')
    with op.batch_alter_table('org_unit', schema=None) as batch_op:
        batch_op.drop_index('ix_org_unit_parent')

    op.drop_table('org_unit')
    op.drop_table('org_level')
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_login_attempt_ip')

    op.drop_table('login_attempt')
    op.drop_table('audit_head')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_object')
        batch_op.drop_index('ix_audit_entry_at')
        batch_op.drop_index('ix_audit_entry_actor')

    op.drop_table('audit_entry')
    op.drop_table('tenant')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS pingan_id_seq")
    else:
        op.drop_table("pingan_id_seq")
