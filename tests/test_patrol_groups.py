"""Issue 17, PAT-3: joint-defence groups of the county's size, the leader's responsibility letter
(治安联防责任书) on the core's letters: listed unsigned, reminded in January, signed with a scan,
printed to PDF."""
from __future__ import annotations

import datetime as dt
import io

import time_machine
from pypdf import PdfReader

from core import letters
from core.app import pingan
from core.context import Actor, acting_as
from tests.conftest import load_tenant

KIND = "patrol.joint_defence"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
YEAR = dt.date.today().year - 1    # a year whose January has passed, whatever today is


def test_the_leaders_letter_unsigned_reminded_in_january_then_signed_and_printed(app, login):
    # rule: PAT-3 — ten shops or households, a leader who signs the letter ("三包、两防、一举报")
    county = load_tenant(app)
    admin = login(county, "county.admin")
    assert admin.put("/api/modules/patrol", json={"enabled": True}).status_code == 200
    leader = admin.post("/api/persons", json={"name": "赵店主", "org_unit_id": county.unit("T01D1V1")}).get_json()["id"]
    group = {"org_unit_id": county.unit("T01D1V1"), "name": "罗塘街十店联防组", "kind": "shops",
             "leader_person_id": leader, "households": 11}
    big = admin.post("/api/patrol/groups", json=group)
    assert big.status_code == 422 and big.get_json()["code"] == "group_too_large"   # the county's 10
    assert admin.post("/api/patrol/groups", json={**group, "households": 10}).status_code == 201
    r = admin.post("/api/letters", json={"kind": KIND, "year": YEAR, "issuing_unit_id": county.unit("T01D1V1"),
                                         "party_kind": "person", "party_id": leader, "counterparty": "社区民警李某"})
    assert r.status_code == 201, r.get_json()
    letter = r.get_json()
    unsigned = admin.get(f"/api/letters?kind={KIND}&year={YEAR}&status=unsigned").get_json()["items"]
    assert [x["id"] for x in unsigned] == [letter["id"]]
    assert admin.put(f"/api/letters/kinds/{KIND}", json={"remind_month": 1, "remind_day": 10}).status_code == 200
    state = pingan(app)

    def remind(day: int) -> int:
        when = dt.datetime(YEAR, 1, day, 9, tzinfo=letters.SHANGHAI)
        with time_machine.travel(when, tick=False), acting_as(Actor(None, "test")), \
                state.db.transaction(county.id) as s:
            return letters.remind_due(s, state.plugins, state.plugins.enabled(s, county.id), when.date())
    assert remind(9) == 0 and remind(10) == 1          # reminded in January from the county's day
    r = admin.post(f"/api/letters/{letter['id']}/sign", content_type="multipart/form-data",
                   data={"signed_on": f"{YEAR}-01-12", "file": (io.BytesIO(PNG), "责任书.png")})
    assert r.status_code == 200 and r.get_json()["has_scan"], r.get_json()
    pdf = admin.get(f"/api/letters/{letter['id']}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages).replace("\n", "")
    for fact in (f"{YEAR}年度治安联防责任书", "赵店主", "罗塘村", "社区民警李某", "三包、两防、一举报", f"{YEAR}年1月12日"):
        assert fact in text, fact
    assert admin.get(f"/api/letters?kind={KIND}&year={YEAR}&status=unsigned").get_json()["items"] == []


def test_the_group_form_picks_the_leader_from_the_person_register_and_the_team_kind_by_name(app, login):
    # rule: PAT-3 rule: PAT-1 — nobody types a person id or a kind key: selects of names, narrowed by unit
    county = load_tenant(app)
    admin = login(county, "county.admin")
    assert admin.put("/api/modules/patrol", json={"enabled": True}).status_code == 200
    zhao = admin.post("/api/persons", json={"name": "赵店主", "org_unit_id": county.unit("T01D1V1")}).get_json()["id"]
    qian = admin.post("/api/persons", json={"name": "钱店主", "org_unit_id": county.unit("T02D1V1")}).get_json()["id"]
    page = admin.get("/patrol/groups/").get_data(as_text=True)
    assert 'name="leader_person_id" type="number"' not in page
    assert f'<option value="{zhao}" >赵店主（罗塘村）</option>' in page and "钱店主（" in page
    typed = {"org_unit_id": str(county.unit("T02D1V1")), "name": "青山街十店联防组", "kind": "shops", "households": "9"}
    narrowed = admin.post("/patrol/groups/", data={**typed, "person_under": str(county.unit("T02")), "_narrow": "1"})
    text = narrowed.get_data(as_text=True)
    assert narrowed.status_code == 200 and "钱店主（" in text and "赵店主（" not in text       # only 青山乡's people
    assert 'value="青山街十店联防组"' in text and 'name="households" type="number" value="9"' in text   # typed, kept
    assert admin.get("/api/patrol/groups").get_json()["items"] == []                          # nothing saved
    form = text[text.index('id="register-create"'):]
    assert 'name="_narrow"' not in form[:form.index("</button>")]    # Enter saves: the first button is 登记
    again = admin.post("/patrol/groups/", data={**typed, "leader_person_id": str(qian),
                                                "person_under": str(county.unit("T01")), "_narrow": "1"})
    assert f'<option value="{qian}" selected>钱店主（' in again.get_data(as_text=True)   # the choice stays listed
    saved = admin.post("/patrol/groups/", data={**typed, "leader_person_id": str(qian)})
    assert saved.status_code == 302, saved.get_data(as_text=True)[:300]
    assert [g["leader_person_id"] for g in admin.get("/api/patrol/groups").get_json()["items"]] == [qian]
    teams = admin.get("/patrol/teams/").get_data(as_text=True)
    assert 'name="kind" type="text"' not in teams and '<select id="kind" name="kind"' in teams
    kinds = admin.get("/api/modules/patrol").get_json()["settings"]["team_kinds"]
    assert all(f">{k['title']}</option>" in teams for k in kinds)


def test_every_letter_kind_brings_its_signed_share_indicator(app, login):
    # rule: SCO-8 — letters signed level by level: the share signed, what is left, no data without letters
    from core.db import bind_tenant
    from core.jobs import bind_state
    from core.plugins import county_indicators
    june = dt.datetime(YEAR, 6, 1, 10, tzinfo=letters.SHANGHAI)
    with time_machine.travel(june, tick=False) as clock:   # the letters issued on 1 June of their year
        county = load_tenant(app)
        admin = login(county, "county.admin")
        assert admin.put("/api/modules/patrol", json={"enabled": True}).status_code == 200
        ids = []
        for name, village in (("赵店主", "T01D1V1"), ("钱店主", "T01D1V2")):
            person = admin.post("/api/persons", json={"name": name, "org_unit_id": county.unit(village)}).get_json()["id"]
            r = admin.post("/api/letters", json={"kind": KIND, "year": YEAR, "issuing_unit_id": county.unit("T01"),
                                                 "party_kind": "person", "party_id": person})
            assert r.status_code == 201, r.get_json()
            ids.append(r.get_json()["id"])
        clock.move_to(june + dt.timedelta(days=9))
        admin = login(county, "county.admin")                   # signed in again, nine days on
        r = admin.post(f"/api/letters/{ids[0]}/sign", content_type="multipart/form-data",
                       data={"signed_on": f"{YEAR}-06-05", "file": (io.BytesIO(PNG), "责任书.png")})
        assert r.status_code == 200, r.get_json()
        state = pingan(app)
        bind_state(state)  # county_indicators outside a request: as the scoring module's jobs call it
        with bind_tenant(county.id), state.db.transaction(county.id) as s:
            ind = county_indicators(s)[f"{KIND}.signed"]
            assert ind.title == "治安联防责任书签订率" and ind.unit == "%"
            year = (dt.date(YEAR, 1, 1), dt.date(YEAR + 1, 1, 1))
            assert ind.compute(s, county.unit("T01"), *year) == 50.0
            assert ind.compute(s, county.unit("T01"), dt.date(YEAR, 1, 1), dt.date(YEAR, 6, 3)) == 0.0  # by 3 June
            assert ind.compute(s, county.unit("T01"), dt.date(YEAR, 1, 1), dt.date(YEAR, 4, 1)) is None  # none issued
            assert ind.compute(s, county.unit("T02"), *year) is None                  # no letter there: no data
            assert [(r["title"], r["unit"]) for r in ind.records(s, county.unit("T01"), *year)] == [
                ("治安联防责任书（期末未签订）", "郭岭村")]
        assert admin.put("/api/modules/scoring", json={"enabled": True}).status_code == 200
        assert f"{KIND}.signed" in [i["key"] for i in admin.get("/api/scoring/indicators").get_json()["items"]]
