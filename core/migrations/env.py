"""Alembic environment: the core branch plus every installed plugin's branch.

Run through ``pingan db upgrade`` (``core.migrate``), which passes the connection in
``config.attributes["connection"]``; plain ``alembic`` is not needed.
"""
from alembic import context

from core.db import Base

config = context.config
connection = config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
