"""Scale-out on Citus: every county's rows on the shards of its ``tenant_id`` (issue 23).

``pingan db distribute`` (:func:`distribute`) turns a database on a Citus coordinator into
the layout docs/citus.md describes:

- global and reference tables (``GlobalModel``, ``ReferenceModel``: ``tenant``, host names,
  the national calendar …) become Citus **reference tables**, copied to every worker;
- every tenant table (``TenantModel``: the core's and every installed plugin's) becomes a
  **distributed table** on ``tenant_id``, all co-located, so one county's rows of every table
  sit on the same shard and a county's query runs on one worker (router execution).

Citus accepts a foreign key between distributed tables only if they are co-located and the
key includes the distribution column (ours all do: ``core.db.tenant_fk``), and from a
distributed table to a reference table; it refuses any key from a plain table to a
distributed one. So the tables cannot be distributed one by one with their keys in place:
:func:`distribute` drops the keys that touch the tables it converts, converts them, and adds
every key back, in one transaction (sequential shard DDL, which Citus needs to add keys to
reference tables after distributing in the same transaction). It is idempotent: a table that
is distributed already is left as it is.

After distribution, a plugin migration that creates a tenant table is handled by
:func:`create_table` (alembic's ``op.create_table`` on a distributed database): the table is
created without its foreign keys, distributed like the others, then its keys are added.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from alembic.operations import Operations, ops, toimpl
from sqlalchemy import ForeignKeyConstraint, inspect, text
from sqlalchemy.engine import Connection

from core.db import GLOBAL, REFERENCE, TENANT, Base, table_class

# the anchor of the co-location group: the first tenant table there is, created with the county
ANCHOR = "audit_head"


def installed(conn: Connection) -> bool:
    """Is the Citus extension installed in this database (a coordinator)?"""
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'citus'")).scalar())


# Every table, sequence and function in ``public`` that no extension owns (Citus keeps objects
# there, so a database on a coordinator cannot simply drop the schema).
DROP_OWN_OBJECTS_SQL = """
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT format('%I', c.relname) AS name FROM pg_class c
           WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') LOOP
    EXECUTE 'DROP TABLE IF EXISTS ' || r.name || ' CASCADE';
  END LOOP;
  FOR r IN SELECT format('%I', c.relname) AS name FROM pg_class c
           WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'S'
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') LOOP
    EXECUTE 'DROP SEQUENCE IF EXISTS ' || r.name || ' CASCADE';
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure::text AS name FROM pg_proc p
           WHERE p.pronamespace = 'public'::regnamespace
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') LOOP
    EXECUTE 'DROP FUNCTION IF EXISTS ' || r.name || ' CASCADE';
  END LOOP;
END $$"""


def drop_own_objects(conn: Connection) -> None:
    """Drop our tables, sequences and functions from ``public``, leaving the extensions' (the
    test suite's and the benchmarks' reset of a database on a Citus coordinator)."""
    conn.execute(text(DROP_OWN_OBJECTS_SQL))


def layout(conn: Connection) -> dict[str, str]:
    """Table name → ``distributed``, ``reference`` or ``local`` (a Citus-local table: one that
    Citus took into its metadata because of a foreign key to a reference table)."""
    rows = conn.execute(text(
        "SELECT c.relname, p.partmethod, p.repmodel FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'")).all()
    return {name: "distributed" if method == "h" else "reference" if model == "t" else "local"
            for name, method, model in rows}


def is_distributed(conn: Connection) -> bool:
    """Has ``pingan db distribute`` run on this database (``tenant`` is a reference table)?"""
    return installed(conn) and layout(conn).get("tenant") == "reference"


def wanted(name: str) -> str | None:
    """What a table of ours becomes: ``distributed``, ``reference``, or None (unknown to the
    models: left as it is, like ``alembic_version``)."""
    table = Base.metadata.tables.get(name)
    kind = table_class(table) if table is not None else None
    return {TENANT: "distributed", REFERENCE: "reference", GLOBAL: "reference"}.get(kind)


@dataclass
class Report:
    reference: list[str] = field(default_factory=list)
    distributed: list[str] = field(default_factory=list)
    foreign_keys: int = 0
    unknown: list[str] = field(default_factory=list)  # tables no model classifies: left local


def distribute(conn: Connection, shard_count: int | None = None) -> Report:
    """Make every global and reference table a reference table and every tenant table a
    distributed table on ``tenant_id``, co-located; keep every foreign key. Idempotent.

    ``shard_count``: the shards of the co-location group, set when its first table is
    distributed (default: the server's ``citus.shard_count``, 32; docs/citus.md). Tables
    added later join the group with its count."""
    if not installed(conn):
        raise RuntimeError("the Citus extension is not installed in this database (run it on the coordinator)")
    conn.execute(text("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'"))
    if shard_count is not None:
        if not 1 <= shard_count <= 64000:
            raise ValueError("shard_count must be between 1 and 64000")
        conn.execute(text(f"SET LOCAL citus.shard_count = {int(shard_count)}"))
    present = [t.name for t in Base.metadata.sorted_tables if t.name in set(inspect(conn).get_table_names())]
    done = layout(conn)
    report = Report(unknown=sorted(set(inspect(conn).get_table_names()) - set(Base.metadata.tables)
                                   - {"alembic_version"}))
    todo = [(name, wanted(name)) for name in present if wanted(name) and done.get(name) != wanted(name)]
    if not todo:
        return report
    names = {name for name, _ in todo}
    keys = _foreign_keys(conn, names)
    for table, name, _ in keys:
        conn.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
    for name, _ in todo:
        if done.get(name) == "local":  # back to a plain table first, then distributed
            conn.execute(text("SELECT undistribute_table(:t)"), {"t": name})
    for name, kind in todo:
        if kind == "reference":
            conn.execute(text("SELECT create_reference_table(:t)"), {"t": name})
            report.reference.append(name)
    anchor = next((n for n, k in layout(conn).items() if k == "distributed"), None)
    for name, kind in sorted(todo, key=lambda t: t[0] != ANCHOR):  # the anchor first, if it is new
        if kind == "distributed":
            _distribute_table(conn, name, anchor)
            anchor = anchor or name
            report.distributed.append(name)
    for table, name, definition in keys:
        conn.execute(text(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'))
    report.foreign_keys = len(keys)
    return report


def _distribute_table(conn: Connection, name: str, colocate_with: str | None) -> None:
    if colocate_with:
        conn.execute(text("SELECT create_distributed_table(:t, 'tenant_id', colocate_with => :c)"),
                     {"t": name, "c": colocate_with})
    else:
        conn.execute(text("SELECT create_distributed_table(:t, 'tenant_id')"), {"t": name})


def _foreign_keys(conn: Connection, tables: set[str]) -> list[tuple[str, str, str]]:
    """(table, constraint, definition) of every foreign key from or to one of ``tables``."""
    rows = conn.execute(text(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.confrelid::regclass::text "
        "FROM pg_constraint c WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace "
        "ORDER BY c.conrelid::regclass::text, c.conname")).all()
    return [(t.strip('"'), name, d) for t, name, d, ref in rows if t.strip('"') in tables or ref.strip('"') in tables]


@Operations.implementation_for(ops.CreateTableOp, replace=True)
def create_table(operations: Operations, operation: ops.CreateTableOp):
    """``op.create_table`` on a distributed database: create, distribute, then add the keys.

    Elsewhere (SQLite, plain PostgreSQL, a Citus database not distributed yet) it is
    alembic's own implementation, unchanged.
    """
    conn = operations.get_bind()
    kind = wanted(operation.table_name)
    if kind is None or not is_distributed(conn):
        return toimpl.create_table(operations, operation)
    table = operation.to_table(operations.migration_context)
    keys = [c for c in table.constraints if isinstance(c, ForeignKeyConstraint)]
    for key in keys:
        key.use_alter = True  # left out of CREATE TABLE, added below
    operations.impl.create_table(table)
    _place(conn, table.name, kind)
    for key in keys:
        operations.impl.add_constraint(key)
    return table


def create_new_table(conn: Connection, table) -> None:
    """Create a table outside a migration (a test's throw-away module) as :func:`create_table`
    does in one: on a distributed database without its foreign keys, placed (distributed on
    ``tenant_id`` or a reference table), then its keys; elsewhere ``table.create``."""
    from sqlalchemy.schema import AddConstraint, CreateIndex, CreateTable
    kind = wanted(table.name)
    if kind is None or not is_distributed(conn):
        table.create(conn, checkfirst=True)
        return
    if table.name in layout(conn):
        return
    keys = [c for c in table.constraints if isinstance(c, ForeignKeyConstraint)]
    # keys to reference tables after distributing: one connection per node (Citus's hint)
    conn.execute(text("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'"))
    conn.execute(CreateTable(table, include_foreign_key_constraints=[]))
    for index in table.indexes:
        conn.execute(CreateIndex(index))
    _place(conn, table.name, kind)
    for key in keys:
        conn.execute(AddConstraint(key))


def _place(conn: Connection, name: str, kind: str) -> None:
    if kind == "reference":
        conn.execute(text("SELECT create_reference_table(:t)"), {"t": name})
    else:
        anchor = next((n for n, k in layout(conn).items() if k == "distributed"), None)
        _distribute_table(conn, name, anchor)
