"""A case's people after registration (issue 15, item 2): added and removed on the case page and
through the API, on the timeline, checked against scope and county, and a module's own rows in
step (a dispute's parties)."""
from __future__ import annotations

import re

from tests.casework import act, events
from tests.conftest import load_tenant
from tests.test_mediation import county, dispute, two_parties  # noqa: F401  (the county fixture)


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def parties(client, case_id: int) -> dict:
    r = client.get(f"/api/mediation/disputes/{case_id}/parties")
    assert r.status_code == 200, r.get_json()
    return {p["name"]: p["side"] for p in r.get_json()}


def test_a_third_party_added_later_becomes_a_party_and_can_be_removed(app, county, login):  # noqa: F811
    # rule: MED-3 (the village committee mediates; the parties are whoever the dispute involves)
    cadre = login(county, "village.cadre")
    case = dispute(cadre, county, parties=two_parties(cadre, county))
    r = cadre.post(f"/api/cases/{case['id']}/persons", json={"name": "赵三", "role": "third", "phone": "13700137000"})
    assert r.status_code == 201, r.get_json()
    added = next(p for p in r.get_json() if p["name"] == "赵三")
    assert added["role"] == "third" and added["phone"] != "13700137000"  # masked in the answer
    assert parties(cadre, case["id"]) == {"王大山": "applicant", "李小河": "respondent", "赵三": "third"}
    assert "person_added" in events(cadre, case["id"])
    gone = cadre.delete(f"/api/cases/{case['id']}/persons/{added['person_id']}")
    assert gone.status_code == 204
    assert parties(cadre, case["id"]) == {"王大山": "applicant", "李小河": "respondent"}
    assert events(cadre, case["id"])[-1] == "person_removed"
    again = cadre.delete(f"/api/cases/{case['id']}/persons/{added['person_id']}")
    assert again.status_code == 404 and again.get_json()["code"] == "person_not_found"


def test_bad_people_are_refused_at_their_field(app, county, login):  # noqa: F811
    cadre = login(county, "village.cadre")
    case = dispute(cadre, county, parties=two_parties(cadre, county))
    url = f"/api/cases/{case['id']}/persons"
    bad_role = cadre.post(url, json={"name": "赵三", "role": "boss"})
    assert bad_role.status_code == 422 and "role" in bad_role.get_json()["errors"]["json"]
    bad_id = cadre.post(url, json={"name": "赵三", "role": "third", "id_number": "110101199003071234"})
    assert bad_id.status_code == 422 and "id_number" in bad_id.get_json()["errors"]["json"]
    # a person of another county, or outside the cadre's village: never attached, never told apart
    other = load_tenant(app)
    stranger = login(other, "county.admin").post("/api/persons", json={
        "name": "外县人", "org_unit_id": other.unit("T01D1V1")}).get_json()["id"]
    elsewhere = login(county, "county.admin").post("/api/persons", json={
        "name": "邻村人", "org_unit_id": county.unit("T01D1V2")}).get_json()["id"]
    for pid in (stranger, elsewhere):
        r = cadre.post(url, json={"person_id": pid, "role": "third"})
        assert r.status_code == 422 and r.get_json()["code"] == "unknown_person", r.get_json()
        assert "person_id" in r.get_json()["errors"]["json"]
    # another county's user does not see the case at all
    outsider = login(other, "county.admin")
    assert outsider.post(url, json={"name": "赵三", "role": "third"}).status_code == 404
    assert len(cadre.get(url).get_json()) == 2


def test_a_party_on_record_stays_and_a_closed_case_is_left_alone(app, county, login):  # noqa: F811
    # 人民调解法 Art. 17: once the parties have consented, what they said stays on record
    cadre = login(county, "village.cadre")
    people = two_parties(cadre, county)
    case = dispute(cadre, county, parties=people)
    assert act(cadre, case["id"], "accept", {"consent": True}).status_code == 200
    r = cadre.delete(f"/api/cases/{case['id']}/persons/{people[0][0]}")
    assert r.status_code == 409 and r.get_json()["code"] == "party_on_record"
    assert "person_removed" not in events(cadre, case["id"])  # refused whole: nothing half-done
    assert act(cadre, case["id"], "end", {"outcome": "withdrawn", "note": "当事人撤回"}).status_code == 200
    closed = cadre.post(f"/api/cases/{case['id']}/persons", json={"name": "赵三", "role": "third"})
    assert closed.status_code == 409 and closed.get_json()["code"] == "case_closed"


def test_the_case_page_adds_and_removes_people(app, county, login):  # noqa: F811
    cadre = login(county, "village.cadre")
    case = dispute(cadre, county, parties=two_parties(cadre, county))
    page = cadre.get(f"/cases/{case['id']}").get_data(as_text=True)
    form = page[page.index('id="people-add"'):]
    form = form[:form.index("</form>")]
    roles = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', form)
    assert ("third", "第三人") in roles and ("companion", "同行人") in roles  # the type's roles and the window's
    # a wrong ID number: refused at its field, everything typed kept, nothing added
    r = cadre.post(f"/cases/{case['id']}/persons", data={"csrf_token": csrf(page), "role": "third", "name": "赵三",
                                                          "id_number": "110101199003071234", "phone": "13700137000"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'id="people.id_number-error"' in html and 'value="110101199003071234"' in html
    assert 'value="13700137000"' in html and '<option value="third" selected>' in html
    assert 'id="people-add-box" open' in html
    r = cadre.post(f"/cases/{case['id']}/persons", data={"csrf_token": csrf(page), "role": "third", "name": "赵三"})
    assert r.status_code == 302 and "#act-done" in r.headers["Location"]
    page = cadre.get(r.headers["Location"]).get_data(as_text=True)
    assert "添加人员" in page and "赵三（第三人）" in page  # the confirmation and the timeline
    zhao = re.search(r'id="person-(\d+)-remove">移除 赵三（第三人）', page).group(1)
    r = cadre.post(f"/cases/{case['id']}/persons/{zhao}/remove", data={"csrf_token": csrf(page)})
    assert r.status_code == 302
    assert parties(cadre, case["id"]) == {"王大山": "applicant", "李小河": "respondent"}
