"""Demo residents for ``--demo`` loads: fictional people with well-formed but fake ID numbers.

ID numbers use region prefix ``99xxxx`` — no province has code 99 (GB/T 2260) — so they can
never belong to a real person; the check digit is computed per GB 11643-1999 so the
numbers pass validation like real ones would.
"""
from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.crypto import ring
from core.models import OrgUnit, Person
from core.privacy import id_number_checksum

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾"
GIVEN = ["建国", "秀英", "德胜", "春生", "小燕", "明", "立新", "文华", "桂兰", "志强", "海燕", "红梅", "国庆", "淑珍", "军"]


def fake_id_number(rnd: random.Random) -> str:
    born = date(1950, 1, 1) + timedelta(days=rnd.randrange(0, 365 * 55))
    first17 = f"99{rnd.randrange(0, 10000):04d}{born:%Y%m%d}{rnd.randrange(0, 1000):03d}"
    return first17 + id_number_checksum(first17)


def add_demo_people(session: Session, unit_ids: dict[str, int], per_village: int = 5, seed: int = 7) -> int:
    rnd = random.Random(seed)
    villages = session.scalars(select(OrgUnit).where(OrgUnit.level == "village")).all()
    if session.scalar(select(Person.id).limit(1)) is not None:
        return 0
    count = 0
    for v in villages:
        for _ in range(per_village):
            idn = fake_id_number(rnd)
            phone = f"139{rnd.randrange(0, 10**8):08d}"
            session.add(Person(name=rnd.choice(SURNAMES) + rnd.choice(GIVEN), id_number=idn,
                               id_number_bidx=ring().blind_index(idn), phone=phone,
                               phone_bidx=ring().blind_index(phone), address=f"{v.name}{rnd.randrange(1, 99)}号",
                               org_unit_id=v.id))
            count += 1
    return count
