"""The check that no plain ID number or phone is anywhere in the database or the logs (issue 2
security bar; PIPL art. 51; 等保 2.0 level 3).

``tests/conftest.py`` runs it when each test process ends (every worker under xdist, on its own
database and log), after every test has written what it writes; tests/test_zz_pii_at_rest.py
shows it finds what it looks for.
"""
from __future__ import annotations

from sqlalchemy import Engine, inspect, select, text

from core.models import NetworkRole, Person, Tenant, User


def plain_values(db) -> tuple[set[str], set[str]]:
    """Every county's personal numbers (decrypted through the ORM) and person names."""
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


def dump(engine: Engine) -> str:
    """Every row of every table, as text (read as the owner: row-level security hides nothing)."""
    chunks = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                chunks.append("|".join(str(v) for v in row))
    return "\n".join(chunks)


def leaks(secrets: set[str], names: set[str], dumped: str, log: str) -> list[str]:
    """What is wrong: plain numbers found in the database dump or the log. Empty when clean."""
    problems = []
    if names and not any(n in dumped for n in names):
        problems.append("the dump sees no plain column (a person's name): the check would prove nothing")
    in_dump = sum(s in dumped for s in secrets)
    in_log = sum(s in log for s in secrets)
    if in_dump:
        problems.append(f"{in_dump} plain personal number(s) in the database")
    if in_log:
        problems.append(f"{in_log} plain personal number(s) in the log")
    return problems


def check(db, owner: Engine, log: str) -> list[str]:
    """The whole check over a session's database (read through ``owner``) and log."""
    secrets, names = plain_values(db)
    return leaks(secrets, names, dump(owner), log) if secrets else []
