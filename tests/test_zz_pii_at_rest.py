"""No plain ID number or phone anywhere in the database or the logs.

The check itself (tests/pii_at_rest.py) runs when each test process ends, over everything the
session wrote (tests/conftest.py, the ``app`` fixture); here it is shown to find what it looks
for, so that its silence means something.
"""
from __future__ import annotations

from sqlalchemy import create_engine, select

from core.models import Person
from tests.conftest import PG_URL
from tests.pii_at_rest import dump, found_in, leaks, plain_values


def test_the_check_finds_a_plain_number_in_the_log_or_the_database():
    secrets, names = {"110101199003077777", "13800138000"}, {"张三"}
    clean = "1|张三|gAAAAB...|k1:4f2a"
    assert leaks(secrets, names, clean, '{"msg": "GET /cases 200"}') == []
    assert leaks(secrets, names, clean, '{"msg": "call 13800138000"}') == ["1 plain personal number(s) in the log"]
    assert leaks(secrets, names, clean + "\n2|110101199003077777", "") == [
        "1 plain personal number(s) in the database"]
    # inside a longer run of digits, ending in X, or a number with a dash: found all the same
    assert found_in({"110101199003077777", "11010119900307777X", "0571-8888888", "13800138000"},
                    "a913800138000|b11010119900307777X0|tel 0571-8888888") == {
        "13800138000", "11010119900307777X", "0571-8888888"}
    assert found_in({"13800138000"}, "1380013800|3800138000") == set()
    assert leaks(secrets, names, "1|gAAAAB...", "") == [
        "the dump sees no plain column (a person's name): the check would prove nothing"]


def test_the_check_reads_every_county_and_the_plain_columns(app, demo, other, db):
    secrets, names = plain_values(db)
    assert len(secrets) >= 200  # the demo residents at least, decrypted through the ORM
    with db.transaction(demo.id) as s:
        person = s.scalars(select(Person).where(Person.phone.is_not(None))).first()
    assert person.phone in secrets and person.name in names
    owner = create_engine(PG_URL) if PG_URL else db.engine  # the owner: row-level security hides nothing
    assert person.name in dump(owner)
