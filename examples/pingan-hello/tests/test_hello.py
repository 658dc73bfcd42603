"""The greetings register, tested with the platform's kit only (``pingan.testing``: the
``county`` of the kit with ``hello`` switched on, ``client_as``, ``county_session``,
``enable_plugin``, ``disable_plugin`` and the kit's checks). Run from this folder: ``pytest``."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.testing import assert_migrations_match, assert_plugin_isolation, load_tenant, run_plugin_schemathesis

GREETINGS = "/api/hello/greetings"


@pytest.fixture
def pingan_plugins():
    return ["hello"]


def greet(client, unit: int, recipient: str = "王大爷"):
    return client.post(GREETINGS, json={"org_unit_id": unit, "recipient": recipient})


def test_a_village_cadre_greets_in_their_village_and_closes_with_the_reply(county, client_as):
    cadre = client_as("village.cadre")
    r = greet(cadre, county.unit("T01V1"))
    assert r.status_code == 201, r.get_json()
    greeting = r.get_json()
    assert greeting["message"] == "您好，王大爷！" and greeting["status"] == "open"
    assert greeting["org_unit_name"] == "罗塘村"
    r = cadre.post(f"{GREETINGS}/{greeting['id']}/close", json={"reply": "谢谢关心"})
    assert r.status_code == 200 and r.get_json()["status"] == "closed" and r.get_json()["reply"] == "谢谢关心"
    again = cadre.post(f"{GREETINGS}/{greeting['id']}/close", json={})
    assert again.status_code == 409 and again.get_json()["code"] == "already_closed"


def test_each_sees_their_own_subtree(county, client_as):
    township, cadre = client_as("township.officer"), client_as("village.cadre")
    mine = greet(cadre, county.unit("T01V1"), "罗塘村村民").get_json()
    sibling = greet(township, county.unit("T01V2"), "郭岭村村民").get_json()
    other_township = greet(client_as("county.admin"), county.unit("T02V1"), "石桥村村民").get_json()
    assert {g["id"] for g in cadre.get(GREETINGS).get_json()["items"]} == {mine["id"]}
    assert {g["id"] for g in township.get(GREETINGS).get_json()["items"]} == {mine["id"], sibling["id"]}
    assert cadre.get(f"{GREETINGS}/{sibling['id']}").status_code == 404
    assert township.get(f"{GREETINGS}/{other_township['id']}").status_code == 404
    r = greet(cadre, county.unit("T01V2"))  # a unit outside the cadre's village
    assert r.status_code == 404 and "org_unit_id" in r.get_json()["errors"]["json"]
    assert cadre.post(GREETINGS, json={"org_unit_id": county.unit("T01V1")}).status_code == 422
    filtered = township.get(f"{GREETINGS}?recipient=郭岭村村民&status=open").get_json()["items"]
    assert [g["id"] for g in filtered] == [sibling["id"]]


def test_the_countys_prefix_is_a_setting_with_a_default(county, client_as, enable_plugin):
    enable_plugin("hello", {"greeting_prefix": "老乡好，"})
    r = greet(client_as("village.cadre"), county.unit("T01V1"), "李大娘")
    assert r.get_json()["message"] == "老乡好，李大娘！"


def test_the_page_is_in_the_menu_and_lists_in_chinese(county, client_as):
    cadre = client_as("village.cadre")
    greet(cadre, county.unit("T01V1"), "张奶奶")
    assert 'href="/hello/greetings/"' in cadre.get("/").get_data(as_text=True)
    page = cadre.get("/hello/greetings/").get_data(as_text=True)
    for words in ("问候登记", "问候对象", "问候语", "您好，张奶奶！", "在办", "已回复", "导出 Excel"):
        assert words in page, words
    r = cadre.post("/hello/greetings/", data={"org_unit_id": str(county.unit("T01V1")), "recipient": ""})
    assert r.status_code == 422 and 'id="recipient-error"' in r.get_data(as_text=True)


def test_the_indicator_counts_a_units_greetings(county, client_as, county_session):
    from pingan_hello import manifest
    cadre = client_as("village.cadre")
    greet(cadre, county.unit("T01V1"))
    greet(cadre, county.unit("T01V1"), "李四")
    compute = manifest.indicators[0].compute
    now = datetime.now(timezone.utc)
    with county_session() as s:
        assert compute(s, county.unit("T01"), now - timedelta(hours=1), now + timedelta(hours=1)) == 2.0
        assert compute(s, county.unit("T02"), now - timedelta(hours=1), now + timedelta(hours=1)) == 0.0


def test_switched_off_the_module_answers_404(county, client_as, disable_plugin):
    cadre = client_as("village.cadre")
    disable_plugin("hello")
    assert cadre.get(GREETINGS).status_code == 404 and cadre.get("/hello/greetings/").status_code == 404


def test_another_countys_and_another_townships_greetings_are_not_found(app, county, client_as, enable_plugin):
    other = load_tenant(app)
    enable_plugin("hello", county=other)
    for where in (county, other):
        assert greet(client_as("township.officer", county=where), where.unit("T01V1")).status_code == 201
    assert_plugin_isolation(app, "hello", county, other, outsider="qingshan.officer")


def test_the_api_holds_to_its_openapi_document(app, county):
    run_plugin_schemathesis(app, "hello", county)


def test_the_migrations_make_the_models_tables():
    assert_migrations_match("hello")
