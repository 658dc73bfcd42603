"""Issue 21 (village affairs "五事", seed 001 doc 5): collective deliberation and its quorums
(VIL-3, 村民委员会组织法第二十二条、第二十六条), the public page (VIL-4), the two-ballot evaluation
and its rectification (VIL-5)."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from core.workdays import SHANGHAI
from tests.casework import act, grant

TODAY = dt.datetime(2026, 11, 20, 10, tzinfo=SHANGHAI)
OFFICER = ["village.read", "village.deliberate", "village.publish", "village.rectify", "core.case.read",
           "core.case.handle"]


@pytest.fixture
def pingan_plugins():
    return ["village"]


@pytest.fixture
def cadre(app, db, county, client_as):
    """罗塘村's officer: deliberation and publication for the village only."""
    grant(db, county, "village.cadre", OFFICER, unit="T01D1V1", key="village_officer")
    return client_as("village.cadre")


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(TODAY, tick=False):
        yield


def project(client, county, title="村道硬化工程", unit="T01D1V1", budget="120000.00") -> dict:
    r = client.post("/api/village/projects", json={"org_unit_id": county.unit(unit), "title": title,
                                                   "summary": "硬化村东主干道 800 米", "budget": budget,
                                                   "proposed_on": "2026-11-02"})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def discussed(client, county, **kw) -> dict:
    p = project(client, county, **kw)
    r = client.post(f"/api/village/projects/{p['id']}/discussion",
                    json={"discussed_on": "2026-11-05", "opinion": "两委一致同意提交村民代表会议表决", "submit": True})
    assert r.status_code == 200 and r.get_json()["state"] == "discussed", r.get_json()
    return r.get_json()


def vote(client, pid, body="representatives", members=30, present=25, votes_for=20, against=5, abstain=0, **kw):
    return client.post(f"/api/village/projects/{pid}/vote", json={
        "body": body, "voted_on": "2026-11-10", "members": members, "present": present, "votes_for": votes_for,
        "votes_against": against, "votes_abstain": abstain, "minutes": "会议由村主任张建国主持", **kw})


# --- VIL-3: collective deliberation ---------------------------------------------------------------

def test_a_vote_below_quorum_is_refused_at_the_field_and_nothing_is_saved(county, cadre):
    # rule: VIL-3 — 村民代表会议有三分之二以上的组成人员参加方可召开 (组织法第二十六条)
    p = discussed(cadre, county)
    r = vote(cadre, p["id"], members=30, present=19, votes_for=19, against=0)  # 2/3 of 30 is 20
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["code"] == "below_quorum" and "present" in r.get_json()["errors"]["json"]
    assert "第二十六条" in r.get_json()["message"]
    assert cadre.get(f"/api/village/projects/{p['id']}").get_json()["state"] == "discussed"
    assert vote(cadre, p["id"], members=30, present=20, votes_for=20, against=0).get_json()["state"] == "passed"


def test_villagers_and_households_quorums_follow_article_22_and_a_county_may_only_tighten(county, cadre, client_as):
    # rule: VIL-3 — 村民会议：十八周岁以上村民过半数，或三分之二以上的户的代表 (组织法第二十二条)
    p = discussed(cadre, county)
    r = vote(cadre, p["id"], body="villagers", members=100, present=50, votes_for=50, against=0)
    assert r.status_code == 422 and r.get_json()["code"] == "below_quorum"  # half is not more than half
    h = discussed(cadre, county, title="村部修缮")
    assert vote(cadre, h["id"], body="households", members=9, present=5, votes_for=5, against=0).status_code == 422
    assert vote(cadre, h["id"], body="households", members=9, present=6, votes_for=6, against=0).status_code == 200
    admin = client_as("county.admin")
    for looser in ({"representatives_quorum": "more_than_half"}, {"villagers_quorum": "not_a_rule"},
                   {"approval_pct": 50}):
        r = admin.put("/api/modules/village", json={"enabled": True, "settings": looser})
        assert r.status_code == 422, (looser, r.get_json())
    r = admin.put("/api/modules/village", json={"enabled": True, "settings": {"villagers_quorum": "two_thirds"}})
    assert r.status_code == 200, r.get_json()
    assert vote(cadre, p["id"], body="villagers", members=100, present=60, votes_for=60, against=0).status_code == 422
    assert vote(cadre, p["id"], body="villagers", members=99, present=66, votes_for=66, against=0).status_code == 200


def test_79_percent_approval_fails_under_an_80_percent_rule_and_a_failed_project_is_not_carried_out(county, cadre):
    # rule: VIL-3 — 未能达成80%以上人员认可的项目，原则上不得实施 (seed 001 doc 5)
    p = discussed(cadre, county)
    failed = vote(cadre, p["id"], body="villagers", members=150, present=100, votes_for=79, against=21).get_json()
    assert failed["state"] == "failed" and failed["approval"] == "79.0" and failed["approval_pct"] == 80
    for path, body in (("progress", {"progress_on": "2026-11-15", "progress_pct": 10, "note": "开工"}),
                       ("completion", {"completed_on": "2026-11-15", "note": "完工"})):
        r = cadre.post(f"/api/village/projects/{p['id']}/{path}", json=body)
        assert r.status_code == 409 and r.get_json()["code"] == "project_failed", r.get_json()
    assert vote(cadre, p["id"]).get_json()["code"] == "already_voted"  # a new proposal starts again
    q = discussed(cadre, county, title="路灯安装")
    passed = vote(cadre, q["id"], body="villagers", members=150, present=100, votes_for=80, against=20).get_json()
    assert passed["state"] == "passed" and passed["approval"] == "80.0"
    r = cadre.post(f"/api/village/projects/{q['id']}/progress",
                   json={"progress_on": "2026-11-15", "progress_pct": 40, "note": "已完成基础"})
    assert r.get_json()["state"] == "in_progress"


def test_every_figure_reconciles(county, cadre):
    # rule: VIL-3 — votes cast ≤ present ≤ members
    p = discussed(cadre, county)
    r = vote(cadre, p["id"], members=30, present=31, votes_for=25)
    assert r.status_code == 422 and r.get_json()["code"] == "present_exceeds_members"
    assert "present" in r.get_json()["errors"]["json"]
    r = vote(cadre, p["id"], members=30, present=25, votes_for=20, against=5, abstain=1)
    assert r.status_code == 422 and r.get_json()["code"] == "votes_exceed_present"
    r = vote(cadre, p["id"], members=0, present=0, votes_for=0, against=0)
    assert r.status_code == 422 and "members" in r.get_json()["errors"]["json"]
    undiscussed = project(cadre, county, title="未经两委")
    assert vote(cadre, undiscussed["id"]).get_json()["code"] == "not_discussed"


def test_a_project_outside_the_cadres_village_is_404(county, cadre, client_as):
    r = cadre.post("/api/village/projects", json={"org_unit_id": county.unit("T01D1V2"), "title": "郭岭村项目",
                                                  "budget": "1", "proposed_on": "2026-11-02"})
    assert r.status_code == 404
    other = project(client_as("county.admin"), county, unit="T01D1V2")
    assert cadre.get(f"/api/village/projects/{other['id']}").status_code == 404
    r = cadre.post("/api/village/projects", json={"org_unit_id": county.unit("T01D1V1G1"), "title": "小组项目",
                                                  "budget": "1", "proposed_on": "2026-11-02"})
    assert r.status_code == 422 and r.get_json()["code"] == "not_a_village"


# --- VIL-4: open handling ------------------------------------------------------------------------

def test_the_public_page_shows_only_published_items_and_no_personal_data(app, county, cadre):
    # rule: VIL-4 — 将办事进程和结果进行公开
    shown = discussed(cadre, county, title="村道硬化工程")
    vote(cadre, shown["id"])
    r = cadre.post(f"/api/village/projects/{shown['id']}/publications", json={"stage": "decision"})
    assert r.status_code == 201 and r.get_json()["published_on"] == "2026-11-20", r.get_json()
    assert cadre.post(f"/api/village/projects/{shown['id']}/publications",
                      json={"stage": "decision"}).status_code == 409
    assert cadre.post(f"/api/village/projects/{shown['id']}/publications",
                      json={"stage": "completion"}).get_json()["code"] == "not_completed"
    cadre.post(f"/api/village/projects/{shown['id']}/progress",
               json={"progress_on": "2026-11-18", "progress_pct": 30, "note": "路基已完成，未公开的进度"})
    hidden = discussed(cadre, county, title="未公开的项目")
    vote(cadre, hidden["id"])
    anonymous = app.test_client()
    base = f"http://{county.host}"
    body = anonymous.get(f"{base}/api/village/public/villages/{county.unit('T01D1V1')}").get_json()
    assert body["village"] == "罗塘村" and [p["title"] for p in body["projects"]] == ["村道硬化工程"]
    assert [s["stage"] for s in body["projects"][0]["stages"]] == ["decision"]
    assert body["projects"][0]["stages"][0]["published_on"] == "2026-11-20"
    assert "120000.00" in body["projects"][0]["stages"][0]["content"]  # the budget
    page = anonymous.get(f"{base}/village/public/{county.unit('T01D1V1')}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "村道硬化工程" in html and "2026-11-20" in html
    for private in ("未公开的项目", "未公开的进度", "张建国", "罗塘村综治专干", "village.cadre", "两委一致同意"):
        assert private not in html, private
    assert anonymous.get(f"{base}/village/public/{county.unit('T01D1V1G1')}").status_code == 404  # a group
    assert anonymous.get(f"{base}/village/public/{county.unit('T01')}").status_code == 404


def test_publication_on_time_is_judged_only_when_the_county_sets_a_limit(county, cadre, client_as):
    # rule: VIL-4
    p = discussed(cadre, county)
    vote(cadre, p["id"])  # voted 2026-11-10, published 2026-11-20
    assert cadre.post(f"/api/village/projects/{p['id']}/publications",
                      json={"stage": "decision"}).get_json()["on_time"] is None
    client_as("county.admin").put("/api/modules/village", json={"enabled": True,
                                                                "settings": {"publish_within_days": 7}})
    cadre.post(f"/api/village/projects/{p['id']}/progress",
               json={"progress_on": "2026-11-19", "progress_pct": 30, "note": "路基完成"})
    assert cadre.post(f"/api/village/projects/{p['id']}/publications",
                      json={"stage": "progress"}).get_json()["on_time"] is True


# --- VIL-5: two-ballot evaluation ----------------------------------------------------------------

def ballots(county, unit="T01D1V1", villager=(180, 10, 10), party=(40, 4, 6), **kw) -> dict:
    return {"org_unit_id": county.unit(unit), "year": 2026, "held_on": "2026-11-18",
            "villager_issued": sum(villager), "villager_satisfied": villager[0], "villager_basic": villager[1],
            "villager_unsatisfied": villager[2], "party_issued": sum(party), "party_satisfied": party[0],
            "party_basic": party[1], "party_unsatisfied": party[2], **kw}


def test_an_evaluation_under_90_percent_registers_the_rectification_with_its_limit_and_the_indicator(
        app, county, cadre, client_as, county_session):
    # rule: VIL-5 — 群众和党员"两票"满意率达不到90%的，责成村"两委会"限期整改
    from plugins.village.evaluations import below_threshold, rectifications_open
    township = client_as("donghu.admin")
    r = township.post("/api/village/evaluations", json=ballots(county))  # villagers 95 %, party 44/50 = 88 %
    assert r.status_code == 201, r.get_json()
    e = r.get_json()
    assert (e["villager_pct"], e["party_pct"], e["passed"]) == ("95.0", "88.0", False)
    assert e["case_number"] and e["case_state"] == "registered"
    # 30 days from the next day: 2026-12-20, a Sunday, so the next working day (Civil Code Art. 201, 203)
    due = dt.datetime.fromisoformat(e["case_due_at"]).astimezone(SHANGHAI)
    assert due == dt.datetime(2026, 12, 22, tzinfo=SHANGHAI)  # read "2026-12-21 24:00"
    passing = township.post("/api/village/evaluations", json=ballots(county, unit="T01D1V2", party=(45, 0, 5)))
    assert passing.get_json()["passed"] is True and passing.get_json()["case_id"] is None
    township_id, start, end = county.unit("T01"), dt.date(2026, 1, 1), dt.date(2027, 1, 1)
    with county_session() as s:
        assert below_threshold(s, township_id, start, end) == 1.0
        assert rectifications_open(s, township_id, start, end) == 1.0
        assert below_threshold(s, county.unit("T01D1V2"), start, end) == 0.0
    case = township.get(f"/api/cases/{e['case_id']}").get_json()
    assert case["case_type"] == "village.rectification" and case["org_unit_id"] == county.unit("T01D1V1")
    assert act(cadre, e["case_id"], "start", {"note": "召开两委会，逐条制定整改措施"}).status_code == 200
    assert act(cadre, e["case_id"], "finish", {"note": "整改完成，回访群众满意"}).status_code == 200
    assert township.get(f"/api/village/evaluations/{e['id']}").get_json()["case_closed"] is True
    with county_session() as s:
        assert rectifications_open(s, township_id, start, end) == 0.0
        assert below_threshold(s, township_id, start, end) == 1.0


def test_ballots_reconcile_and_an_evaluation_is_entered_once(county, client_as):
    # rule: VIL-5
    township = client_as("donghu.admin")
    body = ballots(county)
    body["party_issued"] = 49  # 50 valid ballots of 49 issued
    r = township.post("/api/village/evaluations", json=body)
    assert r.status_code == 422 and "party_satisfied" in r.get_json()["errors"]["json"]
    assert township.post("/api/village/evaluations", json=ballots(county)).status_code == 201
    assert township.post("/api/village/evaluations", json=ballots(county)).status_code == 409
    r = township.post("/api/cases", json={"case_type": "village.rectification", "title": "手工整改",
                                          "org_unit_id": county.unit("T01D1V1"), "details": {"evaluation_id": 1}})
    assert r.status_code == 422  # a rectification comes from an evaluation only


# --- the pages --------------------------------------------------------------------------------------

def test_the_vote_form_keeps_what_was_typed_when_refused(county, cadre):
    # rule: VIL-3
    p = discussed(cadre, county)
    form = {"act": "vote", "body": "representatives", "voted_on": "2026-11-10", "members": "30", "present": "12",
            "votes_for": "12", "votes_against": "0", "votes_abstain": "0", "minutes": "表决记录原文"}
    page = cadre.post(f"/village/projects/{p['id']}", data=form)
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "不足村民代表会议法定人数" in html
    assert 'value="12"' in html and "表决记录原文" in html and 'value="2026-11-10"' in html
    assert cadre.get("/village/projects").status_code == 200
    assert cadre.get("/village/evaluations").status_code == 200


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64 + b"\xff\xd9"


def test_the_photo_of_the_signed_minutes_is_kept_with_the_project_and_never_published(app, county, cadre, client_as):
    # rule: VIL-3 — votes recorded "with the photo of the signed minutes"
    import io

    from core.app import pingan
    from core.storage import storage
    p = discussed(cadre, county)
    url = f"/api/village/projects/{p['id']}/minutes-photo"
    early = cadre.post(url, data={"file": (io.BytesIO(JPEG), "签字.jpg")}, content_type="multipart/form-data")
    assert early.status_code == 409 and early.get_json()["code"] == "not_voted"
    assert vote(cadre, p["id"]).status_code == 200
    assert cadre.get(url).status_code == 404                                        # none yet
    none = cadre.post(url, data={}, content_type="multipart/form-data")
    assert none.status_code == 422 and "file" in none.get_json()["errors"]["files"]
    text = cadre.post(url, data={"file": (io.BytesIO(b"just text"), "a.jpg")}, content_type="multipart/form-data")
    assert text.status_code == 415                                                  # judged by content
    r = cadre.post(url, data={"file": (io.BytesIO(JPEG), "签字.jpg")}, content_type="multipart/form-data")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["has_minutes_photo"] is True and r.get_json()["minutes_photo_filename"] == "签字.jpg"
    got = cadre.get(url)
    assert got.status_code == 200 and got.data == JPEG and got.headers["Content-Type"] == "image/jpeg"
    assert got.headers["Content-Disposition"].startswith("attachment") and got.headers["Content-Security-Policy"] == "sandbox"
    first_key = _photo_key(app, county, p["id"])
    # a new photo replaces the old one, whose file is deleted once that commits
    r = cadre.post(url, data={"file": (io.BytesIO(JPEG + b"2"), "clearer.jpg")}, content_type="multipart/form-data")
    assert r.status_code == 200 and r.get_json()["minutes_photo_filename"] == "clearer.jpg"
    store = storage(pingan(app).config)
    assert not store.path(first_key).exists() and store.path(_photo_key(app, county, p["id"])).exists()
    # another village's officer cannot see or replace it; the public page never shows it
    other = client_as("donghu.admin")
    assert other.get(url).status_code == 200                                        # the township may read it
    assert client_as("village.cadre2").get(url).status_code in (403, 404)
    page = cadre.get(f"/village/projects/{p['id']}").get_data(as_text=True)
    assert "clearer.jpg" in page and 'id="village-minutes_photo"' in page
    public = cadre.get(f"/village/public/{county.unit('T01D1V1')}").get_data(as_text=True)
    assert "minutes-photo" not in public and "clearer.jpg" not in public
    # the page's form: refused without a file, the message at the field
    refused = cadre.post(f"/village/projects/{p['id']}", data={"act": "minutes_photo"}, content_type="multipart/form-data")
    assert refused.status_code == 422 and "请选择要上传的文件" in refused.get_data(as_text=True)


def _photo_key(app, county, project_id) -> str:
    from sqlalchemy import select

    from core.app import pingan
    from plugins.village.models import Project
    with pingan(app).db.transaction(county.id) as s:
        return s.scalar(select(Project.minutes_photo_key).where(Project.id == project_id))


# --- VIL-1 and VIL-2: cadres ask, people speak ---------------------------------------------------

def test_contacts_count_against_the_four_ones_quota_per_cadre(db, county, client_as):
    # rule: VIL-1 — 指导员落实"四个一"：联系一名党员、一名普通群众、帮扶一户困难家庭、帮办一个企业
    grant(db, county, "village.cadre", ["village.read", "village.contact"], unit="T01D1V1", key="instructor")
    cadre = client_as("village.cadre")
    group = county.unit("T01D1V1G1")
    for kind in ("party_member", "villager", "hardship_household"):
        r = cadre.post("/api/village/contacts", json={"org_unit_id": group, "kind": kind, "contacted_on": "2026-11-14",
                                                      "raised": "村东路灯不亮", "outcome": "deliberation"})
        assert r.status_code == 201, r.get_json()
    assert cadre.post("/api/village/contacts", json={"org_unit_id": county.unit("T01D1V2G1"), "kind": "enterprise",
                                                     "contacted_on": "2026-11-14", "outcome": "none"}).status_code == 404
    township = client_as("donghu.admin")
    figures = township.get(f"/api/village/contact-figures?org_unit_id={county.unit('T01')}").get_json()
    assert (figures["first"], figures["last"]) == ("2026-11-01", "2026-11-30")
    [row] = figures["cadres"]
    assert row["name"] == "罗塘村综治专干" and row["counts"]["enterprise"] == 0 and row["met"] is False
    cadre.post("/api/village/contacts", json={"org_unit_id": group, "kind": "enterprise", "contacted_on": "2026-11-15",
                                              "outcome": "answered"})
    assert township.get("/api/village/contact-figures").get_json()["cadres"][0]["met"] is True
    assert township.get("/api/village/contact-figures?day=2026-10-15").get_json()["cadres"] == []
    assert township.get("/village/contact-figures").status_code == 200


def test_a_commitment_made_at_a_hearing_is_a_case_with_a_deadline(db, county, client_as):
    # rule: VIL-2 — 每季度举办群众说事会；对群众呼声高的事，让干部当场表态
    grant(db, county, "village.cadre", ["village.read", "village.contact", "core.case.read"], unit="T01D1V1",
          key="hearing_officer")
    cadre = client_as("village.cadre")
    r = cadre.post("/api/village/hearings", json={
        "org_unit_id": county.unit("T01D1V1"), "held_on": "2026-11-16", "questions": "垃圾清运不及时；路灯不亮",
        "answers": "垃圾清运已与保洁公司约定每日一次", "commitment": "两周内修复村东路灯"})
    assert r.status_code == 201, r.get_json()
    case_id = r.get_json()["commitment_case_id"]
    case = cadre.get(f"/api/cases/{case_id}").get_json()
    assert case["case_type"] == "village.commitment" and case["due_at"]
    assert act(cadre, case_id, "fulfil", {"note": "路灯已修复"}).status_code == 200
    plain = cadre.post("/api/village/hearings", json={"org_unit_id": county.unit("T01D1V1"), "held_on": "2026-11-16",
                                                      "questions": "医保缴费咨询", "answers": "当场解答"})
    assert plain.status_code == 201 and plain.get_json()["commitment_case_id"] is None


def test_the_minutes_of_a_vote_print_as_a_pdf(county, cadre):
    # rule: VIL-3 — printable deliberation minutes
    p = discussed(cadre, county)
    assert cadre.get(f"/api/village/projects/{p['id']}/minutes").status_code == 409
    vote(cadre, p["id"])
    r = cadre.get(f"/api/village/projects/{p['id']}/minutes")
    assert r.status_code == 200 and r.data.startswith(b"%PDF") and r.mimetype == "application/pdf"


def test_the_create_forms_refuse_at_the_field_and_save_once_corrected(county, cadre, client_as):
    # rule: VIL-3, VIL-5
    form = {"org_unit_id": str(county.unit("T01D1V1")), "title": "", "budget": "5000", "proposed_on": "2026-11-02"}
    page = cadre.post("/village/projects", data=form)
    assert page.status_code == 422 and 'id="title-error"' in page.get_data(as_text=True)
    assert 'value="5000"' in page.get_data(as_text=True)
    form["title"] = "文化广场修缮"
    saved = cadre.post("/village/projects", data=form)
    assert saved.status_code == 302 and "/village/projects/" in saved.headers["Location"]
    township = client_as("donghu.admin")
    body = {k: str(v) for k, v in ballots(county).items()}
    body["party_issued"] = "10"
    page = township.post("/village/evaluations", data=body)
    assert page.status_code == 422 and "多于发出的" in page.get_data(as_text=True)
    body["party_issued"] = "50"
    assert township.post("/village/evaluations", data=body).status_code == 302
    assert "未达到" in township.get("/village/evaluations").get_data(as_text=True)
