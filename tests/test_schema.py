"""Every table is classified; tenant tables lead every key with tenant_id (Citus-ready)."""
from __future__ import annotations

from sqlalchemy import inspect

from core.db import GLOBAL, REFERENCE, TENANT, Base, table_class
from core.schema import INFRASTRUCTURE_TABLES


def test_every_table_in_the_database_is_classified(app, db):
    tables = set(inspect(db.engine).get_table_names())
    known = {t.name: table_class(t) for t in Base.metadata.sorted_tables}
    unclassified = sorted(t for t in tables - INFRASTRUCTURE_TABLES
                          if known.get(t) not in (TENANT, REFERENCE, GLOBAL))
    assert unclassified == []


def test_tenant_tables_lead_every_key_with_tenant_id(app):
    problems = []
    for table in Base.metadata.sorted_tables:
        if table_class(table) != TENANT:
            continue
        pk = [c.name for c in table.primary_key.columns]
        if pk[:1] != ["tenant_id"]:
            problems.append(f"{table.name}: primary key {pk}")
        for uc in [c for c in table.constraints if c.__class__.__name__ == "UniqueConstraint"]:
            cols = [c.name for c in uc.columns]
            if cols[:1] != ["tenant_id"]:
                problems.append(f"{table.name}: unique {cols}")
        for idx in table.indexes:
            if idx.unique and [c.name for c in idx.columns][:1] != ["tenant_id"]:
                problems.append(f"{table.name}: unique index {idx.name}")
        for fk in table.foreign_key_constraints:
            cols = [c.name for c in fk.columns]
            if "tenant_id" not in cols:
                problems.append(f"{table.name}: foreign key {cols} → {fk.referred_table.name}")
    assert problems == []


def test_the_check_would_catch_a_bad_table():
    from sqlalchemy import BigInteger, Column, ForeignKey, MetaData, Table
    md = MetaData()
    Table("org_unit", md, Column("tenant_id", BigInteger, primary_key=True), Column("id", BigInteger, primary_key=True))
    bad = Table("bad", md, Column("id", BigInteger, primary_key=True), Column("unit_id", BigInteger, ForeignKey("org_unit.id")))
    assert [c.name for c in bad.primary_key.columns][:1] != ["tenant_id"]
    assert table_class(bad) is None
