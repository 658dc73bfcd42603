"""Issue 21, VIL-2 (people speak): opinion collection points and their collectors, one-time codes
for the public form, opinions from the public page or the collector, and their triage into the
one window (then a case) — through the API and the pages."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from core.workdays import SHANGHAI
from tests.casework import grant
from tests.conftest import Client

TODAY = dt.datetime(2026, 11, 20, 10, tzinfo=SHANGHAI)
COLLECTOR = ["village.read", "village.opinion", "core.person.read", "core.case.read", "core.case.register"]


@pytest.fixture
def pingan_plugins():
    return ["village"]


@pytest.fixture
def cadre(app, db, county, client_as):
    grant(db, county, "village.cadre", COLLECTOR, unit="T01D1V1", key="village_collector")
    return client_as("village.cadre")


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(TODAY, tick=False) as clock:
        yield clock


def point(client, county, unit="T01D1V1", expect=201, **extra) -> dict:
    person = client.post("/api/persons", json={"name": "罗采集", "org_unit_id": county.unit(unit)})
    body = {"org_unit_id": county.unit(unit), "name": "罗塘村村部采集点", "place": "村部一楼",
            "collector_person_id": person.get_json().get("id")} | extra
    r = client.post("/api/village/opinion-points", json=body)
    assert r.status_code == expect, r.get_json()
    return r.get_json()


def test_a_code_from_a_slip_brings_one_opinion_which_goes_to_the_window(app, county, cadre, client_as, db, frozen):
    # rule: VIL-2 — opinions received from the public with a one-time code, triaged into cases
    p = point(cadre, county)
    assert p["collector"] == "罗采集"
    r = cadre.post(f"/api/village/opinion-points/{p['id']}/codes", json={"count": 3})
    assert r.status_code == 201, r.get_json()
    codes, expires = r.get_json()["codes"], r.get_json()["expires_on"]
    assert len(set(codes)) == 3 and expires == "2026-12-19"          # the county's 30 days, today included
    from plugins.village.opinions import OpinionCode
    with db.transaction(county.id) as s:                            # only hashes are kept
        stored = s.scalars(select(OpinionCode.code_hash)).all()
    assert all(c not in str(stored) and c.replace("-", "") not in str(stored) for c in codes)

    public = Client(app, county.host)
    r = public.post("/api/village/public/opinions", json={"code": codes[0].lower(), "content": "村口路灯坏了三个月"})
    assert r.status_code == 201 and r.get_json() == {"received": True, "village": "罗塘村"}
    again = public.post("/api/village/public/opinions", json={"code": codes[0], "content": "再说一次"})
    assert again.status_code == 422 and again.get_json()["code"] == "invalid_code"
    assert list(again.get_json()["errors"]["json"]) == ["code"]
    unknown = public.post("/api/village/public/opinions", json={"code": "ABCD-EFGH", "content": "x"})
    assert unknown.get_json()["message"] == again.get_json()["message"]     # no oracle: the same words
    frozen.move_to(TODAY + dt.timedelta(days=30))
    expired = public.post("/api/village/public/opinions", json={"code": codes[1], "content": "过期了"})
    assert expired.status_code == 422 and expired.get_json()["code"] == "invalid_code"
    frozen.move_to(TODAY)

    items = cadre.get("/api/village/opinions").get_json()["items"]
    assert [(o["content"], o["via"], o["state"], o["point"]) for o in items] == \
        [("村口路灯坏了三个月", "public", "new", "罗塘村村部采集点")]
    bare = cadre.post(f"/api/village/opinions/{items[0]['id']}/triage", json={"action": "answered"})
    assert bare.status_code == 422 and bare.get_json()["code"] == "note_required"
    r = cadre.post(f"/api/village/opinions/{items[0]['id']}/triage", json={"action": "intake"})
    assert r.status_code == 200 and r.get_json()["state"] == "intake" and r.get_json()["intake_id"]
    intake = cadre.get(f"/api/intake/{r.get_json()['intake_id']}").get_json()
    assert intake["subject"].startswith("社情民意：村口路灯坏了三个月") and "罗塘村村部采集点" in intake["content"]
    twice = cadre.post(f"/api/village/opinions/{items[0]['id']}/triage", json={"action": "dismissed", "note": "重复"})
    assert twice.status_code == 409


def test_the_collector_records_in_person_and_scope_holds(county, cadre, client_as, db):
    p = point(cadre, county)
    r = cadre.post("/api/village/opinions", json={"point_id": p["id"], "content": "希望增设垃圾桶",
                                                  "received_on": "2026-11-19"})
    assert r.status_code == 201 and r.get_json()["via_title"] == "采集员登记"
    future = cadre.post("/api/village/opinions", json={"point_id": p["id"], "content": "x", "received_on": "2026-11-21"})
    assert future.status_code == 422 and "received_on" in future.get_json()["errors"]["json"]
    r = cadre.post(f"/api/village/opinions/{r.get_json()['id']}/triage", json={"action": "answered",
                                                                           "note": "已联系保洁公司，本周增设"})
    assert r.get_json()["state_title"] == "已答复"
    # another village's cadre: the point and its opinions are not theirs
    grant(db, county, "village.cadre2", COLLECTOR, unit="T01D1V2", key="village_collector2")
    other = client_as("village.cadre2")
    assert other.post(f"/api/village/opinion-points/{p['id']}/codes", json={"count": 1}).status_code == 404
    out = other.post("/api/village/opinions", json={"point_id": p["id"], "content": "x", "received_on": "2026-11-19"})
    assert out.status_code == 404 and "point_id" in out.get_json()["errors"]["json"]
    assert other.get("/api/village/opinions").get_json()["items"] == []
    point(cadre, county, unit="T01D1V1G1", expect=422)                      # a group is no village


def test_the_pages_issue_codes_once_and_the_public_form_keeps_what_was_typed(app, county, cadre, client_as):
    p = point(cadre, county)
    page = cadre.post("/village/opinion-codes", data={"point_id": str(p["id"]), "count": "2"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    import re
    codes = re.findall(r"<strong>([2-9A-Z]{4}-[2-9A-Z]{4})</strong>", text)
    assert len(codes) == 2 and "只显示这一次" in text
    assert codes[0] not in cadre.get("/village/opinions").get_data(as_text=True)   # never shown again
    public = Client(app, county.host)
    form = public.get("/village/opinion")
    assert form.status_code == 200 and "验证码" in form.get_data(as_text=True)
    bad = public.post("/village/opinion", data={"code": "ZZZZ-ZZZZ", "content": "路灯不亮"})
    assert bad.status_code == 422
    assert "验证码无效" in bad.get_data(as_text=True) and "路灯不亮</textarea>" in bad.get_data(as_text=True)
    ok = public.post("/village/opinion", data={"code": codes[0], "content": "路灯不亮"})
    assert ok.status_code == 200 and "已收到您的意见" in ok.get_data(as_text=True)
    listed = cadre.get("/village/opinions").get_data(as_text=True)
    assert "路灯不亮" in listed and "群众网上提交" in listed and "待分办" in listed
    oid = cadre.get("/api/village/opinions").get_json()["items"][0]["id"]
    r = cadre.post(f"/village/opinions/{oid}/triage", data={"action": "dismissed", "note": ""})
    assert r.status_code == 422 and f'id="t{oid}-note-error"' in r.get_data(as_text=True)
    r = cadre.post(f"/village/opinions/{oid}/triage", data={"action": "dismissed", "note": "已由乡镇统一维修"})
    assert r.status_code == 302
    assert "不予处理：已由乡镇统一维修" in cadre.get("/village/opinions").get_data(as_text=True)
