"""Issue 20, rental housing (出租房屋, POLICY-RULES JNT-4; seed 001 doc 4 "一牌三卡五星级"): houses
with their landlord, tenants moving in and out, the county's cards and stars as settings, the
landlord's responsibility letter, figures, scope, and the pages."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import text

from core.privacy import id_number_checksum
from core.workdays import SHANGHAI
from tests.conftest import load_tenant

NOW = dt.datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)
BASE = "/api/keypersons/rental-houses"


def id_number(seq: int) -> str:
    first = f"32010219850612{seq:03d}"
    return first + id_number_checksum(first)


@pytest.fixture
def county(app, login):
    tenant = load_tenant(app)
    admin = login(tenant, "county.admin")
    r = admin.put("/api/modules/keypersons", json={"enabled": True})
    assert r.status_code == 200, r.get_json()
    return tenant


def house(client, county, unit="T01D1V1", expect=201, **extra):
    body = {"org_unit_id": county.unit(unit), "address": "东湖镇罗塘村新街 18 号", "owner_name": "罗德明",
            "owner_id_number": id_number(1), "owner_phone": "13900001111", "rooms": 3, "cards": ["service", "house"]}
    body.update(extra)
    r = client.post(BASE, json=body)
    assert r.status_code == expect, r.get_json()
    return r.get_json()


def test_a_house_its_tenants_cards_and_the_landlords_stars(county, login):
    # rule: JNT-4 — rental housing: landlord, tenants, the county's "三卡" and "五星级" (seed 001 doc 4)
    with time_machine.travel(NOW, tick=False):
        town = login(county, "donghu.admin")
        h = house(town, county)
        assert h["owner_name"] == "罗德明" and h["org_unit_name"] == "罗塘村"
        assert h["cards"] == ["便民服务卡", "出租房屋档案卡"] and h["tenants_living"] == 0
        assert id_number(1) not in str(h) and "13900001111" not in str(h)       # numbers masked
        assert h["owner_id_number"].startswith("3201") and "*" in h["owner_phone"]

        bad = house(town, county, owner_id_number="123", expect=422)
        assert list(bad["errors"]["json"]) == ["owner_id_number"]
        url = f"{BASE}/{h['id']}"
        r = town.post(f"{url}/tenants", json={"name": "王小川", "id_number": id_number(2), "moved_in": "2026-02-10"})
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["tenants_living"] == 1
        tenant_id = r.get_json()["tenants"][0]["id"]
        again = town.post(f"{url}/tenants", json={"name": "王小川", "id_number": id_number(2), "moved_in": "2026-02-11"})
        assert again.status_code == 409 and again.get_json()["code"] == "already_living"
        future = town.post(f"{url}/tenants", json={"name": "李四", "moved_in": "2026-03-03"})
        assert future.status_code == 422 and "moved_in" in future.get_json()["errors"]["json"]
        owner = town.post(f"{url}/tenants", json={"name": "罗德明", "id_number": id_number(1), "moved_in": "2026-02-11"})
        assert owner.status_code == 422 and owner.get_json()["code"] == "tenant_is_owner"

        early = town.post(f"{url}/tenants/{tenant_id}/move-out", json={"moved_out": "2026-02-01"})
        assert early.status_code == 422 and early.get_json()["code"] == "before_moved_in"
        ended = town.post(f"{url}/end", json={"ended_on": "2026-03-01"})
        assert ended.status_code == 409 and ended.get_json()["code"] == "tenants_living"

        bad = town.post(f"{url}/ratings", json={"year": 2026, "stars": ["law", "gold"], "rated_on": "2026-03-01"})
        assert bad.status_code == 422 and "stars" in bad.get_json()["errors"]["json"]
        early_rating = town.post(f"{url}/ratings", json={"year": 2026, "stars": ["law"], "rated_on": "2025-12-30"})
        assert early_rating.status_code == 422 and early_rating.get_json()["code"] == "before_year"
        stars = ["hygiene", "law", "honest", "family", "civil"]
        r = town.post(f"{url}/ratings", json={"year": 2026, "stars": stars[:3], "rated_on": "2026-03-01"})
        assert r.status_code == 200 and r.get_json()["stars_this_year"] == 3
        r = town.post(f"{url}/ratings", json={"year": 2026, "stars": stars, "rated_on": "2026-03-02"})   # replaces
        rating = r.get_json()["ratings"]
        assert len(rating) == 1 and rating[0]["count"] == 5 == rating[0]["of"]
        assert rating[0]["stars"] == ["爱国守法星", "诚实守信星", "家庭和谐星", "文明带头星", "环境卫生星"]  # the county's order

        f = town.get(f"{BASE}/figures?under={county.unit('T01')}").get_json()
        assert (f["houses"], f["tenants"], f["all_cards"], f["rated"], f["all_stars"]) == (1, 1, 0, 1, 1)
        r = town.patch(url, json={"cards": ["floating", "service", "house"], "rooms": 4})
        assert r.status_code == 200 and r.get_json()["card_keys"] == ["service", "house", "floating"]
        assert town.patch(url, json={"cards": ["gold"]}).status_code == 422
        assert town.get(f"{BASE}/figures?under={county.unit('T01')}").get_json()["all_cards"] == 1

        assert town.post(f"{url}/tenants/{tenant_id}/move-out", json={"moved_out": "2026-03-01"}).status_code == 200
        early_end = town.post(f"{url}/end", json={"ended_on": "2026-02-28"})
        assert early_end.status_code == 422 and early_end.get_json()["code"] == "before_moved_out"
        r = town.post(f"{url}/end", json={"ended_on": "2026-03-02"})
        assert r.status_code == 200 and r.get_json()["ended_on"] == "2026-03-02"
        assert r.get_json()["tenants"][0]["moved_out"] == "2026-03-01"   # the history stays
        assert town.get(f"{BASE}?status=let").get_json()["items"] == []
        assert [x["id"] for x in town.get(f"{BASE}?status=ended").get_json()["items"]] == [h["id"]]
        assert town.post(f"{url}/tenants", json={"name": "赵五", "moved_in": "2026-03-02"}).status_code == 409


def test_the_cards_and_stars_are_the_countys_settings(county, login):
    # rule: JNT-4 — the card set and the stars are county settings, never constants
    admin = login(county, "county.admin")
    settings = admin.get("/api/modules/keypersons").get_json()["settings"]
    settings["rental_cards"] = [{"key": "one", "title": "便民联系卡"}]
    settings["rental_stars"] = [{"key": "a", "title": "守法星"}, {"key": "b", "title": "平安星"}]
    r = admin.put("/api/modules/keypersons", json={"enabled": True, "settings": settings})
    assert r.status_code == 200, r.get_json()
    with time_machine.travel(NOW, tick=False):
        h = house(admin, county, cards=["one"])
        assert h["cards"] == ["便民联系卡"]
        assert house(admin, county, cards=["service"], expect=422)["code"] == "unknown_cards"
        r = admin.post(f"{BASE}/{h['id']}/ratings", json={"year": 2026, "stars": ["a", "b"], "rated_on": "2026-03-01"})
        assert r.get_json()["ratings"][0]["of"] == 2
        assert admin.get(f"{BASE}/figures").get_json()["all_stars"] == 1


def test_outside_the_scope_a_house_is_not_found(app, county, login):
    with time_machine.travel(NOW, tick=False):
        town = login(county, "donghu.admin")
        h = house(town, county)
        r = town.post(BASE, json={"org_unit_id": county.unit("T02"), "address": "青山乡", "owner_name": "某甲"})
        assert r.status_code == 404 and "org_unit_id" in r.get_json()["errors"]["json"]
        for username in ("qingshan.admin", "village.cadre"):   # another township; a cadre without the permission
            other = login(county, username)
            assert other.get(f"{BASE}/{h['id']}").status_code == 404, username
            assert other.post(f"{BASE}/{h['id']}/tenants", json={"name": "某乙", "moved_in": "2026-03-01"}).status_code == 404
            assert other.get(f"/keypersons/rental/{h['id']}").status_code == 404, username
        assert login(county, "qingshan.admin").get(BASE).get_json()["items"] == []
        stranger = load_tenant(app)
        admin = login(stranger, "county.admin")
        assert admin.put("/api/modules/keypersons", json={"enabled": True}).status_code == 200
        assert admin.get(f"{BASE}/{h['id']}").status_code == 404


def test_the_landlords_letter_is_made_signed_and_counted(county, login):
    # rule: JNT-4 — 以房管理: the landlord signs the 出租房屋责任书 (seed 001 doc 4)
    with time_machine.travel(NOW, tick=False):
        admin = login(county, "county.admin")
        h = house(admin, county)
        url = f"{BASE}/{h['id']}"
        r = admin.post(f"{url}/letter", json={"year": 2026, "counterparty": "社区民警"})
        assert r.status_code == 201, r.get_json()
        letter = r.get_json()["letters"][0]
        assert (letter["year"], letter["status_title"]) == (2026, "未签订")
        again = admin.post(f"{url}/letter", json={"year": 2026})
        assert again.status_code == 409 and again.get_json()["code"] == "duplicate_letter"
        assert admin.get(f"{BASE}/figures").get_json()["letters_signed"] == 0
        r = admin.post(f"/api/letters/{letter['id']}/sign", data={"signed_on": "2026-03-02"})
        assert r.status_code == 200, r.get_json()
        assert admin.get(url).get_json()["letters"][0]["status_title"] == "已签订"
        f = admin.get(f"{BASE}/figures").get_json()
        assert (f["owners"], f["letters_signed"]) == (1, 1)
        assert admin.get("/api/letters?kind=keypersons.rental").get_json()["items"][0]["party_name"] == "罗德明"


def test_the_address_and_note_are_encrypted_at_rest(county, login, db):
    with time_machine.travel(NOW, tick=False):
        h = house(login(county, "county.admin"), county, note="房主常住外地")
    with db.transaction(county.id) as s:
        raw = s.execute(text("SELECT address, note FROM keypersons_rental_house WHERE id = :i"), {"i": h["id"]}).one()
    assert "罗塘村" not in raw[0] and "外地" not in raw[1]


def test_the_pages_register_a_house_and_keep_what_was_typed_when_refused(county, login):
    with time_machine.travel(NOW, tick=False):
        town = login(county, "donghu.admin")
        page = town.get("/keypersons/rental/")
        assert page.status_code == 200 and "出租房屋" in page.text and "登记出租房屋" in page.text
        form = town.get("/keypersons/rental/new")
        assert "便民服务卡" in form.text and "流动人口登记卡" in form.text
        r = town.post("/keypersons/rental/new", data={"org_unit_id": county.unit("T01D1V1"), "address": "新街 9 号",
                                                      "owner_name": "罗德明", "owner_id_number": "123",
                                                      "cards": ["house"], "cards_shown": "1"})
        assert r.status_code == 422
        assert "身份证号码格式或校验位不正确" in r.text and 'id="owner_id_number-error"' in r.text and 'value="新街 9 号"' in r.text
        assert 'value="house" checked' in r.text and 'value="service" >' in r.text
        r = town.post("/keypersons/rental/new", data={"org_unit_id": county.unit("T01D1V1"), "address": "新街 9 号",
                                                      "owner_name": "罗德明", "owner_id_number": id_number(3),
                                                      "cards": ["house"], "cards_shown": "1"})
        assert r.status_code == 302
        page = town.get(r.headers["Location"])
        assert "新街 9 号" in page.text and "出租房屋档案卡" in page.text and "已登记" in page.text
        hid = r.headers["Location"].split("/")[-1].split("?")[0]

        r = town.post(f"/keypersons/rental/{hid}/tenants", data={"name": "王小川", "id_number": "9", "moved_in": "2026-02-10"})
        assert r.status_code == 422 and 'value="王小川"' in r.text and "身份证号码格式或校验位不正确" in r.text
        r = town.post(f"/keypersons/rental/{hid}/tenants", data={"name": "王小川", "moved_in": "2026-02-10"})
        assert r.status_code == 302
        r = town.post(f"/keypersons/rental/{hid}/ratings",
                      data={"year": "2026", "stars": ["law", "civil"], "stars_shown": "1", "rated_on": "2026-03-01"})
        assert r.status_code == 302
        page = town.get(f"/keypersons/rental/{hid}").text
        assert "王小川" in page and "2 / 5" in page and "爱国守法星、文明带头星" in page
        assert 'value="law" checked' in page and 'value="honest" >' in page
        r = town.post(f"/keypersons/rental/{hid}/edit", data={"address": "新街 9 号之一", "rooms": "", "note": "",
                                                              "cards": ["house", "service"], "cards_shown": "1"})
        assert r.status_code == 302
        edited = town.get(f"/api/keypersons/rental-houses/{hid}").get_json()
        assert (edited["address"], edited["rooms"], edited["card_keys"]) == ("新街 9 号之一", None, ["service", "house"])
        r = town.post(f"/keypersons/rental/{hid}/edit", data={"address": "", "rooms": "0"})
        assert r.status_code == 422 and 'id="edit-address-error"' in r.text and 'value="0"' in r.text
        r = town.post(f"/keypersons/rental/{hid}/end", data={"ended_on": "2026-03-02"})
        assert r.status_code == 409 and "尚有承租人未迁出" in r.text
        listed = town.get("/keypersons/rental/").text
        assert "新街 9 号" in listed and "2 星" in listed
