"""when an account's password was set: a one-time password expires (issue 14)

``app_user.password_set_at``: set on creation, by an admin's reset and by the user's own
change. A password an admin set (``must_change_password``) is good for
``PINGAN_ONE_TIME_PASSWORD_HOURS`` after it. Existing accounts take the time of the upgrade:
a one-time password handed out before it is good for that long from now.

Revision ID: 0008_password_set_at
Revises: 0007_case_person_attached
Create Date: 2026-12-06 05:40:00
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

from core.db import rls_unforced


revision = '0008_password_set_at'
down_revision = '0007_case_person_attached'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_set_at', sa.DateTime(timezone=True), nullable=True))
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    now = datetime.now(timezone.utc)
    with rls_unforced(bind, "app_user"):
        bind.execute(sa.text("UPDATE app_user SET password_set_at = :now"),
                     {"now": now if pg else now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")})


def downgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('password_set_at')
