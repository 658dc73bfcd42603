"""Issue 20: a key person moving to another county is a request that county accepts, never a copy
(``core.transfers``, docs/transfers.md). The offer reaches the other county with the category
and risk only; the person and the history cross only on acceptance; a refusal, a withdrawal and
a county without the module each end it with nothing copied; every step is idempotent."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import func, select, update

from core.app import pingan
from core.audit import AuditEntry
from core.crypto import blind_index
from core.models import Person, Tenant
from core.transfers import TransferIn, TransferOut, relay
from core.workdays import SHANGHAI
from plugins.keypersons.models import KeyPerson
from tests.casework import run_jobs
from tests.conftest import load_tenant
from tests.test_keypersons import id_number, register

NOW = dt.datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)


def _county(app, login, name: str, modules=("keypersons",)):
    tenant = load_tenant(app)
    with pingan(app).db.Session() as s, s.begin():
        s.execute(update(Tenant).where(Tenant.id == tenant.id).values(name=name))
    admin = login(tenant, "county.admin")
    for module in modules:
        r = admin.put(f"/api/modules/{module}", json={"enabled": True})
        assert r.status_code == 200, r.get_json()
    return tenant


@pytest.fixture
def counties(app, login):
    return _county(app, login, "东湖县"), _county(app, login, "西山县")


def _count(app, tenant, model, *where) -> int:
    with pingan(app).db.transaction(tenant.id) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def offer(client, rec_id, to, note="户籍迁往西山县城关镇", expect=201):
    r = client.post(f"/api/keypersons/records/{rec_id}/transfer", json={"to_tenant_id": to.id, "note": note})
    assert r.status_code == expect, r.get_json()
    return r.get_json()


def test_an_accepted_transfer_brings_the_person_and_history_and_ends_the_record_here(app, counties, login):
    # rule: JNT-4 — a transfer to another county on the platform is a request that county accepts
    east, west = counties
    with time_machine.travel(NOW, tick=False):
        town = login(east, "donghu.admin")
        rec = register(town, east, name="谢光明", seq=41)
        r = town.post(f"/api/keypersons/records/{rec['id']}/visits", json={
            "visited_on": "2026-03-01", "way": "home", "visitor": "罗塘村 罗主任", "result": "stable",
            "content": "在家务农，情绪稳定"})
        assert r.status_code == 201, r.get_json()
        counties_seen = town.get("/api/transfers/counties").get_json()
        assert {"id": west.id, "name": "西山县"} in counties_seen and all(c["id"] != east.id for c in counties_seen)
        assert offer(town, rec["id"], east, expect=422)["errors"]["json"] == {"to_tenant_id": ["请选择平台上的另一个县（市、区）"]}
        made = offer(town, rec["id"], west)
        assert made["state"] == "offered" and made["to_county"] == "西山县"
        assert offer(town, rec["id"], west, expect=409)["code"] == "transfer_open"
        # the record stays as it is until the other county answers
        r = town.post(f"/api/keypersons/records/{rec['id']}/handover", json={
            "org_unit_id": east.unit("T01D1V2"), "handed_over_on": "2026-03-02"})
        assert r.status_code == 409 and r.get_json()["code"] == "transfer_open"
        r = town.post(f"/api/keypersons/records/{rec['id']}/end", json={"ended_on": "2026-03-02"})
        assert r.status_code == 409 and r.get_json()["code"] == "transfer_open"

        run_jobs(app)
        receiver = login(west, "county.admin")
        items = receiver.get("/api/transfers/incoming").get_json()["items"]
        assert len(items) == 1
        offered = items[0]
        assert offered["from_county"] == "东湖县" and offered["summary"] == "刑满释放人员，风险等级：高"
        assert offered["note"] == "户籍迁往西山县城关镇" and offered["state"] == "offered"
        assert "谢光明" not in str(offered) and id_number(41) not in str(offered)
        # nothing of the person is in the receiving county before it accepts
        assert _count(app, west, Person, Person.id_number_bidx == blind_index(id_number(41))) == 0
        assert _count(app, west, KeyPerson) == 0
        todo = receiver.get("/api/inbox?limit=50").get_json()["items"]
        assert any(n["title"] == "重点人员跨县移交待接收" for n in todo)
        # a county reads only its own side: the other's ids answer 404
        assert town.get(f"/api/transfers/incoming/{offered['id']}").status_code == 404
        assert receiver.get(f"/api/transfers/outgoing/{made['id']}").status_code == 404
        # a township of the receiving county does not see the county's offers
        assert login(west, "donghu.admin").get("/api/transfers/incoming").status_code == 403

        url = f"/api/transfers/incoming/{offered['id']}"
        r = receiver.post(f"{url}/accept", json={"org_unit_id": east.unit("T01D1V1")})   # a unit of the other county
        assert r.status_code == 404 and "org_unit_id" in r.get_json()["errors"]["json"]
        r = receiver.post(f"{url}/accept", json={"org_unit_id": west.unit("T01D1V2")})
        assert r.status_code == 200 and r.get_json()["state"] == "accepted", r.get_json()
        assert receiver.post(f"{url}/decline", json={"reason": "晚了"}).status_code == 409
        from core.models import Notification      # answered: the to-do asks nobody any more
        assert _count(app, west, Notification, Notification.key.like("transfer:%:offer:u%"),
                      Notification.read_at.is_(None)) == 0

        run_jobs(app)
        done = receiver.get(url).get_json()
        assert done["state"] == "delivered" and done["org_unit_name"] == "郭岭村"
        got = receiver.get(f"/api/keypersons/records/{done['subject_id']}?purpose=visit").get_json()
        assert got["name"] == "谢光明" and got["id_number"] == id_number(41) and got["category"] == "released"
        assert got["risk_level"] == "high" and got["details"]["offence"] == "盗窃罪" and got["org_unit_name"] == "郭岭村"
        assert got["next_visit_due"] is not None and got["ended_on"] is None
        [history] = got["transferred_history"]
        assert history["county"] == "东湖县" and history["unit"] == "罗塘村" and history["transferred_on"] == "2026-03-02"
        assert [v["content"] for v in history["visits"]] == ["在家务农，情绪稳定"]

        sent = town.get(f"/api/transfers/outgoing/{made['id']}").get_json()
        assert sent["state"] == "delivered" and sent["delivered_at"]
        here = town.get(f"/api/keypersons/records/{rec['id']}?purpose=visit").get_json()
        assert here["ended_on"] == "2026-03-02" and here["transfers"][0]["state_title"] == "已移交"
        assert any(n["title"] == "跨县移交已接收并转入" for n in town.get("/api/inbox?limit=50").get_json()["items"])

        # the relay again (a second delivery of its job) changes nothing
        relay(token=_token(app, east), from_tenant_id=east.id, to_tenant_id=west.id)
        again = receiver.get(f"/api/keypersons/records/{done['subject_id']}?purpose=visit").get_json()
        assert _count(app, west, KeyPerson) == 1 and len(again["transferred_history"]) == 1
        with pingan(app).db.transaction(west.id) as s:
            actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("core.transfer.%"))))
        assert sorted(actions) == ["core.transfer.accept", "core.transfer.delivered", "core.transfer.received"]


def test_a_crash_between_the_two_counties_steps_ends_in_one_record(app, counties, login):
    """The relay fails after the receiving county has the record, before the sending county
    closes its own: run again (as the sweep re-sends it), it closes it, and copies nothing twice."""
    east, west = counties
    kind = pingan(app).plugins.transfer_kinds["keypersons.record"]
    real = kind.handed_off
    calls = []

    def fails_once(session, subject_id, facts):
        calls.append(subject_id)
        if len(calls) == 1:
            raise OSError("the sending county's database went away")
        real(session, subject_id, facts)

    with time_machine.travel(NOW, tick=False):
        town, receiver = login(east, "donghu.admin"), login(west, "county.admin")
        rec = register(town, east, seq=81)
        made = offer(town, rec["id"], west)
        run_jobs(app)
        [row] = receiver.get("/api/transfers/incoming").get_json()["items"]
        assert receiver.post(f"/api/transfers/incoming/{row['id']}/accept",
                             json={"org_unit_id": west.unit("T01D1V1")}).status_code == 200
        object.__setattr__(kind, "handed_off", fails_once)
        try:
            run_jobs(app)
            assert receiver.get(f"/api/transfers/incoming/{row['id']}").get_json()["state"] == "delivered"
            assert town.get(f"/api/transfers/outgoing/{made['id']}").get_json()["state"] == "offered"
            relay(token=_token(app, east), from_tenant_id=east.id, to_tenant_id=west.id)
        finally:
            object.__setattr__(kind, "handed_off", real)
        assert town.get(f"/api/transfers/outgoing/{made['id']}").get_json()["state"] == "delivered"
        assert town.get(f"/api/keypersons/records/{rec['id']}?purpose=visit").get_json()["ended_on"] == "2026-03-02"
        assert _count(app, west, KeyPerson) == 1 and len(calls) == 2
        with pingan(app).db.transaction(west.id) as s:
            assert list(s.scalars(select(AuditEntry.action).where(AuditEntry.action == "keypersons.transferred_in"))) \
                == ["keypersons.transferred_in"]


def test_a_category_switched_off_after_acceptance_declines_it_and_frees_the_record(app, counties, login):
    east, west = counties
    with time_machine.travel(NOW, tick=False):
        town, receiver = login(east, "donghu.admin"), login(west, "county.admin")
        rec = register(town, east, seq=82)
        made = offer(town, rec["id"], west)
        run_jobs(app)
        [row] = receiver.get("/api/transfers/incoming").get_json()["items"]
        assert receiver.post(f"/api/transfers/incoming/{row['id']}/accept",
                             json={"org_unit_id": west.unit("T01D1V1")}).status_code == 200
        r = receiver.put("/api/modules/keypersons", json={"enabled": True, "settings": {"categories": ["drug"]}})
        assert r.status_code == 200, r.get_json()
        run_jobs(app)
        got = receiver.get(f"/api/transfers/incoming/{row['id']}").get_json()
        assert got["state"] == "declined" and "停用" in got["answer"]
        sent = town.get(f"/api/transfers/outgoing/{made['id']}").get_json()
        assert sent["state"] == "declined" and "停用" in sent["answer"]
        assert _count(app, west, KeyPerson) == 0
        assert _count(app, west, Person, Person.id_number_bidx == blind_index(id_number(82))) == 0
        r = town.post(f"/api/keypersons/records/{rec['id']}/end", json={"ended_on": "2026-03-02"})
        assert r.status_code == 200, r.get_json()          # the record is free again


def test_only_who_may_read_the_category_sees_an_offer_of_it(app, counties, login):
    # rule: JNT-4 — the category of a person is sensitive, even without the person
    east, west = counties
    with time_machine.travel(NOW, tick=False):
        town = login(east, "donghu.admin")
        rec = register(town, east, seq=83)
        offer(town, rec["id"], west)
        run_jobs(app)
        admin = login(west, "county.admin")
        role = admin.post("/api/roles", json={"key": "transfer_only", "name": "移交收件（无类别）",
                                              "permissions": ["keypersons.use", "keypersons.transfer"]})
        assert role.status_code == 201, role.get_json()
        users = {u["username"]: u["id"] for u in admin.get("/api/users?limit=200").get_json()["items"]}
        r = admin.post("/api/role-assignments", json={"user_id": users["village.cadre"], "role_id": role.get_json()["id"],
                                                      "org_unit_id": _root(app, west)})
        assert r.status_code == 201, r.get_json()
        clerk = login(west, "village.cadre")
        assert clerk.get("/api/transfers/incoming").get_json()["items"] == []
        row_id = admin.get("/api/transfers/incoming").get_json()["items"][0]["id"]
        assert clerk.get(f"/api/transfers/incoming/{row_id}").status_code == 404
        assert clerk.post(f"/api/transfers/incoming/{row_id}/decline", json={"reason": "不收"}).status_code == 404
        assert "刑满释放" not in clerk.get("/transfers/").get_data(as_text=True)
        todo = clerk.get("/api/inbox?limit=50").get_json()["items"]
        assert not any("跨县移交" in n["title"] for n in todo)


def test_a_withdrawal_before_arrival_cannot_be_overtaken_by_the_offer(app, counties, login):
    """The relay that brings the offer in may have read the sender's side before the withdrawal:
    the receiver's row the withdrawal left (not shown) keeps it out."""
    from core import transfers
    east, west = counties
    with time_machine.travel(NOW, tick=False):
        town = login(east, "donghu.admin")
        rec = register(town, east, seq=84)
        made = offer(town, rec["id"], west)
        with pingan(app).db.transaction(east.id) as s:
            stale = s.scalar(select(TransferOut).where(TransferOut.id == made["id"]))   # read as "offered"
        assert town.post(f"/api/transfers/outgoing/{made['id']}/withdraw").status_code == 200
        run_jobs(app)
        assert town.get(f"/api/transfers/outgoing/{made['id']}").get_json()["state"] == "withdrawn"
        with pingan(app).db.transaction(west.id) as s:
            assert transfers._insert_in(s, stale, east.id, "offered") is False   # the late relay's insert
            assert s.scalar(select(TransferIn.state).where(TransferIn.token == stale.token)) == "withdrawn"
        assert login(west, "county.admin").get("/api/transfers/incoming").get_json()["items"] == []


def _root(app, tenant) -> int:
    from core.models import OrgUnit
    with pingan(app).db.transaction(tenant.id) as s:
        return s.scalar(select(OrgUnit.id).where(OrgUnit.parent_id.is_(None)))


def _token(app, tenant) -> str:
    with pingan(app).db.transaction(tenant.id) as s:
        return s.scalar(select(TransferOut.token).order_by(TransferOut.id.desc()).limit(1))


def test_a_refusal_a_withdrawal_and_a_county_without_the_module_copy_nothing(app, counties, login):
    east, west = counties
    bare = _county(app, login, "北岭县", modules=())
    with time_machine.travel(NOW, tick=False):
        town = login(east, "donghu.admin")
        receiver = login(west, "county.admin")
        first = register(town, east, name="甲某", seq=51)
        second = register(town, east, name="乙某", seq=52)
        third = register(town, east, name="丙某", seq=53)

        made = offer(town, first["id"], west)
        run_jobs(app)
        [row] = receiver.get("/api/transfers/incoming?state=offered").get_json()["items"]
        r = receiver.post(f"/api/transfers/incoming/{row['id']}/decline", json={"reason": " "})
        assert r.status_code == 422 and "reason" in r.get_json()["errors"]["json"]
        r = receiver.post(f"/api/transfers/incoming/{row['id']}/decline", json={"reason": "经核实该人员未在本县落户"})
        assert r.status_code == 200 and r.get_json()["state"] == "declined"
        run_jobs(app)
        sent = town.get(f"/api/transfers/outgoing/{made['id']}").get_json()
        assert sent["state"] == "declined" and sent["answer"] == "经核实该人员未在本县落户"
        r = town.post(f"/api/keypersons/records/{first['id']}/handover", json={
            "org_unit_id": east.unit("T01D1V2"), "handed_over_on": "2026-03-02"})
        assert r.status_code == 200, r.get_json()      # the record is free again

        # withdrawn before the offer reached the other county: it never arrives
        made = offer(town, second["id"], west)
        r = town.post(f"/api/transfers/outgoing/{made['id']}/withdraw")
        assert r.status_code == 200 and r.get_json()["state"] == "withdrawing"
        run_jobs(app)
        assert town.get(f"/api/transfers/outgoing/{made['id']}").get_json()["state"] == "withdrawn"
        assert len(receiver.get("/api/transfers/incoming").get_json()["items"]) == 1   # only the declined one
        # withdrawn after it arrived: the other county's side is withdrawn too, and cannot be accepted
        made = offer(town, second["id"], west)
        run_jobs(app)
        row = receiver.get("/api/transfers/incoming?state=offered").get_json()["items"][0]
        assert town.post(f"/api/transfers/outgoing/{made['id']}/withdraw").status_code == 200
        assert town.post(f"/api/transfers/outgoing/{made['id']}/withdraw").status_code == 409
        run_jobs(app)
        assert receiver.get(f"/api/transfers/incoming/{row['id']}").get_json()["state"] == "withdrawn"
        r = receiver.post(f"/api/transfers/incoming/{row['id']}/accept", json={"org_unit_id": west.unit("T01D1V2")})
        assert r.status_code == 409
        assert town.get(f"/api/transfers/outgoing/{made['id']}").get_json()["state"] == "withdrawn"

        # a county without the module declines by itself, with the reason
        made = offer(town, third["id"], bare)
        run_jobs(app)
        sent = town.get(f"/api/transfers/outgoing/{made['id']}").get_json()
        assert sent["state"] == "declined" and "未启用" in sent["answer"]
        assert _count(app, bare, TransferIn, TransferIn.shown.is_(True)) == 0      # only the row standing for the refusal
        for county in (west, bare):
            assert _count(app, county, KeyPerson) == 0
            for seq in (51, 52, 53):
                assert _count(app, county, Person, Person.id_number_bidx == blind_index(id_number(seq))) == 0


def test_only_a_manager_with_the_transfer_permission_may_offer(app, counties, login):
    east, west = counties
    with time_machine.travel(NOW, tick=False):
        town = login(east, "donghu.admin")
        rec = register(town, east, seq=61)
        cadre = login(east, "village.cadre")           # no key-person permission: the record is not there
        assert cadre.post(f"/api/keypersons/records/{rec['id']}/transfer",
                          json={"to_tenant_id": west.id}).status_code == 404
        assert cadre.get("/api/transfers/outgoing").status_code == 403
        admin = login(east, "county.admin")            # a manager of the category without the transfer permission
        role = admin.post("/api/roles", json={"key": "released_manager", "name": "刑释人员管理",
                                              "permissions": ["keypersons.use", "keypersons.released.read",
                                                              "keypersons.released.manage"]})
        assert role.status_code == 201, role.get_json()
        users = {u["username"]: u["id"] for u in admin.get("/api/users?limit=200").get_json()["items"]}
        assert admin.post("/api/role-assignments", json={"user_id": users["village.cadre"], "role_id": role.get_json()["id"],
                                                         "org_unit_id": east.unit("T01D1V1")}).status_code == 201
        manager = login(east, "village.cadre")
        r = manager.post(f"/api/keypersons/records/{rec['id']}/transfer", json={"to_tenant_id": west.id})
        assert r.status_code == 403 and r.get_json()["code"] == "forbidden"
        # another township's holder of every key-person permission does not see this village's record or offers
        made = offer(town, rec["id"], west)
        other = login(east, "qingshan.admin")
        assert other.get(f"/api/transfers/outgoing/{made['id']}").status_code == 404
        assert other.post(f"/api/transfers/outgoing/{made['id']}/withdraw").status_code == 404
        assert _count(app, east, TransferOut) == 1


def _form_token(html: str) -> dict:
    import re
    return {name: re.search(rf'name="{name}" value="([^"]*)"', html).group(1) for name in ("csrf_token", "form_token")}


def test_the_pages_offer_receive_and_keep_what_was_typed(app, counties, login):
    east, west = counties
    with time_machine.travel(NOW, tick=False):
        town = login(east, "donghu.admin")
        rec = register(town, east, name="钟某某", seq=71)
        page = town.post(f"/keypersons/records/{rec['id']}", data={"purpose": "visit", **_form_token(
            town.get(f"/keypersons/records/{rec['id']}").get_data(as_text=True))}).get_data(as_text=True)
        assert "移交外县" in page and "西山县" in page and 'id="kp-transfer"' in page
        url = f"/keypersons/records/{rec['id']}/transfer"
        r = town.post(url, data={"purpose": "visit", "note": "迁往西山县", **_form_token(page)})
        html = r.get_data(as_text=True)
        assert r.status_code == 422 and "迁往西山县" in html and 'aria-invalid="true"' in html   # the county was not chosen
        r = town.post(url, data={"purpose": "visit", "to_tenant_id": str(west.id), "note": "迁往西山县", **_form_token(html)})
        html = r.get_data(as_text=True)
        assert r.status_code == 200 and "已向对方县发起移交" in html and "待对方县接收" in html
        assert 'id="kp-transfer"' not in html          # one open offer at a time

        run_jobs(app)
        receiver = login(west, "county.admin")
        home = receiver.get("/").get_data(as_text=True)
        assert "跨县移交" in home
        inbox = receiver.get("/transfers/").get_data(as_text=True)
        assert "东湖县" in inbox and "刑满释放人员，风险等级：高" in inbox and "钟某某" not in inbox
        assert "keypersons." not in inbox and "offered" not in inbox          # Chinese only, no keys
        with pingan(app).db.transaction(west.id) as s:
            row_id = s.scalar(select(TransferIn.id))
        r = receiver.post(f"/transfers/incoming/{row_id}/accept", data=_form_token(inbox))
        assert r.status_code == 422 and "请选择接收单位" in r.get_data(as_text=True)
        r = receiver.post(f"/transfers/incoming/{row_id}/accept",
                          data={"org_unit_id": str(west.unit("T01D1V1")), **_form_token(inbox)})
        assert r.status_code == 302
        run_jobs(app)
        inbox = receiver.get("/transfers/").get_data(as_text=True)
        assert "已移交" in inbox and "查看转入的档案" in inbox
        sent = town.get("/transfers/").get_data(as_text=True)
        assert "西山县" in sent and "已移交" in sent
        assert "跨县移交" not in login(east, "village.cadre").get("/").get_data(as_text=True)
        assert login(east, "village.cadre").get("/transfers/").status_code == 404
