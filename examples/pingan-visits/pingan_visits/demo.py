"""Demo greetings for ``pingan tenant load --demo``: one per village, in the county's own words."""
from __future__ import annotations

from sqlalchemy import select

from core.sdk import OrgUnit, utcnow

from .models import VisitsGreeting

NAMES = ["王建国", "李秀英", "张德胜", "刘春生", "陈小燕", "杨立新"]


def add_demo_greetings(session, settings: dict) -> int:
    if session.scalar(select(VisitsGreeting.id).limit(1)) is not None:
        return 0  # loading again adds nothing
    villages = session.scalars(select(OrgUnit).where(OrgUnit.level == "village").order_by(OrgUnit.path)).all()
    for i, village in enumerate(villages):
        name = NAMES[i % len(NAMES)]
        session.add(VisitsGreeting(org_unit_id=village.id, recipient=name,
                                  message=f"{settings['greeting_prefix']}{name}！", created_at=utcnow()))
    return len(villages)
