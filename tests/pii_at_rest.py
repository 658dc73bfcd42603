"""The check that no plain ID number or phone is anywhere in the database or the logs (issue 2
security bar; PIPL art. 51; 等保 2.0 level 3).

``tests/conftest.py`` runs it when each test process ends (every worker under xdist, on its own
database and log), after every test has written what it writes; tests/test_zz_pii_at_rest.py
shows it finds what it looks for.
"""
from __future__ import annotations

import re

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


_RUN = re.compile(r"[0-9Xx]+")


def found_in(secrets: set[str], text: str) -> set[str]:
    """The secrets that occur in ``text`` as substrings. Personal numbers are digits (an ID
    number may end in X): every window of a secret's length over every run of such characters
    is looked up in the set — one pass over the text, where ``secret in text`` for each of
    thousands of secrets read a session's whole dump thousands of times (40 s a worker)."""
    plain = {v for v in secrets if _RUN.fullmatch(v)}
    found = {v for v in secrets - plain if v in text}
    lengths = sorted({len(v) for v in plain})
    for run in _RUN.findall(text):
        for n in lengths:
            if n > len(run):
                break
            found |= plain.intersection(run[i:i + n] for i in range(len(run) - n + 1))
    return found


def leaks(secrets: set[str], names: set[str], dumped: str, log: str) -> list[str]:
    """What is wrong: plain numbers found in the database dump or the log. Empty when clean."""
    problems = []
    if names and not any(n in dumped for n in names):
        problems.append("the dump sees no plain column (a person's name): the check would prove nothing")
    in_dump = len(found_in(secrets, dumped))
    in_log = len(found_in(secrets, log))
    if in_dump:
        problems.append(f"{in_dump} plain personal number(s) in the database")
    if in_log:
        problems.append(f"{in_log} plain personal number(s) in the log")
    return problems


def check(db, owner: Engine, log: str) -> list[str]:
    """The whole check over a session's database (read through ``owner``) and log."""
    secrets, names = plain_values(db)
    return leaks(secrets, names, dump(owner), log) if secrets else []
