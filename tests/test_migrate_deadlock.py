"""``pingan db upgrade`` and ``pingan db distribute`` secure the schema in one transaction that
takes every table's exclusive lock in turn: on a live database a request can deadlock with it
(seen in CI on Citus). PostgreSQL rolls one side back; the work, idempotent, runs again from
the start — twice more at most — and any other error is raised at once."""
from __future__ import annotations

import contextlib

import pytest
from sqlalchemy.exc import OperationalError

from core import migrate


class Orig(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


class Engine:
    """Fails its first ``failures`` transactions with ``sqlstate``."""

    def __init__(self, failures: int, sqlstate: str = "40P01") -> None:
        self.failures, self.sqlstate, self.begun = failures, sqlstate, 0

    @contextlib.contextmanager
    def begin(self):
        self.begun += 1
        yield self
        if self.begun <= self.failures:
            raise OperationalError("ALTER TABLE …", {}, Orig(self.sqlstate))


def test_a_deadlock_runs_the_work_again_from_the_start(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    done = []
    engine = Engine(failures=2)
    assert migrate._in_one_transaction(engine, lambda conn: done.append(conn) or "report") == "report"
    assert engine.begun == 3 and len(done) == 3


def test_a_third_deadlock_or_another_error_is_raised(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    with pytest.raises(OperationalError):
        migrate._in_one_transaction(Engine(failures=3), lambda conn: None)
    engine = Engine(failures=1, sqlstate="55P03")   # a lock timeout: not retried
    with pytest.raises(OperationalError):
        migrate._in_one_transaction(engine, lambda conn: None)
    assert engine.begun == 1
