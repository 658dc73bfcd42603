"""Issue 20 (key persons, POLICY-RULES JNT-4): categories with typed fields, purpose-bound
access (PIPL Art. 28), visits on the county's cadence, retention, and no category leaking."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from core.app import pingan
from core.audit import AuditEntry
from core.db import bind_tenant
from core.jobs import bind_state
from core.privacy import id_number_checksum
from core.testing import LOG_FILE_NAME
from core.workdays import SHANGHAI
from plugins.keypersons import jobs
from plugins.keypersons.models import KeyPerson, Visit
from tests.conftest import load_tenant

NOW = dt.datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)
TITLES = ("刑满释放人员", "社区矫正对象", "吸毒人员", "重点关注人员", "重点青少年", "流动人口")
RELEASED = {"offence": "盗窃罪", "sentence": "有期徒刑二年", "release_date": "2026-02-01",
            "handover_date": "2026-02-03", "placed": True, "placement": "务农", "helped": True}


def id_number(seq: int) -> str:
    first = f"11010119900307{seq:03d}"
    return first + id_number_checksum(first)


@pytest.fixture
def county(app, login):
    tenant = load_tenant(app)
    admin = login(tenant, "county.admin")
    for module in ("keypersons", "visits"):   # visits: a case type, for a case page of a key person
        r = admin.put(f"/api/modules/{module}", json={"enabled": True})
        assert r.status_code == 200, r.get_json()
    return tenant


def register(client, county, name="谢光明", category="released", unit="T01D1V1", risk="high", details=None, seq=1,
             expect=201):
    r = client.post("/api/keypersons/records", json={
        "org_unit_id": county.unit(unit), "category": category, "risk_level": risk, "name": name,
        "id_number": id_number(seq), "phone": f"1390000{seq:04d}", "address": "东湖镇罗塘村三组",
        "details": RELEASED if details is None else details})
    assert r.status_code == expect, r.get_json()
    return r.get_json()


def _reader_role(county, login, username="village.cadre2", perms=("keypersons.use", "keypersons.released.read")):
    admin = login(county, "county.admin")
    role = admin.post("/api/roles", json={"key": "kp_reader", "name": "重点人员查阅", "permissions": list(perms)})
    assert role.status_code == 201, role.get_json()
    users = {u["username"]: u["id"] for u in admin.get("/api/users?limit=200").get_json()["items"]}
    r = admin.post("/api/role-assignments", json={"user_id": users[username], "role_id": role.get_json()["id"],
                                                  "org_unit_id": county.unit("T01")})
    assert r.status_code == 201, r.get_json()


def test_a_person_reader_without_the_key_person_permission_gets_404_and_sees_no_category(app, county, login):
    # rule: JNT-4 — the category of a person is sensitive; the record answers 404 as if absent
    log = pingan(app).config.instance_dir / LOG_FILE_NAME
    start = log.stat().st_size if log.exists() else 0
    with time_machine.travel(NOW, tick=False):
        town = login(county, "donghu.admin")
        rec = register(town, county, name="谢光明")
        cadre = login(county, "village.cadre")      # core.person.read on 罗塘村, no key-person permission
        for url in (f"/api/keypersons/records/{rec['id']}?purpose=visit", f"/api/keypersons/records/{rec['id']}",
                    f"/keypersons/records/{rec['id']}"):
            assert cadre.get(url).status_code == 404, url
        assert cadre.post(f"/api/keypersons/records/{rec['id']}/visits", json={
            "visited_on": "2026-03-02", "way": "home", "visitor": "村干部", "result": "stable"}).status_code == 404
        assert cadre.get("/api/keypersons/records").get_json()["items"] == []
        seen = [cadre.get("/api/persons?limit=200"), cadre.get("/api/search?q=谢光明"), cadre.get("/"),
                cadre.get("/api/keypersons/records"), cadre.get("/api/inbox?limit=100")]
        persons = seen[0].get_json()["items"]
        assert any(p["name"] == "谢光明" for p in persons)   # the resident is visible, the category is not
        for r in seen:
            body = r.get_data(as_text=True)
            assert not any(t in body for t in TITLES) and "released" not in body, r.request.path
        # a case of that person: its page names the person but no category
        case = cadre.post("/api/cases", json={"case_type": "visits.visit", "title": "走访", "content": "例行走访",
                                              "org_unit_id": county.unit("T01D1V1"), "details": {"visit_kind": "home"},
                                              "persons": [{"person_id": next(p["id"] for p in persons
                                                                             if p["name"] == "谢光明"),
                                                           "role": "requester"}]})
        assert case.status_code == 201, case.get_json()
        page = cadre.get(f"/cases/{case.get_json()['id']}").get_data(as_text=True)
        assert "谢光明" in page and not any(t in page for t in TITLES)
    written = log.read_text(encoding="utf-8")[start:] if log.exists() else ""
    assert "谢光明" not in written and not any(t in written for t in TITLES) and id_number(1) not in written


def test_a_read_needs_a_purpose_from_the_county_list_and_is_audited_with_it(app, county, login, county_session):
    # rule: JNT-4 (PIPL Art. 28: processed only for a specific purpose)
    with time_machine.travel(NOW, tick=False):
        town = login(county, "donghu.admin")
        rec = register(town, county, name="谢光明")
        r = town.get(f"/api/keypersons/records/{rec['id']}")
        assert r.status_code == 422 and r.get_json()["code"] == "purpose_required"
        assert "purpose" in r.get_json()["errors"]["query"]
        r = town.get(f"/api/keypersons/records/{rec['id']}?purpose=curiosity")
        assert r.status_code == 422 and r.get_json()["code"] == "unknown_purpose"
        r = town.get(f"/api/keypersons/records/{rec['id']}?purpose=visit")
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert body["name"] == "谢光明" and body["id_number"] == id_number(1) and body["category"] == "released"
        assert body["details"]["offence"] == "盗窃罪" and body["next_visit_due"] == "2026-03-09"  # high risk: 7 days
        # the web page asks for the purpose, then shows the record
        assert "查阅事由" in town.get(f"/keypersons/records/{rec['id']}").get_data(as_text=True)
        assert town.post(f"/keypersons/records/{rec['id']}", data={"purpose": ""}).status_code == 422
        page = town.post(f"/keypersons/records/{rec['id']}", data={"purpose": "case"})
        assert page.status_code == 200 and "盗窃罪" in page.get_data(as_text=True)
        # a reader of the category (not its manager) sees the name masked in the list
        _reader_role(county, login)
        reader = login(county, "village.cadre2")
        items = reader.get("/api/keypersons/records").get_json()["items"]
        assert [i["name"] for i in items] == ["谢**"] and items[0]["category_title"] == "刑满释放人员"
        assert town.get("/api/keypersons/records").get_json()["items"][0]["name"] == "谢光明"
    with county_session() as s:
        reads = s.scalars(select(AuditEntry).where(AuditEntry.action == "read_sensitive",
                                                   AuditEntry.object_type == "keypersons_record",
                                                   AuditEntry.object_id == str(rec["id"]))
                          .order_by(AuditEntry.id)).all()
    assert [e.changes["purpose"] for e in reads] == ["visit", "case"]   # refused reads are not reads


def test_each_category_has_its_own_validated_fields(county, login, county_session):
    # rule: JNT-4 — a schema per category
    with time_machine.travel(NOW, tick=False):
        town = login(county, "donghu.admin")
        bad = register(town, county, details={"sentence": "一年"}, expect=422)
        assert "details.offence" in bad["errors"]["json"]
        bad = register(town, county, details={**RELEASED, "shoe_size": 42}, expect=422)
        assert "details.shoe_size" in bad["errors"]["json"]
        register(town, county, category="corrections", seq=2, details={
            "correction_category": "缓刑", "start_date": "2026-01-01", "end_date": "2027-01-01",
            "team": "司法所、村委会", "absconding": "absconded", "absconding_cause": "外出务工未报告",
            "absconding_fix": "已责令返回", "reoffended": True})
        bad = register(town, county, category="corrections", seq=3, details={"correction_category": "缓刑"}, expect=422)
        assert "details.start_date" in bad["errors"]["json"]
        assert register(town, county, unit="T02", seq=4, expect=404)["errors"]["json"]["org_unit_id"]
        register(town, county, seq=1)
        register(town, county, seq=1, expect=409)    # the same person, the same category, still supervised
        bad = town.post("/api/keypersons/records", json={"org_unit_id": county.unit("T01D1V1"), "category": "released",
                                                         "risk_level": "high", "name": "甲", "id_number": "123",
                                                         "details": RELEASED})
        assert bad.status_code == 422 and "id_number" in bad.get_json()["errors"]["json"]
        # the re-offence reaches the figures and the scoring indicator (SCO-1: 社区服刑人员又犯罪)
        f = town.get(f"/api/keypersons/figures?under={county.unit('T01')}&start=2026-01-01&end=2026-03-02").get_json()
        assert f["reoffences"] == 1 and f["counts"]["corrections"] == 1 and f["counts"]["released"] == 1
        from plugins.keypersons.figures import reoffence_indicator
        with county_session() as s:
            assert reoffence_indicator(s, county.unit("T01"), dt.date(2026, 1, 1), dt.date(2026, 4, 1)) == 1.0
            assert reoffence_indicator(s, county.unit("T02"), dt.date(2026, 1, 1), dt.date(2026, 4, 1)) == 0.0


def test_a_missed_visit_becomes_overdue_and_reaches_the_responsible_units_inbox(app, county, login, county_session):
    # rule: JNT-4 — visits due by the county's cadence per category and risk level
    bind_state(pingan(app))
    with time_machine.travel(NOW, tick=False) as clock:
        town = login(county, "donghu.admin")
        admin = login(county, "county.admin")
        r = admin.put("/api/modules/keypersons", json={"enabled": True, "settings": {
            "visit_days": {"released": {"high": 10, "medium": 30, "low": 90}}}})
        assert r.status_code == 200, r.get_json()
        rec = register(town, county, unit="T01")     # due 2026-03-12
        kept = register(town, county, unit="T01", seq=2)
        clock.move_to(NOW + dt.timedelta(days=9))
        town = login(county, "donghu.admin")
        visit = town.post(f"/api/keypersons/records/{kept['id']}/visits", json={
            "visited_on": "2026-03-11", "way": "home", "visitor": "镇综治办", "content": "谈心谈话", "result": "stable"})
        assert visit.status_code == 201 and visit.get_json()["on_time"] is True
        clock.move_to(NOW + dt.timedelta(days=11))
        town = login(county, "donghu.admin")
        with bind_tenant(county.id):
            jobs.visits_due(county.id)
            jobs.visits_due(county.id)      # once per due date
        inbox = [n for n in town.get("/api/inbox?limit=100").get_json()["items"] if n["title"] == "重点人员走访逾期"]
        assert len(inbox) == 1 and "2026-03-12" in inbox[0]["body"] and inbox[0]["kind"] == "todo"
        assert "谢光明" not in inbox[0]["body"] and "刑满释放" not in inbox[0]["body"]
        overdue = town.get("/api/keypersons/records?overdue=true").get_json()["items"]
        assert [i["id"] for i in overdue] == [rec["id"]]
        # the late visit is recorded as late and clears the flag
        late = town.post(f"/api/keypersons/records/{rec['id']}/visits", json={
            "visited_on": "2026-03-13", "way": "phone", "visitor": "镇综治办", "result": "attention"})
        assert late.get_json()["on_time"] is False
        assert town.get("/api/keypersons/records?overdue=true").get_json()["items"] == []
        future = town.post(f"/api/keypersons/records/{rec['id']}/visits", json={
            "visited_on": "2026-04-13", "way": "phone", "visitor": "镇综治办", "result": "stable"})
        assert future.status_code == 422 and "visited_on" in future.get_json()["errors"]["json"]
    with county_session() as s:
        assert s.scalar(select(KeyPerson.next_visit_due).where(KeyPerson.id == rec["id"])) == dt.date(2026, 3, 23)


def test_retention_anonymises_records_past_it_and_the_audit_keeps_the_fact_not_the_data(app, county, login,
                                                                                        county_session):
    # rule: JNT-4 — a county's retention per category; PIPL Art. 47 (erase when the purpose is served)
    bind_state(pingan(app))
    with time_machine.travel(NOW, tick=False) as clock:
        town = login(county, "donghu.admin")
        old = register(town, county, name="谢光明", seq=1)
        recent = register(town, county, name="郑秀英", seq=2)
        assert town.post(f"/api/keypersons/records/{old['id']}/visits", json={
            "visited_on": "2026-03-02", "way": "home", "visitor": "镇综治办", "content": "谈心谈话",
            "result": "stable"}).status_code == 201
        assert town.post(f"/api/keypersons/records/{old['id']}/end", json={"ended_on": "2026-03-01"}).status_code == 200
        clock.move_to(dt.datetime(2029, 3, 2, 10, tzinfo=SHANGHAI))
        town = login(county, "donghu.admin")
        assert town.post(f"/api/keypersons/records/{recent['id']}/end", json={"ended_on": "2029-03-01"}).status_code == 200
        clock.move_to(dt.datetime(2031, 3, 3, 10, tzinfo=SHANGHAI))   # 5 years (the default) and a day
        town = login(county, "donghu.admin")
        with bind_tenant(county.id):
            jobs.retention(county.id)
        assert town.get(f"/api/keypersons/records/{old['id']}?purpose=visit").status_code == 404
        assert town.get(f"/api/keypersons/records/{recent['id']}?purpose=visit").status_code == 200
    with county_session() as s:
        row = s.scalar(select(KeyPerson).where(KeyPerson.id == old["id"]))
        assert row.person_id is None and row.details is None and row.anonymised_at is not None
        assert all(v.content is None and v.visitor is None
                   for v in s.scalars(select(Visit).where(Visit.record_id == old["id"])))
        entries = s.scalars(select(AuditEntry).where(AuditEntry.object_type == "keypersons_record",
                                                     AuditEntry.object_id == str(old["id"]))).all()
    fact = [e for e in entries if e.action == "keypersons.anonymised"]
    assert len(fact) == 1 and fact[0].changes == {"reason": "retention"}
    text = repr([e.changes for e in entries])
    assert "谢光明" not in text and id_number(1) not in text and "released" not in text and "盗窃" not in text


def test_the_database_holds_no_category_next_to_a_name_and_no_plain_identifying_field(app, county, login):
    # rule: JNT-4 — identifying fields and the category encrypted at rest
    from sqlalchemy import create_engine

    from tests.conftest import PG_URL
    from tests.pii_at_rest import dump
    with time_machine.travel(NOW, tick=False):
        town = login(county, "donghu.admin")
        rec = register(town, county, name="谢光明")
        town.post(f"/api/keypersons/records/{rec['id']}/visits", json={
            "visited_on": "2026-03-02", "way": "home", "visitor": "镇综治办王干事", "content": "了解就业意向",
            "result": "stable"})
        town.get(f"/api/keypersons/records/{rec['id']}?purpose=visit")
    owner = create_engine(PG_URL) if PG_URL else pingan(app).db.engine   # the owner: row-level security hides nothing
    try:
        dumped = dump(owner)
    finally:
        if PG_URL:
            owner.dispose()
    assert "谢光明" in dumped              # the core's person table: the check can see a plain column
    for line in dumped.splitlines():
        if "谢光明" in line:
            assert not any(t in line for t in TITLES) and "released" not in line, line
    for secret in (id_number(1), "13900000001", "盗窃罪", "了解就业意向", "镇综治办王干事"):
        assert secret not in dumped


def test_registering_on_the_page_takes_the_category_first_then_its_fields(county, login):
    # rule: JNT-4 — the category travels in the form body, never in the URL
    with time_machine.travel(NOW, tick=False):
        town = login(county, "donghu.admin")
        first = town.post("/keypersons/new", data={"category": "released"})
        page = first.get_data(as_text=True)
        assert first.status_code == 200 and "罪名" in page and 'name="step" value="2"' in page
        form = {"category": "released", "step": "2", "org_unit_id": str(county.unit("T01D1V1")), "risk_level": "low",
                "name": "郑秀英", "d_release_date": "2026-02-01"}
        refused = town.post("/keypersons/new", data=form)
        assert refused.status_code == 422 and "罪名：填写有误" in refused.get_data(as_text=True)
        assert 'value="郑秀英"' in refused.get_data(as_text=True)   # what was typed is kept
        done = town.post("/keypersons/new", data={**form, "d_offence": "诈骗罪", "d_placed": "true"})
        assert done.status_code == 302 and "released" not in done.headers["Location"]
        listed = town.get("/keypersons/").get_data(as_text=True)
        assert "郑秀英" in listed and "刑满释放人员" in listed
        rec = town.get("/api/keypersons/records").get_json()["items"][0]
        assert town.get(f"/api/keypersons/records/{rec['id']}?purpose=assessment").get_json()["details"]["placed"] is True
        later = town.post(f"/keypersons/records/{rec['id']}/end", data={"ended_on": "2026-04-01", "purpose": "visit"})
        assert later.status_code == 422 and "撤销列管日期不能晚于今天" in later.get_data(as_text=True)
        ended = town.post(f"/keypersons/records/{rec['id']}/end", data={"ended_on": "2026-03-01", "purpose": "visit"})
        assert ended.status_code == 302
        assert town.get("/api/keypersons/records?status=ended").get_json()["items"][0]["ended_on"] == "2026-03-01"


def test_the_officer_sees_who_read_which_record_and_why_and_the_export_is_watermarked(county, login, county_session):
    # rule: JNT-4 — reads reported to the data-protection officer; exports need a second permission
    import io

    from openpyxl import load_workbook
    with time_machine.travel(NOW, tick=False):
        town = login(county, "donghu.admin")
        rec = register(town, county, name="谢光明")
        assert town.get(f"/api/keypersons/records/{rec['id']}?purpose=visit").status_code == 200
        assert town.get("/api/keypersons/export").status_code == 403        # no export permission
        assert town.get("/api/keypersons/readers?start=2026-03-01&end=2026-03-02").status_code == 403
        officer = login(county, "county.admin")
        report = officer.get("/api/keypersons/readers?start=2026-03-01&end=2026-03-02")
        assert report.status_code == 200, report.get_json()
        items = report.get_json()["items"]
        assert [(i["record_id"], i["name"], i["purpose_title"]) for i in items] == [(rec["id"], "谢**", "走访帮教")]
        assert items[0]["reader"] and "刑满释放" not in report.get_data(as_text=True)
        assert "走访帮教" in officer.get("/keypersons/readers?start=2026-03-01&end=2026-03-02").get_data(as_text=True)
        xlsx = officer.get("/api/keypersons/export")
        assert xlsx.status_code == 200
        ws = load_workbook(io.BytesIO(xlsx.data)).active
        rows = [[c.value for c in row] for row in ws.iter_rows()]
        assert rows[0][0].startswith("导出人：") and "2026-03-02 10:00" in rows[0][0] and rows[-1] == rows[0]
        assert ["谢光明", "刑满释放人员", "罗塘村", "高"] == rows[2][:4]
    with county_session() as s:
        assert s.scalar(select(AuditEntry.changes).where(AuditEntry.action == "keypersons.export")) == {"rows": 1}


def test_a_hand_over_moves_the_record_keeps_its_history_and_tells_the_new_unit(app, county, login, county_session):
    # rule: JNT-4 — a person moving to another village: hand-over between units keeps the history
    _reader_role(county, login)                     # village.cadre2 (郭岭村) may read released prisoners
    with time_machine.travel(NOW, tick=False):
        town = login(county, "donghu.admin")
        rec = register(town, county)                                   # 罗塘村
        assert town.post(f"/api/keypersons/records/{rec['id']}/visits", json={
            "visited_on": "2026-03-02", "way": "home", "visitor": "村综治专干", "result": "stable"}).status_code == 201
        url = f"/api/keypersons/records/{rec['id']}/handover"
        out = town.post(url, json={"org_unit_id": county.unit("T02D1V1"), "handed_over_on": "2026-03-02"})
        assert out.status_code == 404 and "org_unit_id" in out.get_json()["errors"]["json"]   # 青山乡: not the township's
        same = town.post(url, json={"org_unit_id": county.unit("T01D1V1"), "handed_over_on": "2026-03-02"})
        assert same.status_code == 422 and same.get_json()["code"] == "same_unit"
        future = town.post(url, json={"org_unit_id": county.unit("T01D1V2"), "handed_over_on": "2026-03-09"})
        assert future.status_code == 422 and "handed_over_on" in future.get_json()["errors"]["json"]
        moved = town.post(url, json={"org_unit_id": county.unit("T01D1V2"), "handed_over_on": "2026-03-02",
                                     "reason": "迁居郭岭村投靠亲属"})
        assert moved.status_code == 200, moved.get_json()
        full = town.get(f"/api/keypersons/records/{rec['id']}?purpose=visit").get_json()
        assert full["org_unit_name"] == "郭岭村" and len(full["visits"]) == 1         # the history stays
        assert [(h["from_unit_name"], h["to_unit_name"], h["reason"]) for h in full["handovers"]] == [
            ("罗塘村", "郭岭村", "迁居郭岭村投靠亲属")]
        todo = [n for n in login(county, "village.cadre2").get("/api/inbox?limit=100").get_json()["items"]
                if n["title"] == "重点人员移交"]
        assert len(todo) == 1 and todo[0]["kind"] == "todo"
        assert "谢光明" not in todo[0]["body"] and "刑满释放" not in todo[0]["body"]
        # the page: the receiving unit chosen by name, the hand-overs listed
        page = town.post(f"/keypersons/records/{rec['id']}", data={"purpose": "visit"}).get_data(as_text=True)
        assert 'id="kp-handover"' in page and "迁居郭岭村投靠亲属" in page and "罗塘村</option>" in page
        back = town.post(f"/keypersons/records/{rec['id']}/handover", data={
            "purpose": "visit", "org_unit_id": str(county.unit("T01D1V1")), "handed_over_on": "2026-03-02"})
        assert back.status_code == 200 and "已移交" in back.get_data(as_text=True)
        # 罗塘村's cadre may not read the category: told nothing (the to-do would say a key person is there)
        assert [n for n in login(county, "village.cadre").get("/api/inbox?limit=100").get_json()["items"]
                if "重点人员" in n["title"]] == []
    with county_session() as s:
        assert s.scalar(select(KeyPerson.org_unit_id).where(KeyPerson.id == rec["id"])) == county.unit("T01D1V1")
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "keypersons.handed_over")).all()
        assert len(entries) == 2 and all("released" not in str(e.changes) for e in entries)


def test_a_new_case_of_a_key_person_alerts_only_the_units_readers_and_shows_on_the_record(app, county, login,
                                                                                        county_session):
    # rule: JNT-4 — links: the person's cases on the record; a new one alerts the responsible unit
    with time_machine.travel(NOW, tick=False):
        town = login(county, "donghu.admin")
        rec = register(town, county, name="谢光明")                       # 罗塘村
        with county_session() as s:
            person = s.scalar(select(KeyPerson.person_id).where(KeyPerson.id == rec["id"]))

        def visit_case(client, title):
            r = client.post("/api/cases", json={
                "case_type": "visits.visit", "title": title, "content": "上门", "org_unit_id": county.unit("T01D1V1"),
                "details": {"visit_kind": "home"}, "persons": [{"person_id": person, "role": "requester"}]})
            assert r.status_code == 201, r.get_json()
            return r.get_json()
        first = visit_case(town, "走访甲")
        cadre = login(county, "village.cadre")                           # 罗塘村's user, no key-person permission
        assert [n for n in cadre.get("/api/inbox?limit=100").get_json()["items"] if "重点人员" in n["title"]] == []
        admin = login(county, "county.admin")
        role = admin.post("/api/roles", json={"key": "kp_village", "name": "村重点人员查阅",
                                              "permissions": ["keypersons.use", "keypersons.released.read"]})
        users = {u["username"]: u["id"] for u in admin.get("/api/users?limit=200").get_json()["items"]}
        assert admin.post("/api/role-assignments", json={"user_id": users["village.cadre"], "role_id": role.get_json()["id"],
                                                         "org_unit_id": county.unit("T01D1V1")}).status_code == 201
        second = visit_case(town, "走访乙")
        cadre = login(county, "village.cadre")
        alerts = [n for n in cadre.get("/api/inbox?limit=100").get_json()["items"] if n["title"] == "重点人员有新登记的事项"]
        assert len(alerts) == 1 and second["number"] in alerts[0]["body"] and alerts[0]["kind"] == "todo"
        assert "谢光明" not in alerts[0]["body"] and not any(t in alerts[0]["body"] for t in TITLES)
        full = town.get(f"/api/keypersons/records/{rec['id']}?purpose=visit").get_json()
        assert [c["number"] for c in full["cases"]] == [second["number"], first["number"]]
        assert full["cases"][0]["case_type_title"] and full["cases"][0]["registered_on"] == "2026-03-02"
        page = town.post(f"/keypersons/records/{rec['id']}", data={"purpose": "visit"}).get_data(as_text=True)
        assert f'>{first["number"]}</a>' in page and f'/cases/{first["id"]}' in page
        _reader_role(county, login)                         # village.cadre2: the record, not 罗塘村's cases
        other = login(county, "village.cadre2").get(f"/api/keypersons/records/{rec['id']}?purpose=visit")
        assert other.status_code == 200 and other.get_json()["cases"] == []
