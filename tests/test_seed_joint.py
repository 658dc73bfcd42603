"""Seed fidelity (issue 19): the joint-mechanisms module in the seed counties.

- ``tenants/seed002`` after seed 002 (江油市义新镇, 2017): the 六联 set, the centre standard the
  实施意见 names for the township and for a village, the centres' directors as it assigns them,
  and its 2017–2018 construction plan with its phases — a village past its phase's target date
  without acceptance is flagged (ORG-5).
Time travels through 2017–2018 (time-machine).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import time_machine

from tests.conftest import load_tenant

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
TENANTS = Path(__file__).resolve().parent.parent / "tenants"
NAMED_2017 = ["YXS1", "YXV1", "YXV2", "YXV3", "YXV4", "YXV5"]   # 白庙社区 and the five villages named
LATER = ["YXV6", "YXV7", "YXV8", "YXV9"]                         # "2018年完成剩余4个村"


def on(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, 9, tzinfo=SHANGHAI)


def test_seed002_six_links_the_centres_and_the_2017_2018_plan(app, login):
    # rule: ORG-5
    # rule: JNT-1
    with time_machine.travel(on(2017, 9, 26), tick=False):   # the day after the 实施意见
        county = load_tenant(app, folder=TENANTS / "seed002")
        town = login(county, "yixin.centre")
        titles = [m["title"] for m in town.get("/api/joint/mechanisms").get_json()]
        assert titles == ["矛盾纠纷联调", "社会治安联防", "重点问题联治", "重点人员联管", "服务管理联抓", "基层平安联创"]
        # 五、推进计划: the town centre, 白庙社区 and the five villages in 2017; the other four in 2018
        plan = {"prep": "2017-09-30", "build": "2017-11-30", "inspection": "2017-12-31"}
        for code in ["YX", *NAMED_2017]:
            for phase, day in plan.items():
                r = town.post("/api/joint/construction", json={"org_unit_id": county.unit(code), "phase": phase,
                                                               "target_date": day})
                assert r.status_code == 201, r.get_json()
        for code in LATER:
            for phase in ("build", "inspection"):
                r = town.post("/api/joint/construction", json={"org_unit_id": county.unit(code), "phase": phase,
                                                               "target_date": "2018-12-31"})
                assert r.status_code == 201, r.get_json()
        # 四、建设内容 (一): the town centre — its sign, the Party secretary as director, the leader in
        # charge of 综治 as deputy, the 派出所 and 司法所 stationed, every room the 实施意见 names
        r = town.put(f"/api/joint/centres/{county.unit('YX')}", json={
            "name": "义新镇综治中心", "director_post": "镇党委书记兼任", "director_name": "镇党委书记",
            "deputies": [{"name": "分管综治工作的领导", "post": "兼任"}],
            "facilities": ["office", "grid", "mediation_centre", "video", "sign"]})
        assert r.status_code == 200, r.get_json()
        centre = r.get_json()
        assert (centre["met"], centre["required"]) == (5, 5)
        assert {"新安片区派出所", "片区司法所", "镇卫生院"} == {m["name"] for m in centre["stationed"]}
        # (二): a village's centre — its branch secretary directs, the village head is deputy
        r = town.put(f"/api/joint/centres/{county.unit('YXV1')}", json={
            "name": "白庙村综治中心", "director_name": "村党支部书记", "director_post": "兼任",
            "deputies": [{"name": "村主任", "post": "兼任，负责日常工作"}], "facilities": ["police_room", "mediation_room"]})
        assert r.status_code == 200, r.get_json()
        assert [f["title"] for f in r.get_json()["facilities"] if not f["has"]] == ["“雪亮”工程视频监控室"]
        # a township's room is not in a village's standard
        r = town.put(f"/api/joint/centres/{county.unit('YXV2')}", json={"facilities": ["sign"]})
        assert r.status_code == 422 and r.get_json()["code"] == "unknown_facility"
    with time_machine.travel(on(2017, 12, 20), tick=False):   # 检查验收 by the city: the town centre passes
        town = login(county, "yixin.centre")
        items = town.get(f"/api/joint/construction?org_unit_id={county.unit('YX')}").get_json()["items"]
        for item in items:
            if item["org_unit"] == "义新镇":
                r = town.post(f"/api/joint/construction/{item['id']}/acceptance", json={
                    "result": "passed", "checked_on": "2017-12-20", "evidence": "市综治办牵头检查验收"})
                assert r.status_code == 200, r.get_json()
    with time_machine.travel(on(2018, 1, 5), tick=False):
        town = login(county, "yixin.centre")
        progress = town.get(f"/api/joint/construction?org_unit_id={county.unit('YX')}").get_json()
        state = {(i["org_unit"], i["phase"]): i["state"] for i in progress["items"]}
        assert {state[("义新镇", p)] for p in plan} == {"accepted"}
        # the 2017 villages not accepted by their dates: flagged; the 2018 ones not yet due
        assert state[("茅庵村", "inspection")] == "flagged" and state[("白庙社区", "build")] == "flagged"
        assert state[("其余村一（文件未列名）", "build")] == "pending"
        assert progress["figures"]["flagged"] == len(NAMED_2017) * 3
        page = town.get("/joint/construction/").get_data(as_text=True)
        assert "逾期未验收" in page and "茅庵村" in page
        overview = town.get(f"/api/joint/centres?org_unit_id={county.unit('YX')}").get_json()
        assert overview["figures"] == {"centres": 11, "recorded": 2, "meeting_standard": 1}


def test_seed000_weekly_sorting_meeting_takes_the_windows_matters_and_the_five_links(app, login):
    """Seed 000: doc 5's 五联 (联合调解 … 联合创建) and doc 1's weekly sorting meeting of the
    centre's members, whose agenda takes the matters left at the window (INT-4)."""
    # rule: INT-4
    # rule: JNT-1
    with time_machine.travel(dt.datetime(2025, 3, 3, 9, tzinfo=SHANGHAI), tick=False):   # a Monday
        county = load_tenant(app, folder=TENANTS / "seed000")
        centre = login(county, "mugua.centre")
        titles = [m["title"] for m in centre.get("/api/joint/mechanisms").get_json()]
        assert titles == ["联合调解", "联合防范", "联合管理", "联合整治", "联合创建"]
        matter = centre.post("/api/intake", json={"channel": "visit", "org_unit_id": county.unit("MG"),
                                                   "arose_unit_id": county.unit("MGA1V1"), "subject": "宅基地边界争议",
                                                   "content": "一村两户因宅基地边界争执"})
        assert matter.status_code == 201, matter.get_json()
        matter = matter.get_json()
        r = centre.post("/api/joint/meetings", json={"org_unit_id": county.unit("MG"), "kind": "sorting",
                                                     "held_on": "2025-03-03", "convener": "中心主任",
                                                     "intake_ids": [matter["id"]]})
        assert r.status_code == 201, r.get_json()
        meeting = r.get_json()
        assert meeting["title"] == "中心成员会议（每周分流）" and meeting["agenda"][0]["intake_state"] == "pending"
        # 逐项进行分流调处: sorted into a dispute, then handed to the village with a deadline
        r = centre.post(f"/api/intake/{matter['id']}/sort", json={"case_type": "mediation.dispute",
                                                                  "details": {"dispute_type": "boundary"}})
        assert r.status_code == 200, r.get_json()
        case_id = r.get_json()["case_id"]
        r = centre.post(f"/api/joint/meetings/{meeting['id']}/decisions", json={
            "case_id": case_id, "text": "由一村调委会调处，镇司法所指导", "deadline": "2025-03-10",
            "lead": {"org_unit_id": county.unit("MGA1V1")}})
        assert r.status_code == 201, r.get_json()
        agenda = centre.get(f"/api/joint/meetings/{meeting['id']}").get_json()["agenda"]
        assert (agenda[0]["intake_state"], agenda[0]["case_id"]) == ("case", case_id)
    with time_machine.travel(dt.datetime(2025, 3, 10, 9, tzinfo=SHANGHAI), tick=False):   # the next Monday
        centre = login(county, "mugua.centre")
        r = centre.post("/api/joint/meetings", json={"org_unit_id": county.unit("MG"), "kind": "sorting",
                                                     "held_on": "2025-03-10", "convener": "中心主任"})
        assert [d["case_id"] for d in r.get_json()["carried"]] == [case_id]   # not yet done: heads the agenda


def test_seed004_the_county_monthly_meeting_sets_the_warning_level_every_user_sees(app, login):
    """Seed 004 §6: the county's monthly 联席会议 assesses public order and sets the warning level,
    shown on the home page of the county's users (RPT-2)."""
    # rule: RPT-2
    # rule: JNT-2
    with time_machine.travel(dt.datetime(2025, 4, 1, 9, tzinfo=SHANGHAI), tick=False):
        county = load_tenant(app, folder=TENANTS / "seed004")
        office = login(county, "county.office")
        r = office.post("/api/joint/meetings", json={"org_unit_id": county.unit("C"), "kind": "county_joint",
                                                     "held_on": "2025-04-01", "convener": "县委政法委书记"})
        assert r.status_code == 201 and r.get_json()["title"] == "县联席会议（政法委、综治委、维稳办、610办）", r.get_json()
        r = office.post("/api/joint/analyses", json={"month": "2025-03", "level": "yellow",
                                                     "analysis": "三月盗窃案件上升，确定黄色预警"})
        assert r.status_code == 201, r.get_json()
        # the township office cannot set the county's level; its users and the village's see it
        assert login(county, "jia.office").post("/api/joint/analyses", json={
            "month": "2025-02", "level": "blue", "analysis": "x"}).status_code == 403
        for name in ("jia.office", "jia1.viewer"):
            home = login(county, name).get("/").get_data(as_text=True)
            card = home.split('id="widget-joint.warning_level"')[1].split("</section>")[0]
            assert "黄色" in card and "2025" in card, name
