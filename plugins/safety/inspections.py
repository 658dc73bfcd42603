"""Checklist templates and inspections: the score of an inspection, and a hazard raised for
each failed item that the checklist marks as a hazard, pre-filled with the item's grade."""
from __future__ import annotations

from sqlalchemy import select

from core.sdk import PHOTO_KINDS, Invalid, NotFound, get_or_404, keep_file, record, register_case, request_work

from .hazards import HAZARD
from .models import Answer, Checklist, ChecklistItem, Hazard, Inspection, Place
from .permissions import INSPECT


def create_checklist(ctx, data: dict) -> Checklist:
    """A checklist template for a place type; every item's grade is one of the county's."""
    settings = ctx.plugins["safety"]
    if data["place_type"] not in {t["key"] for t in settings["place_types"]}:
        raise Invalid("place_type", "unknown_place_type", "请从列表中选择场所类型")
    grades = {g["key"] for g in settings["hazard_grades"]}
    for n, item in enumerate(data["items"]):
        if item.get("hazard") and item.get("grade") not in grades:
            raise Invalid(f"items.{n}.grade", "unknown_grade", f"第{n + 1}项：请选择隐患等级")
    checklist = Checklist(place_type=data["place_type"], title=data["title"])
    ctx.session.add(checklist)
    ctx.session.flush()
    ctx.session.add_all([ChecklistItem(checklist_id=checklist.id, position=n, section=i.get("section") or "",
                                       question=i["question"], expected=i.get("expected", True),
                                       weight=i.get("weight", 1), hazard=bool(i.get("hazard")),
                                       grade=i.get("grade") if i.get("hazard") else None)
                        for n, i in enumerate(data["items"])])
    ctx.session.flush()
    return checklist


def items_of(session, checklist_id: int) -> list[ChecklistItem]:
    return list(session.scalars(select(ChecklistItem).where(ChecklistItem.checklist_id == checklist_id)
                                .order_by(ChecklistItem.position)))


def checklist_for(session, place: Place, checklist_id: int | None = None) -> Checklist:
    """The checklist asked for (of the place's type), else the newest active one of the type."""
    stmt = select(Checklist).where(Checklist.place_type == place.place_type, Checklist.active.is_(True))
    if checklist_id is not None:
        stmt = stmt.where(Checklist.id == checklist_id)
    found = session.scalar(stmt.order_by(Checklist.id.desc()).limit(1))
    if found is None:
        if checklist_id is not None:
            raise Invalid("checklist_id", "unknown_checklist", "请选择该类场所的检查表")
        raise Invalid("place_id", "no_checklist", "该类场所还没有检查表，请先由管理员制定检查表")
    return found


def score(items: list[ChecklistItem], answers: dict[int, bool]) -> float:
    """Percent of the weights whose answer is the expected one (100 with no weight at all)."""
    total = sum(i.weight for i in items)
    met = sum(i.weight for i in items if answers.get(i.id) == i.expected)
    return round(100.0 * met / total, 1) if total else 100.0


def submit(ctx, data: dict) -> Inspection:
    """Record an inspection: every item answered (422 naming the first one missing), the score,
    and a ``safety.hazard`` case for each failed hazard item, of the item's grade."""
    s = ctx.session
    place = get_or_404(s, ctx.grants, Place, data["place_id"], INSPECT)
    checklist = checklist_for(s, place, data.get("checklist_id"))
    items = items_of(s, checklist.id)
    given = {a["item_id"]: a for a in data["answers"]}
    known = {i.id for i in items}
    for n, a in enumerate(data["answers"]):
        if a["item_id"] not in known:
            raise Invalid(f"answers.{n}.item_id", "unknown_item", "该题不属于所选检查表")
    for n, item in enumerate(items):
        if item.id not in given:
            raise Invalid(f"item_{item.id}", "unanswered", f"第{n + 1}题未作答：{item.question}")
    if (data.get("latitude") is None) != (data.get("longitude") is None):
        raise Invalid("longitude", "coordinates_incomplete", "经度和纬度须同时填写")
    answers = {i: a["answer"] for i, a in given.items()}
    failed = [i for i in items if answers[i.id] != i.expected]
    inspection = Inspection(place_id=place.id, org_unit_id=place.org_unit_id, checklist_id=checklist.id,
                            inspector_id=ctx.user.id if ctx.user else None, score=score(items, answers),
                            failed=len(failed), note=data.get("note") or "", latitude=data.get("latitude"),
                            longitude=data.get("longitude"))
    s.add(inspection)
    s.flush()
    rows = {i.id: Answer(inspection_id=inspection.id, item_id=i.id, answer=answers[i.id],
                         note=(given[i.id].get("note") or "")) for i in items}
    work = request_work()
    for item in failed:
        if not item.hazard:
            continue
        note = rows[item.id].note
        case = register_case(work, HAZARD, {
            "title": f"{place.name}：{item.question}"[:200], "org_unit_id": place.org_unit_id, "channel": "other",
            "content": f"检查发现：{item.question}（应为“{'是' if item.expected else '否'}”，实为"
                       f"“{'是' if answers[item.id] else '否'}”）" + (f"。{note}" if note else ""),
            "details": {"grade": item.grade, "place_id": place.id}})
        s.flush()
        h = s.scalar(select(Hazard).where(Hazard.case_id == case.id))
        h.inspection_id, h.item_id = inspection.id, item.id
        rows[item.id].hazard_case_id = case.id
        inspection.hazards += 1
    s.add_all(rows.values())
    s.flush()
    return inspection


def answers_of(session, inspection: Inspection) -> list[dict]:
    items = {i.id: i for i in items_of(session, inspection.checklist_id)}
    rows = session.scalars(select(Answer).where(Answer.inspection_id == inspection.id))
    out = [{"item_id": a.item_id, "question": items[a.item_id].question if a.item_id in items else "",
            "section": items[a.item_id].section if a.item_id in items else "",
            "answer": a.answer, "passed": a.item_id in items and a.answer == items[a.item_id].expected,
            "note": a.note, "hazard_case_id": a.hazard_case_id, "has_photo": a.photo_key is not None,
            "position": items[a.item_id].position if a.item_id in items else 0} for a in rows]
    return sorted(out, key=lambda a: a["position"])


def answer_or_404(session, inspection: Inspection, item_id: int) -> Answer:
    found = session.scalar(select(Answer).where(Answer.inspection_id == inspection.id, Answer.item_id == item_id))
    if found is None:
        raise NotFound()
    return found


def attach_photo(ctx, inspection: Inspection, item_id: int, upload) -> Answer:
    """The photo of what an item found (an image, judged by its content); a new one replaces it."""
    answer = answer_or_404(ctx.session, inspection, item_id)
    stored = keep_file(ctx.session, answer, "photo", upload, PHOTO_KINDS,
                       "检查照片只能是图片（JPEG/PNG/GIF/WebP），按文件内容判断", field="photo")
    record(ctx.session, "safety.answer_photo", "safety_inspection", inspection.id,
           {"item_id": item_id, "filename": stored.filename})
    return answer


def load_inspection(ctx, inspection_id: int, perm: str) -> Inspection:
    found = get_or_404(ctx.session, ctx.grants, Inspection, inspection_id, perm)
    if found is None:
        raise NotFound()
    return found
