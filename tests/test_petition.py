"""Issue 4 (petition module): the statutory flow of the 《信访工作条例》 (2022), the county's
stricter local limits (PET-1), repeats (PET-6), collective visits (PET-8) and the end of the
road after 复核 (Art. 36)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from core.audit import AuditEntry
from core.models import Role, RoleAssignment, RolePermission, User
from core.workdays import SHANGHAI, WorkCalendar, deadline
from plugins.petition.cases import PETITION
from plugins.petition.models import PetitionCase
from plugins.petition.permissions import OVERRIDE_FINAL
from tests.casework import act, events

KEY = "petition.case"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(body17: str) -> str:
    """A valid 18-digit ID number (GB 11643 check digit) for a made-up person."""
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body17, WEIGHTS)) % 11]
    return body17 + check


@pytest.fixture
def county(app, fresh_tenant, login):
    """A county of its own with the petition module on."""
    admin = login(fresh_tenant, "county.admin")
    r = admin.put("/api/modules/petition", json={"enabled": True})
    assert r.status_code == 200, r.get_json()
    return fresh_tenant


@pytest.fixture
def admin(county, login):
    return login(county, "county.admin")


def person(client, county, name="李四", idn="11010519800101001", phone="13800138000", unit="T01D1V1") -> int:
    body = {"name": name, "org_unit_id": county.unit(unit), "phone": phone}
    if idn:
        body["id_number"] = id_number(idn)
    r = client.post("/api/persons", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def petition(client, county, persons=(), form="letter", category="land", expect=201, **details):
    body = {"case_type": KEY, "title": "反映承包地被邻居占用", "org_unit_id": county.unit("T01D1V1"),
            "content": "邻居占用承包地", "persons": [{"person_id": p, "role": "petitioner"} for p in persons],
            "details": {"form": form, "category": category, **details}}
    r = client.post("/api/cases", json=body)
    assert r.status_code == expect, r.get_json()
    return r.get_json()


def limit(case: dict, rule: str) -> dict:
    return next(d for d in case["deadlines"] if d["rule"] == rule)


def settings(client, deadlines: dict):
    return client.put(f"/api/case-types/{KEY}/settings", json={"settings": {"deadlines": deadlines}})


def test_statutory_limits_carry_their_article(admin, county):
    """The statutory rules and their sources as declared, checked against the 2022 text."""
    sources = {r.key: r.source for r in PETITION.deadlines if r.statutory}
    assert sources == {"forward": "《信访工作条例》第二十二条", "notify": "《信访工作条例》第二十三条",
                       "handle": "《信访工作条例》第三十四条", "review": "《信访工作条例》第三十五条",
                       "recheck": "《信访工作条例》第三十六条（听证时间不计入）"}
    case = petition(admin, county)
    fwd = limit(case, "forward")
    assert (fwd["amount"], fwd["unit"], fwd["source"]) == (15, "calendar_days", "《信访工作条例》第二十二条")
    assert {d["rule"] for d in case["deadlines"]} == {"forward"}  # local rules are off until the county sets them


def test_local_limits_by_form_only_tighten(admin, county):
    """rule: PET-1 — letter 3 days, joint letter or visit the same day; looser than the
    statutory 15 days is refused with the article named, nothing saved."""
    r = settings(admin, {"forward_letter": {"amount": 20, "unit": "calendar_days"}})
    assert r.status_code == 422
    assert "第二十二条" in str(r.get_json()["errors"])
    assert admin.get(f"/api/case-types/{KEY}/settings").get_json()["settings"] == {}
    r = settings(admin, {"forward_letter": {"amount": 3, "unit": "calendar_days"},
                         "forward_visit": {"amount": 0, "unit": "calendar_days"}})
    assert r.status_code == 200, r.get_json()
    letter = petition(admin, county, form="letter")
    assert limit(letter, "forward_letter")["amount"] == 3
    assert "forward_visit" not in {d["rule"] for d in letter["deadlines"]}
    visit = petition(admin, county, form="visit")
    same_day = dt.datetime.fromisoformat(limit(visit, "forward_visit")["due_at"]).astimezone(SHANGHAI)
    registered = dt.datetime.fromisoformat(visit["created_at"]).astimezone(SHANGHAI)
    # 24:00 of the day it was registered (Civil Code Art. 203: a day ends at 24:00)
    assert same_day == dt.datetime.combine(registered.date() + dt.timedelta(days=1), dt.time(0), tzinfo=SHANGHAI)
    # the earliest running limit is the case's due time
    assert visit["due_at"] == limit(visit, "forward_visit")["due_at"]


def test_local_limit_over_national_day_and_an_adjusted_working_saturday():
    """rule: PET-1 with Civil Code Art. 201/203: 3 days from Mon 2026-09-28 end on Thu 10-01,
    a public holiday (National Day, 10-01…10-07) → moved to Thu 10-08; 3 days from 10-07 end
    on Sat 10-10, an adjusted working day (调休) → not moved. Dates from chinese-calendar."""
    rule = next(r for r in PETITION.deadlines if r.key == "forward_letter")
    cal = WorkCalendar()
    first = deadline(dt.datetime(2026, 9, 28, 9, tzinfo=SHANGHAI), 3, rule.unit, cal).due_at
    assert first == dt.datetime(2026, 10, 9, 0, 0, tzinfo=SHANGHAI)   # 24:00 of 10-08
    second = deadline(dt.datetime(2026, 10, 7, 9, tzinfo=SHANGHAI), 3, rule.unit, cal).due_at
    assert second == dt.datetime(2026, 10, 11, 0, 0, tzinfo=SHANGHAI)  # 24:00 of 10-10


def test_closing_limit_follows_the_nature_decided_on_acceptance(admin, county):
    """rule: PET-1 — facts clear → 5 days, complex → 30 days, on top of the statutory 60
    (Art. 34); the one extension of at most 30 days is the statutory one."""
    assert settings(admin, {"close_clear": {"amount": 5, "unit": "calendar_days"},
                            "close_complex": {"amount": 30, "unit": "calendar_days"}}).status_code == 200
    case = petition(admin, county)
    r = act(admin, case["id"], "accept", {"procedure": "clear"})
    assert r.status_code == 200, r.get_json()
    accepted = r.get_json()
    rules = {d["rule"]: d for d in accepted["deadlines"] if d["state"] == "running"}
    assert set(rules) == {"handle", "close_clear"}
    assert rules["close_clear"]["amount"] == 5 and rules["handle"]["amount"] == 60
    assert accepted["due_at"] <= rules["handle"]["due_at"]
    assert settings(admin, {"close_complex": {"amount": 61, "unit": "calendar_days"}}).status_code == 422


def _final(admin, county, petitioner) -> dict:
    case = petition(admin, county, [petitioner])
    assert act(admin, case["id"], "accept", {}).status_code == 200
    assert act(admin, case["id"], "reply", {"outcome": "经调查，承包地界线清楚"}).status_code == 200
    assert act(admin, case["id"], "request_review", {"note": "不服"}).status_code == 200
    assert act(admin, case["id"], "decide_review", {"outcome": "维持"}).status_code == 200
    assert act(admin, case["id"], "request_recheck", {"note": "仍不服"}).status_code == 200
    hearing = act(admin, case["id"], "start_hearing", {"note": "组织听证"}).get_json()
    assert limit(hearing, "recheck")["state"] == "paused"  # Art. 36: hearing time not counted
    assert act(admin, case["id"], "end_hearing", {}).status_code == 200
    done = act(admin, case["id"], "decide_recheck", {"outcome": "维持原处理意见"})
    assert done.status_code == 200 and done.get_json()["state"] == "rechecked"
    return case


def test_same_matter_after_recheck_is_blocked_unless_overridden(app, admin, county, login, db):
    """Art. 36: after 复核 the same facts and reasons are not accepted again → 409; with the
    override permission and a reason → registered, flagged and audited."""
    someone = person(admin, county)
    first = _final(admin, county, someone)
    blocked = petition(admin, county, [someone], expect=409)
    assert blocked["code"] == "final_after_recheck" and first["number"] in blocked["message"]
    # another category is another matter
    petition(admin, county, [someone], category="labour")
    # a reason without the permission: 403
    assert petition(admin, county, [someone], override_reason="出现新的证据", expect=403)["code"] == "forbidden"
    grant(db, county, "county.admin", [OVERRIDE_FINAL])
    chief = login(county, "county.admin")
    again = petition(chief, county, [someone], override_reason="出现新的证据")
    assert "after_recheck" in again["flags"]
    with db.transaction(county.id) as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "petition.final_override")).all()
    assert [a.object_id for a in audit] == [str(again["id"])]


def grant(db, county, username: str, perms: list[str]) -> None:
    """Give ``username`` a role with ``perms`` on the county (as a county's tenant.toml would)."""
    with db.transaction(county.id) as s:
        user = s.scalar(select(User).where(User.username == username))
        role = Role(key="petition_chief_t", name="信访部门负责人")
        s.add(role)
        s.flush()
        s.add_all([RolePermission(role_id=role.id, permission=p) for p in perms])
        s.add(RoleAssignment(user_id=user.id, role_id=role.id, org_unit_id=county.unit("C")))


def test_repeat_petition_is_linked_and_counted(admin, county):
    """rule: PET-6 — the same petitioner (here: same name and phone, another person record)
    in the same category → linked to the earlier petition, counted, flagged."""
    a = person(admin, county, idn=None)
    b = person(admin, county, idn=None, unit="T01D1V2")
    first = petition(admin, county, [a])
    second = petition(admin, county, [b])
    assert "repeat" in second["flags"] and "repeat" not in first["flags"]
    assert second["details"]["repeat_of_id"] == first["id"] and second["details"]["repeat_count"] == 1
    third = petition(admin, county, [a])
    assert third["details"]["repeat_of_id"] == second["id"] and third["details"]["repeat_count"] == 2


def test_collective_visit_flag_at_the_county_threshold(admin, county):
    """rule: PET-8 — 5 visitors (the county's threshold, default 5) → collective."""
    assert "collective" in petition(admin, county, form="visit", visitors=5)["flags"]
    assert "collective" not in petition(admin, county, form="visit", visitors=4)["flags"]
    r = admin.put("/api/modules/petition", json={"enabled": True, "settings": {"collective_threshold": 10}})
    assert r.status_code == 200, r.get_json()
    assert "collective" not in petition(admin, county, form="visit", visitors=5)["flags"]
    assert petition(admin, county, category="nope", expect=422)["code"] in ("unknown_category", "invalid")


def test_review_requested_after_30_days_is_refused(admin, county, db):
    """Art. 35: 复查 is requested within 30 days of the written answer; later → 409."""
    case = petition(admin, county)
    act(admin, case["id"], "accept", {})
    act(admin, case["id"], "reply", {"outcome": "答复"})
    with db.transaction(county.id) as s:
        s.execute(update(PetitionCase).where(PetitionCase.case_id == case["id"])
                  .values(replied_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40)))
    late = act(admin, case["id"], "request_review", {"note": "不服"})
    assert late.status_code == 409 and late.get_json()["code"] == "request_too_late"
    assert events(admin, case["id"])[-1] == "reply"


def _pdf_text(client, case_id: int, key: str) -> str:
    import io
    from pypdf import PdfReader
    r = client.get(f"/api/cases/{case_id}/documents/{key}")
    assert r.status_code == 200 and r.mimetype == "application/pdf", (key, r.status_code)
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages).replace("\n", "").replace(" ", "")


def test_documents_state_who_acted_for_which_unit_and_when(app, db, county, login):
    """Issue 15, item 4: the receipt named the village as the registering unit when the
    township registered it; notices were signed by whichever unit handled the case and dated
    the day they were printed; the transfer slip left out the instructions; "办理期限至。" with a
    blank. Each document now takes its facts from the act it records."""
    import time_machine
    from core.timefmt import limit_end
    grant(db, county, "donghu.admin", ["petition.read", "petition.register", "petition.handle", "core.case.read",
                                       "core.case.register", "core.case.divert", "core.person.manage"])
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI), tick=False):
        town = login(county, "donghu.admin")  # 东湖镇's petition office registers a matter of 罗塘村
        case = petition(town, county, [person(town, county)])
        r = town.post(f"/api/cases/{case['id']}/divert", json={"mode": "single", "tasks": [
            {"org_unit_id": county.unit("T01D1V1"), "instruction": "请三日内核实并答复信访人"}]})
        assert r.status_code == 200, r.get_json()
    with time_machine.travel(dt.datetime(2026, 3, 4, 10, 0, tzinfo=SHANGHAI), tick=False):
        admin = login(county, "county.admin")  # the county centre accepts it
        accepted = act(admin, case["id"], "accept", {})
        assert accepted.status_code == 200, accepted.get_json()
    with time_machine.travel(dt.datetime(2026, 3, 20, 15, 0, tzinfo=SHANGHAI), tick=False):
        reader = login(county, "county.admin")  # printed two weeks later
        receipt = _pdf_text(reader, case["id"], "petition.receipt")
        assert "登记单位东湖镇" in receipt and "发生地罗塘村" in receipt, receipt
        assert receipt.endswith("东湖镇2026年3月2日") or "东湖镇2026年3月2日—1—" in receipt, receipt
        slip = _pdf_text(reader, case["id"], "petition.transfer_slip")
        assert slip.split("：")[0].endswith("罗塘村"), slip  # addressed to the unit it was sent to
        assert "交办意见：请三日内核实并答复信访人" in slip, slip
        assert "东湖镇2026年3月2日" in slip and "2026年3月20日" not in slip, slip
        notice = _pdf_text(reader, case["id"], "petition.accept_notice")
        assert "本机关于2026年3月4日决定予以受理" in notice, notice
        assert "示范县2026年3月4日" in notice and "2026年3月20日" not in notice, notice
        due = limit_end(dt.datetime.fromisoformat(accepted.get_json()["due_at"]), "%Y-%m-%d")[:10]
        y, m, d = (int(x) for x in due.split("-"))
        assert f"本事项办理期限至{y}年{m}月{d}日。" in notice, (due, notice)  # the day the screens show
        for text in (receipt, slip, notice):
            assert "至。" not in text and "：。" not in text
