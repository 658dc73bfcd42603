"""Issue 17: the patrol module's own routes through the testing kit's isolation matrix (another
county's ids answer as missing ones, no list leaks, 青山乡's officer sees nothing of 东湖镇), besides
tests/test_isolation_matrix.py. (Schemathesis over them is tests/test_schemathesis.py's: a run of
the kit's ``run_plugin_schemathesis`` here took minutes, past this module's test budget.)"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import time_machine

from core.testing import assert_plugin_isolation
from tests.conftest import load_tenant

NIGHT = dt.datetime(2026, 11, 10, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai"))


def _rows(client, county) -> None:
    """A row of every table of the module in 东湖镇's 罗塘村."""
    unit = county.unit("T01D1V1")
    person = client.post("/api/persons", json={"name": "张三", "org_unit_id": unit}).get_json()["id"]
    team = client.post("/api/patrol/teams", json={"org_unit_id": unit, "name": "巡逻队", "kind": "village_patrol"}).get_json()["id"]
    member = client.post(f"/api/patrol/teams/{team}/members", json={"person_id": person, "joined_on": "2026-01-01"}).get_json()["id"]
    point = client.post("/api/patrol/points", json={"org_unit_id": unit, "name": "村口", "line": "fringe"}).get_json()["id"]
    route = client.post("/api/patrol/routes", json={"org_unit_id": unit, "name": "夜巡", "team_id": team,
                                                    "window_start": "20:00", "window_end": "22:00",
                                                    "point_ids": [point]}).get_json()["id"]
    assert client.post("/api/patrol/duties", json={"route_id": route, "member_id": member, "duty_date": "2026-11-10",
                                                   "shift_start": "20:00", "shift_end": "22:00"}).status_code == 201
    with time_machine.travel(NIGHT, tick=False):
        rnd = client.post("/api/patrol/rounds", json={"route_id": route}).get_json()["id"]
        assert client.post(f"/api/patrol/rounds/{rnd}/check-ins", json={"point_id": point}).status_code == 201
    camera = client.post("/api/patrol/cameras", json={"org_unit_id": unit, "place": "村口"}).get_json()["id"]
    assert client.post(f"/api/patrol/cameras/{camera}/inspections",
                       json={"label_ok": True, "housing_ok": True, "cables_ok": True, "picture_ok": False}).status_code == 201
    assert client.post("/api/patrol/groups", json={"org_unit_id": unit, "name": "联防组", "kind": "shops",
                                                   "leader_person_id": person, "households": 10}).status_code == 201
    assert client.post("/api/patrol/clues", json={"org_unit_id": unit, "title": "线索", "place": "村口",
                                                  "content": "可疑人员", "anonymous": True}).status_code == 201


def test_isolation_of_every_patrol_route(app, login):
    a, b = load_tenant(app), load_tenant(app)
    for county in (a, b):
        admin = login(county, "county.admin")
        assert admin.put("/api/modules/patrol", json={"enabled": True}).status_code == 200
        _rows(admin, county)
    checked = assert_plugin_isolation(app, "patrol", a, b, outsider="qingshan.admin",
                                      id_tables={"/api/patrol/clues/<case_id>/reporter": "case_record"}, bodies={
        ("POST", "/api/patrol/teams/<team_id>/members"): {"person_id": 1, "joined_on": "2026-01-01"},
        ("POST", "/api/patrol/members/<member_id>/leave"): {"left_on": "2026-06-30"},
        ("POST", "/api/patrol/rounds/<round_id>/check-ins"): {"point_id": 1},
        ("POST", "/api/patrol/check-ins/<check_in_id>/photo"): "FILE",
        ("POST", "/api/patrol/rounds/<round_id>/findings"): {"kind": "other", "title": "越权", "content": "越权"},
        ("POST", "/api/patrol/cameras/<camera_id>/inspections"): {"label_ok": True, "housing_ok": True,
                                                                  "cables_ok": True, "picture_ok": True}})
    assert checked > 10

