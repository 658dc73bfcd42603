"""The module's scheduled jobs. A job gets only the county's id (no category, no person):
what it works on it reads from the database.

- ``visits_due``: a record whose visit is past due becomes overdue, and the responsible
  unit's users find it in their inbox (once per due date). The message names neither the
  person nor the category: whoever may read the record finds it in the list.
- ``retention``: records whose supervision ended longer ago than the county keeps the
  category are anonymised — the link to the person, the category's fields, the helpers and
  the visits' notes are erased; the audit keeps the fact (``keypersons.anonymised``), not the data.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.sdk import job_transaction, notify, record, utcnow

from .models import Handover, KeyPerson, Visit
from .records import category_readers, settings_of, today
from .settings import retention_years


def mark_overdue(session, on: dt.date) -> int:
    """Flag the records due before ``on`` and tell their units; returns how many became overdue."""
    rows = session.scalars(select(KeyPerson).where(KeyPerson.next_visit_due < on, KeyPerson.overdue_since.is_(None),
                                                   KeyPerson.ended_on.is_(None), KeyPerson.anonymised_at.is_(None)))
    count = 0
    for rec in rows:
        rec.overdue_since = on
        notify(session, category_readers(session, rec.category, rec.org_unit_id),
               f"keypersons.overdue:{rec.id}:{rec.next_visit_due}",
               "重点人员走访逾期",
               f"本单位有一名重点人员应于 {rec.next_visit_due.isoformat()} 前走访，至今未走访，请在“重点人员”中查看并尽快走访。",
               kind="todo")
        record(session, "keypersons.overdue", "keypersons_record", rec.id, {"due": rec.next_visit_due.isoformat()})
        count += 1
    return count


def anonymise_expired(session, on: dt.date) -> int:
    """Anonymise the records past the county's retention; returns how many."""
    settings = settings_of(session)
    count = 0
    for rec in session.scalars(select(KeyPerson).where(KeyPerson.ended_on.is_not(None),
                                                       KeyPerson.anonymised_at.is_(None))):
        years = retention_years(settings, rec.category)
        try:
            until = rec.ended_on.replace(year=rec.ended_on.year + years)
        except ValueError:  # 29 February
            until = rec.ended_on.replace(year=rec.ended_on.year + years, day=28)
        if until >= on:
            continue
        anonymise(session, rec)
        count += 1
    return count


def anonymise(session, rec: KeyPerson) -> None:
    rec.person_id, rec.details, rec.helpers, rec.anonymised_at = None, None, None, utcnow()
    rec.transferred_history = None
    for visit in session.scalars(select(Visit).where(Visit.record_id == rec.id)):
        visit.visitor, visit.content = None, None
    for row in session.scalars(select(Handover).where(Handover.record_id == rec.id)):
        row.reason = None  # may say where the person went
    record(session, "keypersons.anonymised", "keypersons_record", rec.id, {"reason": "retention"})


def visits_due(tenant_id: int) -> None:
    with job_transaction() as s:
        if settings_of(s):
            mark_overdue(s, today())


def retention(tenant_id: int) -> None:
    with job_transaction() as s:
        if settings_of(s):
            anonymise_expired(s, today())
