"""Bulk and urgency (issue 15, item 14): batch assign, batch mark read, batch print, and the
case list sorted by urgency — over the API and the web forms."""
from __future__ import annotations

import datetime as dt
import io
import json
import re

import time_machine
from pypdf import PdfReader
from sqlalchemy import select

from core.cases.models import Case
from core.models import Notification, User
from core.notifications import notify
from tests.casework import act, register


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _user_id(db, county, username: str) -> int:
    with db.transaction(county.id) as s:
        return s.scalar(select(User.id).where(User.username == username))


def _cases(county, login) -> dict:
    """Two open cases of 罗塘村, one closed there, one of 青山乡 (out of 东湖镇's scope)."""
    cadre, admin = login(county, "village.cadre"), login(county, "county.admin")
    a = register(cadre, county.unit("T01D1V1"), title="批量甲")
    b = register(cadre, county.unit("T01D1V1"), title="批量乙")
    closed = register(admin, county.unit("T01D1V1"), title="已办结的")
    assert act(admin, closed["id"], "accept").status_code == 200
    assert act(admin, closed["id"], "close", {"result": "已走访"}).status_code == 200
    away = register(admin, county.unit("T02"), title="青山乡的")
    return {"a": a, "b": b, "closed": closed, "away": away}


def _handler(db, county, case_id: int) -> int | None:
    with db.transaction(county.id) as s:
        return s.scalar(select(Case.handler_id).where(Case.id == case_id))


def test_batch_assign_over_the_api_reports_the_refused_and_the_not_found(app, db, county, login):
    c = _cases(county, login)
    township = login(county, "donghu.admin")
    handler = _user_id(db, county, "village.cadre")
    ids = [c["a"]["id"], c["b"]["id"], c["closed"]["id"], c["away"]["id"]]
    r = township.post("/api/cases/batch/assign", json={"case_ids": ids, "handler_id": handler, "note": "请跟进"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert sorted(d["number"] for d in body["done"]) == sorted([c["a"]["number"], c["b"]["number"]])
    assert [(x["number"], x["code"]) for x in body["refused"]] == [(c["closed"]["number"], "case_closed")]
    assert body["not_found"] == [c["away"]["id"]]  # by id only: its number is not told
    assert c["away"]["number"] not in r.get_data(as_text=True)
    assert _handler(db, county, c["a"]["id"]) == handler and _handler(db, county, c["b"]["id"]) == handler
    assert _handler(db, county, c["closed"]["id"]) is None and _handler(db, county, c["away"]["id"]) is None
    # each through the single act: its timeline entry and the handler's to-do
    kinds = [e["kind"] for e in township.get(f"/api/cases/{c['a']['id']}/events").get_json()]
    assert "assigned" in kinds
    with db.transaction(county.id) as s:
        assert s.scalar(select(Notification.id).where(Notification.user_id == handler,
                                                      Notification.case_id == c["b"]["id"])) is not None
    # bad input: 4xx with a machine code at the field, nothing done
    assert township.post("/api/cases/batch/assign", json={"case_ids": [], "handler_id": handler}).status_code == 422
    r = township.post("/api/cases/batch/assign", json={"case_ids": list(range(1, 202)), "handler_id": handler})
    assert r.status_code == 422 and "case_ids" in json.dumps(r.get_json())
    r = township.post("/api/cases/batch/assign", json={"case_ids": ["x"], "handler_id": handler})
    assert r.status_code == 422
    outsider = _user_id(db, county, "qingshan.admin")
    r = township.post("/api/cases/batch/assign", json={"case_ids": [c["a"]["id"]], "handler_id": outsider})
    assert r.status_code == 422 and r.get_json()["code"] == "unknown_user" and "handler_id" in json.dumps(r.get_json())
    # nothing of the batch found: 404, as a single case out of scope
    r = township.post("/api/cases/batch/assign", json={"case_ids": [c["away"]["id"], 8_999_999_999], "handler_id": handler})
    assert r.status_code == 404
    # a village cadre may not divert: 403
    assert login(county, "village.cadre").post("/api/cases/batch/assign", json={
        "case_ids": [c["a"]["id"]], "handler_id": handler}).status_code == 403


def test_batch_assign_from_the_case_list_says_what_was_not_done(app, db, county, login):
    c = _cases(county, login)
    township = login(county, "donghu.admin")
    handler = _user_id(db, county, "village.cadre")
    page = township.get("/cases").get_data(as_text=True)
    assert 'name="case_id"' in page and f'<option value="{handler}">' in page and "批量指定" in page
    assert c["away"]["number"] not in page
    r = township.post("/cases/batch", data={"csrf_token": csrf(page), "act": "assign", "handler_id": str(handler),
                                            "case_id": [str(c[k]["id"]) for k in ("a", "b", "closed", "away")]})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "已指定 2 件" in html and c["a"]["number"] in html and c["b"]["number"] in html
    assert f"{c['closed']['number']}：事项已办结，不能指定经办人" in html
    assert "1 件事项不存在或您无权查看" in html and c["away"]["number"] not in html
    assert _handler(db, county, c["a"]["id"]) == handler
    # no handler chosen: the page again with the reason, nothing done
    r = township.post("/cases/batch", data={"csrf_token": csrf(page), "act": "assign", "case_id": str(c["b"]["id"])})
    assert r.status_code == 422 and "请选择经办人" in r.get_data(as_text=True)


def test_batch_mark_read_in_the_inbox(app, db, county, login):
    cadre = login(county, "village.cadre")
    case = register(cadre, county.unit("T01D1V1"), title="待办事项")
    uid, other = _user_id(db, county, "village.cadre"), _user_id(db, county, "village.cadre2")
    with db.transaction(county.id) as s:
        for i in range(3):
            notify(s, [uid], f"test:batch:{i}", f"待办{i}", kind="todo", case_id=case["id"])
        notify(s, [other], "test:batch:other", "别人的", kind="message")
        foreign = s.scalar(select(Notification.id).where(Notification.user_id == other))
    inbox = cadre.get("/inbox").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'name="notification_id" value="(\d+)"', inbox)]
    assert len(ids) >= 3 and 'form="inbox-batch"' in inbox and "全部标为已读" in inbox
    r = cadre.post("/inbox/read-selected", data={"csrf_token": csrf(inbox), "notification_id": [*map(str, ids[:2]),
                                                                                                 str(foreign)]})
    assert r.status_code == 302
    with db.transaction(county.id) as s:
        read = {n.id: n.read_at for n in s.scalars(select(Notification).where(
            Notification.id.in_([*ids, foreign])))}
    assert read[ids[0]] and read[ids[1]] and read[ids[2]] is None and read[foreign] is None
    # the audit chain has each change, as for the single mark-read
    entries = login(county, "county.admin").get("/api/audit?object_type=notification&limit=50")
    assert entries.status_code == 200, entries.get_json()
    got = {str(e.get("object_id")) for e in entries.get_json()["items"]}
    assert {str(ids[0]), str(ids[1])} <= got


def test_batch_print_is_one_pdf_with_each_case(app, db, county, login):
    admin = login(county, "county.admin")
    assert admin.put("/api/modules/mediation", json={"enabled": True}).status_code == 200
    a = register(admin, county.unit("T01D1V1"), title="打印甲")
    b = register(admin, county.unit("T01D1V1"), title="打印乙")
    person = admin.post("/api/persons", json={"name": "当事人", "org_unit_id": county.unit("T01D1V1")}).get_json()
    r = admin.post("/api/cases", json={"case_type": "mediation.dispute", "title": "纠纷", "org_unit_id": county.unit("T01D1V1"),
                                       "persons": [{"person_id": person["id"], "role": "applicant"}],
                                       "details": {"dispute_type": "debt"}})
    assert r.status_code == 201, r.get_json()
    dispute = r.get_json()
    r = admin.post("/api/cases/batch/documents", json={"case_ids": [a["id"], b["id"], dispute["id"]],
                                                        "key": "visits.visit_notice"})
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages)
    assert a["number"] in text and b["number"] in text and dispute["number"] not in text
    summary = json.loads(r.headers["Pingan-Batch"])
    assert [x["number"] for x in summary["refused"]] == [dispute["number"]]
    # none has it: 409 nothing_to_print
    r = admin.post("/api/cases/batch/documents", json={"case_ids": [dispute["id"]], "key": "visits.visit_notice"})
    assert r.status_code == 409 and r.get_json()["code"] == "nothing_to_print"
    # the web: all have it → the PDF; one lacks it → the summary naming it, and a button for the rest
    page = admin.get("/cases").get_data(as_text=True)
    assert 'value="visits.visit_notice"' in page
    r = admin.post("/cases/batch", data={"csrf_token": csrf(page), "act": "print", "key": "visits.visit_notice",
                                         "case_id": [str(a["id"]), str(b["id"])]})
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert len(PdfReader(io.BytesIO(r.data)).pages) >= 2
    r = admin.post("/cases/batch", data={"csrf_token": csrf(page), "act": "print", "key": "visits.visit_notice",
                                         "case_id": [str(a["id"]), str(dispute["id"])]})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and f"{dispute['number']}：该类事项没有这种文书" in html and "打印其余 1 件" in html


def test_urgency_sort_overdue_then_soonest_then_the_rest(app, db, county, login):
    cadre = login(county, "village.cadre")
    now = dt.datetime(2026, 5, 12, 2, 0, tzinfo=dt.UTC)
    with time_machine.travel(now, tick=False):
        made = [register(cadre, county.unit("T01D1V1"), title=f"紧急{i}") for i in range(5)]
        due = {made[0]["id"]: now + dt.timedelta(days=3), made[1]["id"]: now - dt.timedelta(days=2),
               made[2]["id"]: None, made[3]["id"]: now + dt.timedelta(hours=2), made[4]["id"]: now - dt.timedelta(hours=1)}
        with db.transaction(county.id) as s:
            for case in s.scalars(select(Case).where(Case.id.in_(list(due)))):
                case.due_at = due[case.id]
        expected = [made[1]["id"], made[4]["id"], made[3]["id"], made[0]["id"], made[2]["id"]]
        r = cadre.get("/api/cases?sort=urgency&limit=200")
        assert r.status_code == 200, r.get_json()
        assert [c["id"] for c in r.get_json()["items"]] == expected
        # keyset paging across both runs gives the same order
        seen, cursor = [], None
        while True:
            body = cadre.get("/api/cases?sort=urgency&limit=2" + (f"&cursor={cursor}" if cursor else "")).get_json()
            seen += [c["id"] for c in body["items"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert seen == expected
        assert cadre.get("/api/cases?sort=urgency&cursor=bm9wZQ").status_code == 422
        assert cadre.get("/api/cases?sort=-urgency").status_code == 422
        # the web list: the same order, the option named, a light on each limited row
        page = cadre.get("/cases?sort=urgency").get_data(as_text=True)
        assert "按紧急程度" in page
        order = [int(i) for i in re.findall(r'name="case_id" value="(\d+)"', page)]
        assert order == expected
        assert page.count('class="light light-red"') == 2 and page.count('class="light light-green"') >= 1


def test_batch_mark_read_over_the_api(app, db, county, login):
    cadre = login(county, "village.cadre")
    case = register(cadre, county.unit("T01D1V1"), title="待办事项")
    uid, other = _user_id(db, county, "village.cadre"), _user_id(db, county, "village.cadre2")
    with db.transaction(county.id) as s:
        for i in range(3):
            notify(s, [uid], f"test:api-batch:{i}", f"待办{i}", kind="todo", case_id=case["id"])
        notify(s, [other], "test:api-batch:other", "别人的", kind="message")
        mine = sorted(s.scalars(select(Notification.id).where(Notification.user_id == uid,
                                                              Notification.title.in_(["待办0", "待办1", "待办2"]))))
        foreign = s.scalar(select(Notification.id).where(Notification.user_id == other))
    assert len(mine) == 3
    r = cadre.post("/api/inbox/read", json={"ids": [*mine[:2], foreign]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["read"] == mine[:2]  # another user's id is not among them, not told apart
    unread = {i["id"] for i in cadre.all_items("/api/inbox?unread=true")}
    assert mine[2] in unread and not {*mine[:2]} & unread
    with db.transaction(county.id) as s:
        assert s.scalar(select(Notification.read_at).where(Notification.id == foreign)) is None
    bad = cadre.post("/api/inbox/read", json={"ids": []})
    assert bad.status_code == 422 and "ids" in bad.get_json()["errors"]["json"]
