"""Cadres ask (干部问事, VIL-1) and people speak (群众说事, VIL-2) as registers (docs/plugin_registers.md).

- ``contacts``: a cadre's contact in a villager group (the group instructor's "四个一": a party
  member, an ordinary villager, a household in difficulty, an enterprise), what was raised and
  where it went; the cadre is the user who records it. ``figures`` counts each cadre's contacts
  of a period against the county's quota.
- ``hearings``: a quarterly hearing (群众说事会) of a village, the questions raised and the
  answers given on the spot; a commitment made there becomes a ``village.commitment`` case whose
  time limit the case engine keeps (closing the hearing record does not close the commitment).

Neither records a villager's name: what was raised is the matter, not the person.
"""
from __future__ import annotations

import datetime as dt

from marshmallow import fields, validate
from sqlalchemy import BigInteger, Date, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from core.sdk import (Invalid, OrgUnit, Register, RegisterRecord, module_settings, register_case, request_work,
                      units_under)

from .permissions import CONTACT, READ
from .projects import VILLAGE_LEVELS, not_future
from .settings import CONTACT_KINDS

OUTCOMES = {"answered": "当场答复", "case": "转为事项办理", "deliberation": "提交集中议事", "none": "无诉求"}


class Contact(RegisterRecord):
    """One contact of a cadre (VIL-1)."""

    __tablename__ = "village_contact"
    cadre: Mapped[str] = mapped_column(String(100), default="")   # who contacted: the recording user's name
    kind: Mapped[str] = mapped_column(String(24))
    contacted_on: Mapped[dt.date] = mapped_column(Date)
    raised: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16))


class Hearing(RegisterRecord):
    """A hearing (群众说事会) of a village (VIL-2)."""

    __tablename__ = "village_hearing"
    held_on: Mapped[dt.date] = mapped_column(Date)
    questions: Mapped[str] = mapped_column(Text)
    answers: Mapped[str] = mapped_column(Text, default="")
    commitment: Mapped[str] = mapped_column(Text, default="")
    commitment_case_id: Mapped[int | None] = mapped_column(BigInteger)


def check_contact(ctx, row: Contact, data: dict) -> None:
    unit = ctx.session.scalar(select(OrgUnit).where(OrgUnit.id == row.org_unit_id))
    if unit.level not in ("group", "village", "community"):
        raise Invalid("org_unit_id", "not_a_group", "请选择村民小组（或村）")
    not_future("contacted_on", data["contacted_on"])
    row.cadre = ctx.user.display_name or ctx.user.username


def hold_hearing(ctx, row: Hearing, data: dict) -> None:
    """A commitment made at the hearing is registered as a case with its time limit."""
    from .cases import COMMITMENT_KEY
    unit = ctx.session.scalar(select(OrgUnit).where(OrgUnit.id == row.org_unit_id))
    if unit.level not in VILLAGE_LEVELS:
        raise Invalid("org_unit_id", "not_a_village", "请选择一个村（社区）")
    not_future("held_on", data["held_on"])
    if (data.get("commitment") or "").strip():
        w = request_work()
        case = register_case(w, w.types[COMMITMENT_KEY], {
            "title": f"{unit.name}群众说事会承诺事项（{data['held_on'].isoformat()}）", "org_unit_id": unit.id,
            "content": data["commitment"]})
        row.commitment_case_id = case.id


CONTACTS = Register(
    name="contacts", title=("干部问事：联系群众", "Cadres' contacts"), model=Contact, read=READ, write=CONTACT,
    fields={"kind": fields.String(required=True, validate=validate.OneOf(list(CONTACT_KINDS),
                                                                         labels=list(CONTACT_KINDS.values())),
                                  metadata={"title": "联系对象类别"}),
            "contacted_on": fields.Date(required=True, metadata={"title": "联系日期"}),
            "raised": fields.String(load_default="", validate=validate.Length(max=2000),
                                    metadata={"title": "反映的问题和诉求"}),
            "outcome": fields.String(required=True, validate=validate.OneOf(list(OUTCOMES),
                                                                            labels=list(OUTCOMES.values())),
                                     metadata={"title": "处理去向"})},
    filters=("kind", "outcome"), on_create=check_contact, menu_order=62,
    columns=(("org_unit", ("村民小组", "Group")), ("kind", ("对象类别", "Kind")),
             ("contacted_on", ("联系日期", "Date")), ("raised", ("反映问题", "Raised")),
             ("outcome", ("去向", "Outcome")), ("created_at", ("登记时间", "Recorded at"))))

HEARINGS = Register(
    name="hearings", title=("群众说事会", "Hearings"), model=Hearing, read=READ, write=CONTACT,
    fields={"held_on": fields.Date(required=True, metadata={"title": "召开日期"}),
            "questions": fields.String(required=True, validate=validate.Length(min=2, max=5000),
                                       metadata={"title": "群众提出的问题"}),
            "answers": fields.String(load_default="", validate=validate.Length(max=5000),
                                     metadata={"title": "当场答疑、表态"}),
            "commitment": fields.String(load_default="", validate=validate.Length(max=2000),
                                        metadata={"title": "干部承诺事项（登记为限期办理的事项）"})},
    on_create=hold_hearing, menu_order=63,
    columns=(("org_unit", ("村（社区）", "Village")), ("held_on", ("召开日期", "Held on")),
             ("questions", ("群众提出的问题", "Questions")), ("answers", ("答疑表态", "Answers")),
             ("commitment", ("承诺事项", "Commitment")), ("status", ("状态", "Status"))))


def period_bounds(settings: dict, day: dt.date) -> tuple[dt.date, dt.date]:
    """The county's contact period holding ``day``: [first, next first)."""
    kind = settings.get("contact_period", "monthly")
    if kind == "yearly":
        return dt.date(day.year, 1, 1), dt.date(day.year + 1, 1, 1)
    months = 3 if kind == "quarterly" else 1
    first_month = (day.month - 1) // months * months + 1
    first = dt.date(day.year, first_month, 1)
    end_month = first_month + months
    return first, dt.date(day.year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)


def figures(session, unit: OrgUnit, day: dt.date) -> dict:
    """Each cadre's contacts in the period holding ``day``, under ``unit``, per kind against the
    quota ("四个一"), and whether the quota is met."""
    settings = module_settings(session, "village")
    quota = {k: int(v) for k, v in (settings.get("contact_quota") or {}).items()}
    first, end = period_bounds(settings, day)
    rows = session.execute(select(Contact.created_by_id, Contact.cadre, Contact.kind, func.count(Contact.id)).where(
        Contact.org_unit_id.in_(units_under(unit.path)), Contact.contacted_on >= first, Contact.contacted_on < end)
        .group_by(Contact.created_by_id, Contact.cadre, Contact.kind)).all()
    by_cadre: dict[int, dict] = {}
    names: dict[int, str] = {}
    for uid, name, kind, n in rows:
        by_cadre.setdefault(uid, {})[kind] = by_cadre.get(uid, {}).get(kind, 0) + n
        names[uid] = name
    cadres = [{"user_id": uid, "name": names.get(uid, ""),
               "counts": {k: counts.get(k, 0) for k in CONTACT_KINDS},
               "met": all(counts.get(k, 0) >= q for k, q in quota.items())}
              for uid, counts in sorted(by_cadre.items(), key=lambda kv: names.get(kv[0], ""))]
    return {"first": first, "last": end - dt.timedelta(days=1), "quota": quota, "cadres": cadres}

