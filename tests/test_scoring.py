"""The scoring module (考核评比): rubrics validated by field, scores computed from the
indicators of other modules and explained down to their records, publishing freezes,
appeals correct and recompute, vetoes, ranking with the county's tie rule."""
from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import select

from core.audit import AuditEntry

Q1 = dt.datetime(2026, 4, 10, 2, 0, tzinfo=dt.timezone.utc)   # after the first quarter of 2026


@pytest.fixture
def pingan_plugins():
    return ["petition", "mediation", "scoring"]


def rubric(items, level="township", year=2026):
    return {"level": level, "year": year, "title": "平安法治区镇竞赛办法", "items": items}


KEY_PETITIONS = {"category": "重点信访事件", "title": "越级访", "points": 10, "source": "indicator",
                 "indicator": "petition.level_skipping", "rule": "deduct", "per_event": 2, "floor": 0}
CHECK = {"category": "依法行政", "title": "规范性文件按规定报送备案", "points": 5, "source": "check"}
VETO = {"category": "一票否决", "title": "发生重大群体性事件", "source": "check", "veto": True}


def escalate(admin, unit, day, level="city"):
    r = admin.post("/api/petition/escalations", json={"org_unit_id": unit, "petitioner": "某某", "level": level,
                                                       "occurred_on": day})
    assert r.status_code == 201, r.get_json()


@pytest.fixture
def scored(county, client_as):
    """A township rubric, three key petition events in 东湖镇 and one in 青山乡 in Q1 2026, one
    in 东湖镇 after it, and the open first quarter."""
    admin = client_as("county.admin")
    with time_machine.travel(Q1, tick=False):
        r = admin.post("/api/scoring/rubrics", json=rubric([KEY_PETITIONS, CHECK, VETO]))
        assert r.status_code == 201, r.get_json()
        for day, unit in (("2026-01-05", "T01D1V1"), ("2026-02-10", "T01D1V2"), ("2026-03-31", "T01"),
                          ("2026-02-01", "T02D1V1"), ("2026-04-01", "T01D1V1")):
            escalate(admin, county.unit(unit), day)
        p = admin.post("/api/scoring/periods", json={"level": "township", "kind": "quarter", "year": 2026, "number": 1})
        assert p.status_code == 201, p.get_json()
    return admin, p.get_json()["id"], r.get_json()


def card(admin, period_id, unit):
    r = admin.get(f"/api/scoring/periods/{period_id}/card?org_unit_id={unit}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def item(c, title):
    return next(i for i in c["items"] if i["title"] == title)


def test_deduct_two_per_key_petition_event_lists_exactly_the_events(county, scored):
    # rule: SCO-1  rule: PET-4 — 越级访 counts feed the rubric: 10 − 2 × 3 = 4, the page lists the three
    admin, period_id, _ = scored
    with time_machine.travel(Q1, tick=False):
        c = card(admin, period_id, county.unit("T01"))
        i = item(c, "越级访")
        assert (i["figure"], i["points"]) == (3.0, 4.0)
        assert "每次扣2分" in i["rule_text"]
        assert [(r["date"], r["unit"]) for r in i["records"]] == [
            ("2026-01-05", "罗塘村"), ("2026-02-10", "郭岭村"), ("2026-03-31", "东湖镇")]
        assert item(card(admin, period_id, county.unit("T02")), "越级访")["points"] == 8.0
        page = admin.get(f"/scoring/periods/{period_id}/card?org_unit_id={county.unit('T01')}")
        text = page.get_data(as_text=True)
        assert page.status_code == 200 and "计入的记录（3条）" in text
        assert text.count("越级访·赴市") == 3 and "2026-04-01" not in text
        for day in ("2026-01-06", "2026-01-07", "2026-01-08"):        # six events: down to the floor, not below
            escalate(admin, county.unit("T01D1V1"), day)
        assert item(card(admin, period_id, county.unit("T01")), "越级访")["points"] == 0.0


def test_publish_freezes_and_an_upheld_appeal_recomputes(county, scored, client_as, county_session):
    # rule: SCO-1  rule: SCO-7 — a published period never changes with later data; appeals are corrected
    admin, period_id, _ = scored
    t01 = county.unit("T01")
    with time_machine.travel(Q1, tick=False):
        assert admin.post(f"/api/scoring/periods/{period_id}/state", json={"action": "publish"}).status_code == 200
        before = card(admin, period_id, t01)
        escalate(admin, county.unit("T01D1V2"), "2026-03-15")              # a case added afterwards
        after = card(admin, period_id, t01)
        assert after == before and item(after, "越级访")["figure"] == 3.0
        r = admin.post("/api/scoring/appeals", json={"period_id": period_id, "org_unit_id": t01,
                                                     "item_key": item(before, "越级访")["key"], "reason": "一次为重复登记"})
        assert r.status_code == 409                                           # not yet in the appeal window
        assert admin.post(f"/api/scoring/periods/{period_id}/state", json={"action": "open_appeals"}).status_code == 200
    officer = client_as("donghu.admin")                              # 东湖镇's own officer appeals
    with time_machine.travel(Q1 + dt.timedelta(days=2), tick=False):
        key = item(before, "越级访")["key"]
        r = officer.post("/api/scoring/appeals", json={"period_id": period_id, "org_unit_id": county.unit("T02"),
                                                       "item_key": key, "reason": "不是本镇"})
        assert r.status_code == 404                                           # another township: out of scope
        r = officer.post("/api/scoring/appeals", json={"period_id": period_id, "org_unit_id": t01, "item_key": key,
                                                       "reason": "2月10日一次为重复登记"})
        assert r.status_code == 201, r.get_json()
        appeal = r.get_json()["id"]
        assert officer.post(f"/api/scoring/appeals/{appeal}/decision",
                            json={"decision": "upheld", "reason": "核实", "points": 6}).status_code == 403
        r = admin.post(f"/api/scoring/appeals/{appeal}/decision",
                       json={"decision": "upheld", "reason": "核实为重复登记，更正为扣4分", "points": 6})
        assert r.status_code == 200, r.get_json()
        a = r.get_json()
        assert (a["points_before"], a["points_after"], a["total_before"], a["total_after"]) == (4.0, 6.0, 4.0, 6.0)
        corrected = item(card(admin, period_id, t01), "越级访")
        assert corrected["points"] == 6.0 and corrected["corrected"] and corrected["figure"] == 3.0
        rows = {x["unit_name"]: x for x in admin.get(f"/api/scoring/periods/{period_id}").get_json()["results"]}
        assert rows["东湖镇"]["total"] == 6.0 and rows["青山乡"]["total"] == 8.0 and rows["青山乡"]["rank"] == 3
        assert rows["东湖镇"]["rank"] == 4 and rows["白河镇"]["rank"] == rows["柳林街道"]["rank"] == 1
    with time_machine.travel(Q1 + dt.timedelta(days=30), tick=False):    # the county's window (7 days) is over
        r = officer.post("/api/scoring/appeals", json={"period_id": period_id, "org_unit_id": t01, "item_key": key,
                                                       "reason": "再次申诉"})
        assert r.status_code == 409 and r.get_json()["code"] == "no_appeal_window"
    with county_session() as s:
        actions = set(s.scalars(select(AuditEntry.action)))
    assert {"scoring.publish", "scoring.appeal_upheld"} <= actions


def test_vetoed_township_is_ranked_but_loses_its_honours(county, scored, enable_plugin):
    # rule: SCO-4 — a vetoed unit is marked with its cause, ranked on its points, and not honoured
    admin, period_id, rub = scored
    enable_plugin("scoring", {"honours_top": 2})
    veto_key = next(i["key"] for i in rub["items"] if i["title"] == "发生重大群体性事件")
    check_key = next(i["key"] for i in rub["items"] if i["title"] == "规范性文件按规定报送备案")
    with time_machine.travel(Q1, tick=False):
        for unit in ("T01", "T02"):
            r = admin.post(f"/api/scoring/periods/{period_id}/entries",
                           json={"org_unit_id": county.unit(unit), "item_key": check_key, "passed": True, "note": "查阅备案登记"})
            assert r.status_code == 200, r.get_json()
        r = admin.post(f"/api/scoring/periods/{period_id}/entries",
                       json={"org_unit_id": county.unit("T02"), "item_key": veto_key, "passed": False,
                             "note": "3月发生聚集事件，见县委政法委通报"})
        assert r.status_code == 200
        rows = {x["unit_name"]: x for x in admin.get(f"/api/scoring/periods/{period_id}").get_json()["results"]}
        assert rows["青山乡"]["total"] == 13.0 and rows["青山乡"]["rank"] == 1            # ranked on its points
        assert rows["青山乡"]["vetoed"] and not rows["青山乡"]["honoured"]
        assert rows["青山乡"]["veto_cause"] == "发生重大群体性事件"
        assert [rows[n]["honoured"] for n in ("白河镇", "柳林街道", "东湖镇")] == [True, True, False]
        assert (rows["白河镇"]["rank"], rows["东湖镇"]["rank"]) == (2, 4)                # ties shared: 1, 2, 2, 4
        page = admin.get(f"/scoring/periods/{period_id}").get_data(as_text=True)
        assert "否决：发生重大群体性事件" in page and "取消评先评优资格" in page
        wb = load_workbook(io.BytesIO(admin.get(f"/api/scoring/periods/{period_id}/ranking.xlsx").data))
        cells = [[c.value for c in row] for row in wb.active.iter_rows(min_row=3)]
        assert cells[0][1:5] == ["青山乡", 13, "是", "发生重大群体性事件"] and cells[-1][1] == "东湖镇"
        enable_plugin("scoring", {"honours_top": 2, "tie_rule": "dense"})
        rows = {x["unit_name"]: x for x in admin.get(f"/api/scoring/periods/{period_id}").get_json()["results"]}
        assert (rows["白河镇"]["rank"], rows["东湖镇"]["rank"]) == (2, 3)                # ties dense: 1, 2, 2, 3


def test_rubric_errors_are_named_by_field(county, client_as, enable_plugin):
    # rule: SCO-1 — unknown indicator, overlapping bands, points not adding up where the county says they must
    admin = client_as("county.admin")
    enable_plugin("scoring", {"total_must_match": True, "total_points": 100})
    bands = {"category": "调解", "title": "调解成功率", "points": 90, "source": "indicator",
             "indicator": "mediation.success_rate", "rule": "bands",
             "bands": [{"low": 0, "high": 80, "points": 0}, {"low": 90, "points": 90}, {"low": 85, "high": 95, "points": 60}]}
    unknown = dict(KEY_PETITIONS, indicator="patrol.nothing_like_this")
    r = admin.post("/api/scoring/rubrics", json=rubric([bands, unknown]))
    assert r.status_code == 422
    errors = r.get_json()["errors"]["json"]["items"]
    assert errors["0"]["bands"]["2"]["low"] == ["与第2档的区间重叠"]
    assert errors["1"]["indicator"] == ["未知指标，或该指标所属模块未启用"]
    assert "_total" not in errors                                              # 90 + 10 = 100: fine
    r = admin.post("/api/scoring/rubrics", json=rubric([dict(bands, bands=bands["bands"][:2]), dict(KEY_PETITIONS, points=5)]))
    assert r.status_code == 422 and r.get_json()["errors"]["json"]["items"]["_total"] == ["各计分项分值合计95分，须为满分100分"]
    r = admin.post("/api/scoring/rubrics", json=rubric([dict(bands, bands=bands["bands"][:2]), KEY_PETITIONS]))
    assert r.status_code == 201 and r.get_json()["version"] == 1


def test_an_indicator_of_a_disabled_module_is_an_error(county, client_as, disable_plugin):
    # rule: SCO-1 — only the indicators of the county's enabled modules may be scored
    admin = client_as("county.admin")
    disable_plugin("mediation")
    item = {"category": "调解", "title": "矛盾上交", "points": 10, "source": "indicator",
            "indicator": "mediation.pushed_up", "rule": "deduct", "per_event": 1}
    r = admin.post("/api/scoring/rubrics", json=rubric([item]))
    assert r.status_code == 422
    assert r.get_json()["errors"]["json"]["items"]["0"]["indicator"] == ["未知指标，或该指标所属模块未启用"]
    keys = [i["key"] for i in admin.get("/api/scoring/indicators").get_json()["items"]]
    assert "petition.level_skipping" in keys and "mediation.pushed_up" not in keys


def test_rubric_form_keeps_what_was_typed_and_saves_a_version(county, client_as):
    # rule: SCO-1 — the county admin edits the rubric in a real form; errors at the field in Chinese
    admin = client_as("county.admin")
    page = admin.get("/scoring/rubrics/form")
    assert page.status_code == 200 and "越级访（合计）次数" in page.get_data(as_text=True)    # indicators by title
    form = {"level": "township", "year": "2026", "title": "区镇竞赛", "items-0-category": "调解",
            "items-0-title": "调解成功率", "items-0-points": "10", "items-0-source": "indicator",
            "items-0-indicator": "mediation.success_rate", "items-0-rule": "bands",
            "items-0-bands-0-low": "0", "items-0-bands-0-high": "90", "items-0-bands-0-points": "5",
            "items-0-bands-1-low": "85", "items-0-bands-1-points": "10"}
    r = admin.post("/scoring/rubrics/form", data=form)
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and "与第1档的区间重叠" in text
    assert 'id="items-0-bands-1-low" name="items-0-bands-1-low" type="number" step="any" aria-label="第2档下限" value="85" aria-invalid="true"' in text
    assert 'value="区镇竞赛"' in text
    r = admin.post("/scoring/rubrics/form", data=dict(form, **{"items-0-bands-1-low": "90"}))
    assert r.status_code == 302
    saved = admin.get("/api/scoring/rubrics?level=township").get_json()["items"]
    assert [(x["version"], x["items"][0]["bands"][1]["low"]) for x in saved] == [(1, 90.0)]
    assert "第1版" in admin.get("/scoring/rubrics").get_data(as_text=True)
    assert admin.get(f"/scoring/rubrics/form?from={saved[0]['id']}").get_data(as_text=True).count('value="调解成功率"') == 1



LADDER = [{"title": "平安法治示范村", "level": "village", "min_score": 10, "times": 3},
          {"title": "长安法治村", "level": "village", "after": "平安法治示范村", "times": 3}]


def test_three_qualified_years_make_a_model_village_and_a_missed_year_resets_the_run(county, client_as, enable_plugin):
    # rule: SCO-3  rule: SCO-2 — "333": qualified three years in a row → 示范村; a year missed starts again
    enable_plugin("scoring", {"ladders": LADDER, "creation_targets": [
        {"level": "village", "year": 2025, "percent": 2, "min_score": 10},
        {"level": "village", "year": 2026, "percent": 40, "min_score": 10}]})
    luotang, guoling = county.unit("T01D1V1"), county.unit("T01D1V2")
    qualified = {2024: (luotang, guoling), 2025: (luotang,), 2026: (luotang, guoling)}
    for year, units in qualified.items():
        with time_machine.travel(dt.datetime(year + 1, 1, 10, 2, 0, tzinfo=dt.timezone.utc), tick=False):
            admin = client_as("county.admin")                    # signed in that January
            r = admin.post("/api/scoring/rubrics", json=rubric(
                [{"category": "六个无", "title": "无矛盾上交", "points": 10, "source": "check"}], level="village", year=year))
            assert r.status_code == 201, r.get_json()
            key = r.get_json()["items"][0]["key"]
            period = admin.post("/api/scoring/periods", json={"level": "village", "kind": "year", "year": year}).get_json()
            for unit in (luotang, guoling):
                r = admin.post(f"/api/scoring/periods/{period['id']}/entries",
                               json={"org_unit_id": unit, "item_key": key, "passed": unit in units, "note": "年终检查"})
                assert r.status_code == 200, r.get_json()
            titles = {y: admin.get(f"/api/scoring/titles?level=village&year={y}").get_json()["items"] for y in qualified}
            assert titles[year] == []                            # an open assessment counts for nothing yet
            assert admin.post(f"/api/scoring/periods/{period['id']}/state", json={"action": "publish"}).status_code == 200
    admin = client_as("county.admin")
    titles = {y: admin.get(f"/api/scoring/titles?level=village&year={y}").get_json()["items"] for y in qualified}
    assert titles[2024] == titles[2025] == []
    assert titles[2026] == [{"org_unit_id": luotang, "unit_name": "罗塘村", "titles": ["平安法治示范村"]}]
    page = admin.get("/scoring/titles?level=village&year=2026").get_data(as_text=True)
    assert "罗塘村" in page and "平安法治示范村" in page and "郭岭村" not in page
    # rule: SCO-6 — the share of villages that reached the status against the county's target
    y2025, = admin.get("/api/scoring/targets?year=2025").get_json()["items"]
    y2026, = admin.get("/api/scoring/targets?year=2026").get_json()["items"]
    villages = y2026["total"]
    assert (y2025["reached"], y2026["reached"]) == (1, 2) and villages > 10
    assert y2025["met"] is (100 / villages >= 2) and y2026["met"] is False
    short = {u["unit_name"] for u in y2025["short"]}
    assert "郭岭村" in short and "罗塘村" not in short and len(short) == villages - 1
    page = admin.get("/scoring/targets?year=2026").get_data(as_text=True)
    assert "目标40%" in page and f"已达标2/{villages}" in page and "未完成" in page


def test_model_village_three_times_makes_a_changan_village():
    # rule: SCO-3 — 示范 three times in a row (whatever the years between) → 长安法治村; then it starts again
    from plugins.scoring.titles import _runs
    awards = {2026: {1, 2}, 2029: {1}, 2032: {1, 2}, 2035: {1}}
    assert {y: u for y, u in _runs(awards, 3, years_in_a_row=False).items() if u} == {2032: {1}}
    assert {y: u for y, u in _runs({2024: {1}, 2025: {1}, 2026: {1}, 2027: {1}}, 3, years_in_a_row=True).items()
            if u} == {2026: {1}}                                           # the fourth year starts a new run


def test_two_vetoed_years_bring_the_countys_advice(county, client_as):
    # rule: SCO-4 — vetoed two years running: the recommendation seed 004 §19 sets (a county setting)
    luotang, guoling = county.unit("T01D1V1"), county.unit("T01D1V2")
    for year, vetoed in ((2025, (luotang, guoling)), (2026, (luotang,))):
        with time_machine.travel(dt.datetime(year + 1, 1, 10, 2, 0, tzinfo=dt.timezone.utc), tick=False):
            admin = client_as("county.admin")
            r = admin.post("/api/scoring/rubrics", json=rubric([dict(VETO, category="六个无")], level="village", year=year))
            key = r.get_json()["items"][0]["key"]
            period = admin.post("/api/scoring/periods", json={"level": "village", "kind": "year", "year": year}).get_json()
            for unit in (luotang, guoling):
                assert admin.post(f"/api/scoring/periods/{period['id']}/entries", json={
                    "org_unit_id": unit, "item_key": key, "passed": unit not in vetoed, "note": "见通报"}).status_code == 200
            assert admin.post(f"/api/scoring/periods/{period['id']}/state", json={"action": "publish"}).status_code == 200
    rows = {r["unit_name"]: r for r in admin.get(f"/api/scoring/periods/{period['id']}").get_json()["results"]}
    assert rows["罗塘村"]["repeat_veto_advice"].startswith("对其主要领导") and rows["郭岭村"]["repeat_veto_advice"] == ""
    assert "连续两年被一票否决" in admin.get(f"/scoring/periods/{period['id']}").get_data(as_text=True)


def test_the_rubric_form_reads_no_row_past_the_limit(county, client_as):
    # rule: SCO-1 — a posted row number past the rubric's 200 items is not read (no page of a billion rows)
    admin = client_as("county.admin")
    r = admin.post("/scoring/rubrics/form", data={"level": "township", "year": "2026", "title": "细则",
                                                  "items-99999999999-title": "x", "items-999-title": "y",
                                                  "items-0-bands-99999-low": "1", "add_item": "1"})
    assert r.status_code == 200 and r.get_data(as_text=True).count('class="rubric-item"') == 2


def test_an_indicator_with_nothing_to_measure_scores_as_the_rubric_says(county, client_as):
    # rule: SCO-1 — a rate with nothing to count (no mediation ended) is no data, not 0 %: the item's
    # no_data setting gives full points or none, the sheet says why, and a veto item does not fire
    admin = client_as("county.admin")
    rate = {"category": "调解", "title": "调解成功率", "points": 10, "source": "indicator",
            "indicator": "mediation.success_rate", "rule": "threshold", "threshold": 90, "direction": "at_least"}
    with time_machine.travel(Q1, tick=False):
        r = admin.post("/api/scoring/rubrics", json=rubric([
            rate, dict(rate, title="调解成功率（严）", no_data="zero"),
            dict(rate, title="调解成功率否决", veto=True, threshold=0)]))
        assert r.status_code == 201, r.get_json()
        assert [i["no_data"] for i in r.get_json()["items"]] == ["full", "zero", "full"]
        p = admin.post("/api/scoring/periods", json={"level": "township", "kind": "quarter", "year": 2026, "number": 1})
        c = card(admin, p.get_json()["id"], county.unit("T01"))
        full, zero, veto = item(c, "调解成功率"), item(c, "调解成功率（严）"), item(c, "调解成功率否决")
        assert (full["figure"], full["points"], zero["figure"], zero["points"]) == (None, 10.0, None, 0.0)
        assert full["rule_text"] == "本期没有可计算“调解成功率”的数据，按细则无数据时得满分：10分"
        assert zero["rule_text"].endswith("按细则无数据时不得分：0分")
        assert not veto["vetoed"] and not c["vetoed"] and veto["rule_text"].endswith("本期无数据，不否决")
        page = admin.get(f"/scoring/periods/{p.get_json()['id']}/card?org_unit_id={county.unit('T01')}")
        assert "按细则无数据时得满分" in page.get_data(as_text=True)
    form = admin.get("/scoring/rubrics/form").get_data(as_text=True)
    assert '<label for="items-0-no_data">本期无数据时</label>' in form and '<option value="zero">不得分</option>' in form
    r = admin.post("/scoring/rubrics/form", data={
        "level": "township", "year": "2026", "title": "区镇竞赛", "items-0-category": "调解", "items-0-title": "调解成功率",
        "items-0-points": "10", "items-0-source": "indicator", "items-0-indicator": "mediation.success_rate",
        "items-0-rule": "threshold", "items-0-threshold": "90", "items-0-direction": "at_least", "items-0-no_data": "zero"})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    saved = admin.get("/api/scoring/rubrics?level=township").get_json()["items"]
    assert saved[0]["items"][0]["no_data"] == "zero"


def test_rewards_per_rank_are_frozen_and_the_notice_states_the_publishing_act(county, scored, enable_plugin, client_as):
    # rule: SCO-1 — rewards for the top of each quarter (amount per rank: the county's); the 通报 of the results
    from pypdf import PdfReader
    admin, period_id, rub = scored
    rewards = [{"level": "township", "kind": "quarter", "rank_from": 1, "rank_to": 1, "amount": 30000},
               {"level": "township", "kind": "quarter", "rank_from": 2, "rank_to": 3, "amount": 20000}]
    enable_plugin("scoring", {"honours_top": 2, "rewards": rewards})
    bad = admin.put("/api/modules/scoring", json={"enabled": True, "settings": {"rewards": [
        {**rewards[0], "rank_to": 2}, rewards[1]]}})
    assert bad.status_code == 422 and "重叠" in str(bad.get_json())
    veto_key = next(i["key"] for i in rub["items"] if i["title"] == "发生重大群体性事件")
    check_key = next(i["key"] for i in rub["items"] if i["title"] == "规范性文件按规定报送备案")
    with time_machine.travel(Q1, tick=False):
        for unit in ("T01", "T02"):
            admin.post(f"/api/scoring/periods/{period_id}/entries",
                       json={"org_unit_id": county.unit(unit), "item_key": check_key, "passed": True, "note": "查阅备案登记"})
        admin.post(f"/api/scoring/periods/{period_id}/entries",
                   json={"org_unit_id": county.unit("T02"), "item_key": veto_key, "passed": False, "note": "3月发生聚集事件"})
        assert admin.get(f"/api/scoring/periods/{period_id}/notice.pdf").status_code == 409   # not published yet
        rows = {x["unit_name"]: x for x in admin.get(f"/api/scoring/periods/{period_id}").get_json()["results"]}
        assert [rows[n]["reward"] for n in ("青山乡", "白河镇", "柳林街道", "东湖镇")] == [None, 20000, 20000, None]
        assert admin.post(f"/api/scoring/periods/{period_id}/state", json={"action": "publish"}).status_code == 200
    enable_plugin("scoring", {"honours_top": 2, "rewards": [{**rewards[1], "amount": 1}]})   # later: the published stay
    rows = {x["unit_name"]: x for x in admin.get(f"/api/scoring/periods/{period_id}").get_json()["results"]}
    assert rows["白河镇"]["reward"] == 20000
    page = admin.get(f"/scoring/periods/{period_id}").get_data(as_text=True)
    assert "奖励（元）" in page and "20,000" in page and "打印考核结果通报（PDF）" in page
    r = admin.get(f"/api/scoring/periods/{period_id}/notice.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages).replace("\n", "")
    assert "2026年第1季度" in text and "通报" in text and "平安法治区镇竞赛办法" in text
    assert "白河镇" in text and "奖励20,000元" in text and "共奖励40,000元" in text
    assert "青山乡：发生重大群体性事件，取消本期评先评优资格" in text
    assert "2026年4月10日" in text and "县综治中心管理员" in text       # the day published, and who
    assert client_as("donghu.admin").get(f"/api/scoring/periods/{period_id}/notice.pdf").status_code == 404
