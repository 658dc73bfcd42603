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


# --- the demo's log-in page: who to sign in as -------------------------------------------------

def login_accounts(session: Session, case_types: dict | None = None) -> list[dict]:
    """The county's accounts as the demo's log-in page lists them (bound county): user name,
    name, unit, and what each sees and may do, in Chinese, read from their grants and the
    enabled modules' case types (``case_types``: key → ``CaseType``)."""
    from core.authz import load_grants
    from core.models import User
    units = {u.id: u for u in session.scalars(select(OrgUnit))}
    has_children = {u.parent_id for u in units.values()}
    module_types = [ct for ct in (case_types or {}).values() if ct.plugin]
    out = []
    users = session.scalars(select(User).where(User.status == "active")).all()
    for user in sorted(users, key=lambda u: (units[u.org_unit_id].path, u.username)):
        unit = units[user.org_unit_id]
        grants = load_grants(session, user.id)
        scope = "全县" if unit.parent_id is None else (f"{unit.name}及其下属单位" if unit.id in has_children
                                                       else unit.name)
        parts = []
        readable = [ct for ct in module_types if grants.has(ct.read_permission)]
        if readable:
            parts.append("、".join(ct.title for ct in readable))
            acts = {t.permission for ct in readable for t in ct.transitions}
            if any(grants.has(p) for p in acts):
                parts.append("登记、办理")
            elif any(grants.has(ct.create_permission) for ct in readable):
                parts.append("登记上报")
            else:
                parts.append("只读")
        else:
            parts.append("组织和人员信息（角色不含业务模块的权限，看不到这些事项）" if grants.has("core.person.pii.read")
                         or grants.has("core.person.read") else "组织信息")
        if grants.has("core.case.supervise"):
            parts.append("督办")
        if grants.has("core.plugin.manage"):
            parts.append("启用模块、管理用户")
        elif grants.has("core.user.manage"):
            parts.append("管理本级用户")
        if grants.has("core.person.pii.read"):
            parts.append("可查看完整身份证号")
        out.append({"username": user.username, "name": user.display_name, "unit": unit.name,
                    "sees": f"{scope}：{'，'.join(parts)}"})
    return out
