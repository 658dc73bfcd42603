"""Issue 17 (patrol and mass prevention, plugins/patrol): teams and members (PAT-1), points on
the county's lines of defence (PAT-5), routes, the duty roster and rounds with compliance and
results (PAT-2), and the phone check-in page."""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine

from core.testing import assert_migrations_match
from tests.conftest import load_tenant

SHANGHAI = ZoneInfo("Asia/Shanghai")
PATROL_PERMS = ["core.org_unit.read", "core.person.read", "core.person.manage",
                "patrol.read", "patrol.manage", "patrol.patrol"]
NIGHT = dt.datetime(2026, 11, 10, 20, 10, tzinfo=SHANGHAI)   # a Tuesday evening, Beijing time


@pytest.fixture
def county(app, login):
    """A county of its own with the module on, the village cadres holding a village patrol
    manager's role on their village."""
    return make_county(app, login)


def make_county(app, login, settings: dict | None = None):
    c = load_tenant(app)
    admin = login(c, "county.admin")
    r = admin.put("/api/modules/patrol", json={"enabled": True, "settings": settings or {}})
    assert r.status_code == 200, r.get_json()
    role = admin.post("/api/roles", json={"key": "village_patrol", "name": "村巡逻队管理员", "permissions": PATROL_PERMS})
    assert role.status_code == 201, role.get_json()
    users = {u["username"]: u["id"] for u in admin.get("/api/users?limit=200").get_json()["items"]}
    for name, unit in (("village.cadre", "T01D1V1"), ("village.cadre2", "T01D1V2")):
        r = admin.post("/api/role-assignments", json={"user_id": users[name], "role_id": role.get_json()["id"],
                                                      "org_unit_id": c.unit(unit)})
        assert r.status_code == 201, r.get_json()
    c.users = users
    return c


def setup_route(client, county, n: int = 10, unit: str = "T01D1V1", start: str = "20:00", end: str = "22:00",
                name: str = "罗塘夜巡线", team_id: int | None = None) -> dict:
    ids = []
    for i in range(n):
        r = client.post("/api/patrol/points", json={"org_unit_id": county.unit(unit), "name": f"巡逻点{i + 1}",
                                                     "line": "residential"})
        assert r.status_code == 201, r.get_json()
        ids.append(r.get_json()["id"])
    r = client.post("/api/patrol/routes", json={"org_unit_id": county.unit(unit), "name": name, "team_id": team_id,
                                                "window_start": start, "window_end": end, "point_ids": ids})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def team(client, county, unit="T01D1V1", name="罗塘村治安巡逻队", kind="village_patrol") -> int:
    r = client.post("/api/patrol/teams", json={"org_unit_id": county.unit(unit), "name": name, "kind": kind})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def person(client, county, name, unit="T01D1V1") -> int:
    r = client.post("/api/persons", json={"name": name, "org_unit_id": county.unit(unit)})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_round_under_threshold_is_flagged_and_on_time_counted(county, login, db):
    # rule: PAT-2 — compliance = visited / planned; under the county's threshold (90 %) flagged
    cadre = login(county, "village.cadre")
    route = setup_route(cadre, county)
    points = route["point_ids"]
    with time_machine.travel(NIGHT, tick=False) as clock:
        rnd = cadre.post("/api/patrol/rounds", json={"route_id": route["id"]})
        assert rnd.status_code == 201, rnd.get_json()
        rid = rnd.get_json()["id"]
        clock.move_to(NIGHT.replace(minute=30))
        for pid in points[:6]:                                  # inside 20:00–22:00: on time
            assert cadre.post(f"/api/patrol/rounds/{rid}/check-ins", json={"point_id": pid}).status_code == 201
        clock.move_to(NIGHT.replace(hour=22, minute=30))
        for pid in points[6:8]:                                 # after 22:00: late
            r = cadre.post(f"/api/patrol/rounds/{rid}/check-ins",
                           json={"point_id": pid, "latitude": 28.1, "longitude": 112.9, "note": "路灯坏了"})
            assert r.status_code == 201 and r.get_json()["on_time"] is False
        again = cadre.post(f"/api/patrol/rounds/{rid}/check-ins", json={"point_id": points[0]})
        assert again.status_code == 409 and again.get_json()["code"] == "already_checked_in"
        end = cadre.post(f"/api/patrol/rounds/{rid}/end", json={"caught": 1, "stopped": 2, "disputes": 1})
    body = end.get_json()
    assert end.status_code == 200, body
    assert (body["planned"], body["visited"], body["on_time"], body["late"]) == (10, 8, 6, 2)
    assert body["compliance"] == 80.0 and body["threshold"] == 90 and body["flagged"] is True
    assert (body["caught"], body["stopped"], body["disputes"]) == (1, 2, 1)
    flagged = cadre.get("/api/patrol/rounds?flagged=true").get_json()["items"]
    assert [r["id"] for r in flagged] == [rid]
    after = cadre.post(f"/api/patrol/rounds/{rid}/check-ins", json={"point_id": points[9]})
    assert after.status_code == 409 and after.get_json()["code"] == "round_ended"
    from plugins.patrol.indicators import caught, compliance          # for the scoring module
    with db.transaction(county.id) as s:
        day, next_day = NIGHT.date(), NIGHT.date() + dt.timedelta(days=1)
        assert compliance(s, county.unit("T01"), day, next_day) == 80.0
        assert caught(s, county.unit("T01D1V1"), day, next_day) == 1.0
        assert caught(s, county.unit("T01D1V2"), day, next_day) == 0.0


def test_threshold_is_the_countys(app, login):
    # rule: PAT-2 — the threshold is a setting: at 80 % the same 8 of 10 is not flagged
    county = make_county(app, login, {"compliance_threshold": 80})
    cadre = login(county, "village.cadre")
    route = setup_route(cadre, county)
    with time_machine.travel(NIGHT, tick=False):
        rid = cadre.post("/api/patrol/rounds", json={"route_id": route["id"]}).get_json()["id"]
        for pid in route["point_ids"][:8]:
            cadre.post(f"/api/patrol/rounds/{rid}/check-ins", json={"point_id": pid})
        body = cadre.post(f"/api/patrol/rounds/{rid}/end", json={}).get_json()
    assert (body["compliance"], body["threshold"], body["flagged"], body["on_time"]) == (80.0, 80, False, 8)


def test_roster_conflict_is_refused_with_the_names(county, login):
    # rule: PAT-2 — one person cannot be on two overlapping shifts (any route, across midnight)
    cadre = login(county, "village.cadre")
    tid = team(cadre, county)
    zhang = cadre.post(f"/api/patrol/teams/{tid}/members",
                       json={"person_id": person(cadre, county, "张三"), "role": "leader", "joined_on": "2026-01-01"})
    assert zhang.status_code == 201, zhang.get_json()
    mid = zhang.get_json()["id"]
    a = setup_route(cadre, county, n=2, name="罗塘夜巡线", team_id=tid)
    b = setup_route(cadre, county, n=2, name="罗塘村口线", start="22:00", end="02:00", team_id=tid)
    duty = {"route_id": a["id"], "member_id": mid, "duty_date": "2026-11-10", "shift_start": "20:00", "shift_end": "23:00"}
    assert cadre.post("/api/patrol/duties", json=duty).status_code == 201
    clash = cadre.post("/api/patrol/duties", json={**duty, "route_id": b["id"], "shift_start": "22:00", "shift_end": "02:00"})
    body = clash.get_json()
    assert clash.status_code == 409 and body["code"] == "duty_overlap", body
    assert "张三" in body["message"] and "罗塘夜巡线" in body["message"] and "member_id" in body["errors"]["json"]
    after = {**duty, "route_id": b["id"], "shift_start": "23:00", "shift_end": "02:00"}   # starts as the other ends
    assert cadre.post("/api/patrol/duties", json=after).status_code == 201
    next_night = {**duty, "duty_date": "2026-11-11", "shift_start": "01:00", "shift_end": "03:00"}  # inside 23:00–02:00
    r = cadre.post("/api/patrol/duties", json=next_night)
    assert r.status_code == 409 and "罗塘村口线" in r.get_json()["message"]
    assert len(cadre.get("/api/patrol/duties?duty_date=2026-11-10").get_json()["items"]) == 2


def test_members_join_and_leave(county, login):
    # rule: PAT-1 — members are persons of the register or users, with joining and leaving dates
    cadre = login(county, "village.cadre")
    tid = team(cadre, county)
    pid = person(cadre, county, "李四")
    r = cadre.post(f"/api/patrol/teams/{tid}/members", json={"person_id": pid, "joined_on": "2026-03-01"})
    assert r.status_code == 201 and r.get_json()["name"] == "李四"
    dup = cadre.post(f"/api/patrol/teams/{tid}/members", json={"person_id": pid, "joined_on": "2026-03-02"})
    assert dup.status_code == 409 and dup.get_json()["code"] == "already_member"
    u = cadre.post(f"/api/patrol/teams/{tid}/members", json={"user_id": county.users["village.cadre"],
                                                             "joined_on": "2026-03-01"})
    assert u.status_code == 201, u.get_json()
    neither = cadre.post(f"/api/patrol/teams/{tid}/members", json={"joined_on": "2026-03-01"})
    assert neither.status_code == 422 and neither.get_json()["code"] == "person_or_user_required"
    other = person(login(county, "county.admin"), county, "王五", unit="T02")
    out = cadre.post(f"/api/patrol/teams/{tid}/members", json={"person_id": other, "joined_on": "2026-03-01"})
    assert out.status_code == 404 and "person_id" in out.get_json()["errors"]["json"]
    early = cadre.post(f"/api/patrol/members/{r.get_json()['id']}/leave", json={"left_on": "2026-02-01"})
    assert early.status_code == 422 and early.get_json()["code"] == "before_joining"
    left = cadre.post(f"/api/patrol/members/{r.get_json()['id']}/leave", json={"left_on": "2026-06-30"})
    assert left.status_code == 200 and left.get_json()["left_on"] == "2026-06-30"
    assert cadre.post(f"/api/patrol/members/{r.get_json()['id']}/leave", json={"left_on": "2026-07-01"}).status_code == 409


def test_team_kind_and_line_come_from_the_settings(county, login):
    # rule: PAT-1, PAT-5 — the team kinds (per level) and the lines of defence are the county's
    cadre = login(county, "village.cadre")
    r = cadre.post("/api/patrol/teams", json={"org_unit_id": county.unit("T01D1V1"), "name": "某队", "kind": "nope"})
    assert r.status_code == 422 and r.get_json()["code"] == "unknown_kind"
    r = cadre.post("/api/patrol/teams", json={"org_unit_id": county.unit("T01D1V1"), "name": "某队",
                                              "kind": "township_patrol"})
    assert r.status_code == 422 and r.get_json()["code"] == "wrong_level"
    r = cadre.post("/api/patrol/teams", json={"org_unit_id": county.unit("T01D1V1G1"), "name": "一组打更队",
                                              "kind": "group_watch"})
    assert r.status_code == 201 and r.get_json()["kind_title"] == "打更巡逻队"
    r = cadre.post("/api/patrol/points", json={"org_unit_id": county.unit("T01D1V1"), "name": "村口", "line": "x"})
    assert r.status_code == 422 and r.get_json()["code"] == "unknown_line"
    admin = login(county, "county.admin")
    bad = admin.put("/api/modules/patrol", json={"enabled": True, "settings": {
        "lines_of_defence": [{"key": "a", "title": "甲"}, {"key": "a", "title": "乙"}]}})
    assert bad.status_code == 422 and "lines_of_defence" in bad.get_json()["errors"]["json"]["settings"]


def test_a_village_sees_its_own_only(county, login):
    # rule: PAT-2 (ORG-1 scope) — a village's teams, routes and rounds are not another village's
    cadre, cadre2 = login(county, "village.cadre"), login(county, "village.cadre2")
    tid = team(cadre, county)
    route = setup_route(cadre, county, n=1)
    with time_machine.travel(NIGHT, tick=False):
        rid = cadre.post("/api/patrol/rounds", json={"route_id": route["id"]}).get_json()["id"]
    for path in ("/api/patrol/teams", "/api/patrol/points", "/api/patrol/routes", "/api/patrol/rounds"):
        assert cadre2.get(path).get_json()["items"] == [], path
        assert cadre.get(path).get_json()["items"], path
    for path in (f"/api/patrol/teams/{tid}/members", f"/api/patrol/routes/{route['id']}", f"/api/patrol/rounds/{rid}",
                 f"/patrol/rounds/{rid}", f"/patrol/teams/{tid}/members"):
        assert cadre2.get(path).status_code == 404, path
    r = cadre2.post(f"/api/patrol/rounds/{rid}/check-ins", json={"point_id": route["point_ids"][0]})
    assert r.status_code == 404
    r = cadre2.post("/api/patrol/routes", json={"org_unit_id": county.unit("T01D1V1"), "name": "x",
                                                "window_start": "20:00", "window_end": "21:00",
                                                "point_ids": route["point_ids"]})
    assert r.status_code == 404


def test_check_in_page_keeps_what_was_typed(county, login):
    # rule: PAT-2 — the phone page: check in by a form; a refused one keeps the note and shows the message
    cadre = login(county, "village.cadre")
    route = setup_route(cadre, county, n=2)
    with time_machine.travel(NIGHT, tick=False):
        start = cadre.post("/patrol/", data={"route_id": str(route["id"])})
        assert start.status_code == 302, start.get_data(as_text=True)[:500]
        page_url = start.headers["Location"]
        rid = int(page_url.rstrip("/").rsplit("/", 1)[1])
        page = cadre.get(page_url).get_data(as_text=True)
        assert "在此打卡" in page and "巡逻点1" in page and "居民小区" in page
        bad = cadre.post(f"/patrol/rounds/{rid}/check-in", data={"point_id": str(route["point_ids"][0]),
                                                                  "note": "门口有可疑车辆", "latitude": "北纬"})
        html = bad.get_data(as_text=True)
        assert bad.status_code == 422 and "门口有可疑车辆" in html and "纬度" in html
        ok = cadre.post(f"/patrol/rounds/{rid}/check-in", data={"point_id": str(route["point_ids"][0]), "note": "正常"})
        assert ok.status_code == 302
        bad_end = cadre.post(f"/patrol/rounds/{rid}/end", data={"caught": "-1", "note": "巡逻正常"})
        assert bad_end.status_code == 422 and "巡逻正常" in bad_end.get_data(as_text=True)
        assert cadre.post(f"/patrol/rounds/{rid}/end", data={"caught": "0"}).status_code == 302
    html = cadre.get(f"/patrol/rounds/{rid}").get_data(as_text=True)
    assert "未达标" in html and "已打卡" in html and "route_id" not in html


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64 + b"\xff\xd9"


def test_a_check_in_carries_the_photo_taken_at_the_point(county, login):
    # rule: PAT-2 — a member checks in at each point with optional GPS and photo
    import io
    cadre = login(county, "village.cadre")
    route = setup_route(cadre, county, n=2)
    with time_machine.travel(NIGHT, tick=False):
        start = cadre.post("/patrol/", data={"route_id": str(route["id"])})
        rid = int(start.headers["Location"].rstrip("/").rsplit("/", 1)[1])
        first, second = route["point_ids"]
        refused = cadre.post(f"/patrol/rounds/{rid}/check-in", content_type="multipart/form-data", data={
            "point_id": str(first), "note": "路灯不亮", "photo": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "x.jpg")})
        html = refused.get_data(as_text=True)
        assert refused.status_code == 415 and "打卡照片只能是图片" in html and "路灯不亮" in html   # nothing saved
        ok = cadre.post(f"/patrol/rounds/{rid}/check-in", content_type="multipart/form-data", data={
            "point_id": str(first), "note": "路灯不亮", "photo": (io.BytesIO(JPEG), "现场.jpg")})
        assert ok.status_code == 302
        r = cadre.post(f"/api/patrol/rounds/{rid}/check-ins", json={"point_id": second})
        assert r.status_code == 201 and r.get_json()["has_photo"] is False
        cid = r.get_json()["id"]
        url = f"/api/patrol/check-ins/{cid}/photo"
        assert cadre.get(url).status_code == 404
        assert cadre.post(url, data={}, content_type="multipart/form-data").status_code == 422
        r = cadre.post(url, data={"photo": (io.BytesIO(JPEG), "2.jpg")}, content_type="multipart/form-data")
        assert r.status_code == 200 and r.get_json()["has_photo"] is True
        got = cadre.get(url)
        assert got.status_code == 200 and got.data == JPEG and got.headers["Content-Disposition"].startswith("attachment")
        shown = cadre.get(f"/api/patrol/rounds/{rid}").get_json()["check_ins"]
        assert [c["has_photo"] for c in shown] == [True, True]
        assert "照片" in cadre.get(f"/patrol/rounds/{rid}").get_data(as_text=True)
        other = login(county, "village.cadre2")                    # another village: the check-in is not there
        assert other.get(url).status_code in (403, 404)
        assert other.post(url, data={"photo": (io.BytesIO(JPEG), "3.jpg")},
                          content_type="multipart/form-data").status_code in (403, 404)


def test_pages_render_for_a_manager(county, login):
    cadre = login(county, "village.cadre")
    tid = team(cadre, county)
    setup_route(cadre, county, n=2, team_id=tid)
    for path in ("/patrol/", "/patrol/routes", "/patrol/duties", f"/patrol/teams/{tid}/members",
                 "/patrol/teams/", "/patrol/points/"):
        r = cadre.get(path)
        assert r.status_code == 200, path
        shown = re.sub(r'value="[^"]*"', "", r.get_data(as_text=True))  # a select's key is no text shown
        assert "village_patrol" not in shown, path
    r = cadre.post("/patrol/routes", data={"org_unit_id": str(county.unit("T01D1V1")), "name": "空路线",
                                           "window_start": "20:00", "window_end": "21:00"})
    assert r.status_code == 422 and "空路线" in r.get_data(as_text=True)


def test_migrations_match():
    assert_migrations_match("patrol")
