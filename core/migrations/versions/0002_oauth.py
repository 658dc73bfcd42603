"""oauth: clients, client secrets, authorization codes, tokens (issue 2)

Client secrets, codes and tokens are stored as SHA-256 hashes only. tenant_id leads every key, unique key
and foreign key, as everywhere.

Revision ID: 0002_oauth
Revises: 0001_core
Create Date: 2026-11-30 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_oauth'
down_revision = '0001_core'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('oauth_client',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('confidential', sa.Boolean(), nullable=False),
    sa.Column('redirect_uris', sa.JSON(), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('grant_types', sa.JSON(), nullable=False),
    sa.Column('service_user_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'service_user_id'], ['app_user.tenant_id', 'app_user.id'], name=op.f('fk_oauth_client_tenant_id_service_user_id_app_user')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_oauth_client_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_oauth_client')),
    sa.UniqueConstraint('tenant_id', 'client_id', name=op.f('uq_oauth_client_tenant_id_client_id')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('oauth_client_secret',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('oauth_client_id', sa.BigInteger(), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'oauth_client_id'], ['oauth_client.tenant_id', 'oauth_client.id'], name=op.f('fk_oauth_client_secret_tenant_id_oauth_client_id_oauth_client'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_oauth_client_secret_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_oauth_client_secret')),
    sa.UniqueConstraint('tenant_id', 'oauth_client_id', name=op.f('uq_oauth_client_secret_tenant_id_oauth_client_id')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('oauth_code',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('oauth_client_id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('redirect_uri', sa.Text(), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('code_challenge', sa.String(length=128), nullable=False),
    sa.Column('code_challenge_method', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'oauth_client_id'], ['oauth_client.tenant_id', 'oauth_client.id'], name=op.f('fk_oauth_code_tenant_id_oauth_client_id_oauth_client')),
    sa.ForeignKeyConstraint(['tenant_id', 'user_id'], ['app_user.tenant_id', 'app_user.id'], name=op.f('fk_oauth_code_tenant_id_user_id_app_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_oauth_code_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_oauth_code')),
    sa.UniqueConstraint('tenant_id', 'code_hash', name=op.f('uq_oauth_code_tenant_id_code_hash')),
    info={'pingan_class': 'tenant'}
    )
    op.create_table('oauth_token',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('oauth_client_id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('access_token_hash', sa.String(length=64), nullable=False),
    sa.Column('refresh_token_hash', sa.String(length=64), nullable=True),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('grant_type', sa.String(length=32), nullable=False),
    sa.Column('family_id', sa.String(length=32), nullable=False),
    sa.Column('code_id', sa.BigInteger(), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('access_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('refresh_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rotated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'code_id'], ['oauth_code.tenant_id', 'oauth_code.id'], name=op.f('fk_oauth_token_tenant_id_code_id_oauth_code')),
    sa.ForeignKeyConstraint(['tenant_id', 'oauth_client_id'], ['oauth_client.tenant_id', 'oauth_client.id'], name=op.f('fk_oauth_token_tenant_id_oauth_client_id_oauth_client')),
    sa.ForeignKeyConstraint(['tenant_id', 'user_id'], ['app_user.tenant_id', 'app_user.id'], name=op.f('fk_oauth_token_tenant_id_user_id_app_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_oauth_token_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_oauth_token')),
    sa.UniqueConstraint('tenant_id', 'access_token_hash', name=op.f('uq_oauth_token_tenant_id_access_token_hash')),
    sa.UniqueConstraint('tenant_id', 'refresh_token_hash', name=op.f('uq_oauth_token_tenant_id_refresh_token_hash')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('oauth_token', schema=None) as batch_op:
        batch_op.create_index('ix_oauth_token_client', ['tenant_id', 'oauth_client_id'], unique=False)
        batch_op.create_index('ix_oauth_token_code', ['tenant_id', 'code_id'], unique=False)
        batch_op.create_index('ix_oauth_token_family', ['tenant_id', 'family_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('oauth_token', schema=None) as batch_op:
        batch_op.drop_index('ix_oauth_token_family')
        batch_op.drop_index('ix_oauth_token_code')
        batch_op.drop_index('ix_oauth_token_client')

    op.drop_table('oauth_token')
    op.drop_table('oauth_code')
    op.drop_table('oauth_client_secret')
    op.drop_table('oauth_client')
