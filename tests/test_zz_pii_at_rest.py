"""After the suite: no plain ID number or phone anywhere in the database or the logs.

Named ``zz`` so it runs last and sees what every other test wrote (issue 2 security bar;
PIPL art. 51; 等保 2.0 level 3). Needs the session's shared tenants at least.
"""
from __future__ import annotations

from sqlalchemy import create_engine, inspect, select, text

from core.models import NetworkRole, Person, Tenant, User
from tests.conftest import LOG_FILE_NAME, PG_URL


def _plain_values(db) -> tuple[set[str], set[str]]:
    secrets, names = set(), set()
    with db.Session() as s:
        tenant_ids = s.scalars(select(Tenant.id)).all()
    for tid in tenant_ids:
        with db.transaction(tid) as s:
            for p in s.scalars(select(Person)):
                secrets |= {v for v in (p.id_number, p.phone) if v}
                names.add(p.name)
            secrets |= {v for v in s.scalars(select(NetworkRole.phone)) if v}
            secrets |= {v for v in s.scalars(select(User.phone)) if v}
    return secrets, names


def _dump(db) -> str:
    engine = create_engine(PG_URL) if PG_URL else db.engine
    chunks = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                chunks.append("|".join(str(v) for v in row))
    return "\n".join(chunks)


def test_no_plain_personal_numbers_in_database_or_logs(app, demo, other, db, config):
    secrets, names = _plain_values(db)
    assert len(secrets) >= 200  # the demo residents at least
    dump = _dump(db)
    assert any(n in dump for n in names), "the dump must see plain columns, or this test proves nothing"
    assert [s for s in secrets if s in dump] == []
    log = (config.instance_dir / LOG_FILE_NAME).read_text(encoding="utf-8")
    assert log.count("\n") > 100
    assert [s for s in secrets if s in log] == []
