"""A key person's cases in the other modules (issue 20, Links).

- **On the record**: the cases (petitions, disputes …) the person is a party to, of the types
  the reader may read where they may read them (``readable_cases``: the case list's own rule) —
  a reader of the record sees no case they could not open anyway.
- **The alert**: a case registered with a person under supervision as a party puts a to-do in
  the inbox of the responsible unit's users who may read the record's category there — only
  them: the message says a key person is a party, which is itself the category's secret. It
  names the case's number, never the person or the category.
"""
from __future__ import annotations

from sqlalchemy import select

from core.sdk import Case, CasePerson, fresh_case_rows, local_time, module_settings, notify, readable_cases

from .models import KeyPerson

LIMIT = 100  # cases shown on a record (newest first)


def on_case_event(session, case, event) -> None:
    """``pingan_case_event``: on a registration, alert the responsible units of its key persons."""
    if event.kind != "registered":
        return
    # a case the engine registers knows its parties in memory at this event (core.cases.fresh);
    # one registered in bulk (a ledger import, 100,000 rows) has none: no query per case then
    parties = fresh_case_rows(session, case, CasePerson)
    if not parties:
        return
    person_ids = {p.person_id for p in parties}
    if not person_ids:
        return
    from .records import category_readers  # records imports this module
    categories = set(module_settings(session, "keypersons").get("categories", ()))
    for rec in session.scalars(select(KeyPerson).where(KeyPerson.person_id.in_(person_ids),
                                                       KeyPerson.ended_on.is_(None),
                                                       KeyPerson.anonymised_at.is_(None))):
        if rec.category not in categories:
            continue
        notify(session, category_readers(session, rec.category, rec.org_unit_id),
               f"keypersons.case:{rec.id}:{case.id}", "重点人员有新登记的事项",
               f"本单位列管的一名重点人员是新登记事项 {case.number} 的当事人，请在“重点人员”档案的“相关事项”中查看。",
               kind="todo")


def cases_of(session, grants, types: dict, person_id: int | None) -> list[dict]:
    """The cases ``person_id`` is a party to that the reader may read, newest first."""
    if person_id is None or not types:
        return []
    rows = session.execute(
        select(Case.id, Case.number, Case.title, Case.case_type, Case.state, Case.created_at)
        .join(CasePerson, (CasePerson.tenant_id == Case.tenant_id) & (CasePerson.case_id == Case.id))
        .where(CasePerson.person_id == person_id, Case.case_type.in_(list(types)),
               readable_cases(session, grants, types))
        .order_by(Case.created_at.desc(), Case.id.desc()).limit(LIMIT)).all()
    seen, out = set(), []
    for r in rows:
        if r.id in seen:  # a party twice (two roles)
            continue
        seen.add(r.id)
        ctype = types[r.case_type]
        state = next((s.title for s in ctype.states if s.key == r.state), r.state)
        out.append({"id": r.id, "number": r.number, "title": r.title, "case_type_title": ctype.title,
                    "state_title": state, "registered_on": local_time(r.created_at, "%Y-%m-%d")})
    return out
