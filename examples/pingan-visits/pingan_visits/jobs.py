"""Scheduled job: count the county's greetings and keep the figure (``visits_tally``).

The scheduler calls it with ``tenant_id`` only, once per slot, for counties that have the
plugin enabled; the tenant is already bound, so ``sdk.job_transaction()`` opens that
county's session.
"""
from __future__ import annotations

from sqlalchemy import func, select

from core.sdk import job_transaction, utcnow

from .models import VisitsGreeting, VisitsTally


def count_greetings(tenant_id: int) -> None:
    with job_transaction() as s:
        n = s.scalar(select(func.count(VisitsGreeting.id))) or 0
        s.add(VisitsTally(counted_at=utcnow(), greetings=n))
