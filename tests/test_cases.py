"""Issue 3: the case engine — registration, workflow, scope, diversion (分/合), timeline."""
from __future__ import annotations

from tests.casework import act, events, register


def test_register_numbers_per_type_and_year_and_starts_the_acceptance_limit(county, login):
    """issue 3 (case model, INT-1): a number in the type's format, the initial state, a stored limit."""
    town = login(county, "donghu.admin")
    first = register(town, county.unit("T01D1V1"))
    second = register(town, county.unit("T01D1V2"))
    year = first["created_at"][:4]
    assert first["number"] == f"访〔{year}〕00001" and second["number"] == f"访〔{year}〕00002"
    assert first["state"] == "registered" and first["details"] == {"visit_kind": "home", "result": None}
    (limit,) = first["deadlines"]
    assert limit["rule"] == "accept" and limit["unit"] == "working_days" and limit["state"] == "running"
    assert "开始当日不计入" in limit["basis"] and limit["source"]
    assert first["due_at"] == limit["due_at"]
    assert events(town, first["id"]) == ["registered"]


def test_workflow_moves_and_refuses_invalid_transitions_with_409(county, login):
    """issue 3 (workflows): allowed moves change state; others answer 409 invalid_transition."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    assert {a["name"] for a in case["actions"]} == {"accept", "reject"}
    r = act(town, case["id"], "close", {"result": "已走访"})
    assert r.status_code == 409 and r.get_json()["code"] == "invalid_transition"
    r = act(town, case["id"], "accept")
    assert r.status_code == 200 and r.get_json()["state"] == "accepted"
    body = r.get_json()
    assert {d["rule"]: d["state"] for d in body["deadlines"]} == {"accept": "stopped", "handle": "running"}
    r = act(town, case["id"], "close", {})
    assert r.status_code == 422 and "result" in r.get_json()["errors"]["json"]
    r = act(town, case["id"], "close", {"result": "已上门走访，老人身体健康"})
    assert r.status_code == 200
    closed = r.get_json()
    assert closed["state"] == "done" and closed["closed_at"] and closed["due_at"] is None
    assert closed["details"]["result"] == "已上门走访，老人身体健康"
    assert events(town, case["id"]) == ["registered", "accept", "close"]
    assert act(town, case["id"], "nonsense").status_code == 404


def test_missing_permission_is_403_and_out_of_scope_is_404(county, login):
    """issue 3: a permission held nowhere → 403; another village's case → 404; other county → 404."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    cadre = login(county, "village.cadre")   # 罗塘村 (T01D1V1): may read, may not handle visits
    assert cadre.get(f"/api/cases/{case['id']}").status_code == 200
    r = act(cadre, case["id"], "accept")
    assert r.status_code == 403
    other_village = register(town, county.unit("T01D1V2"))
    assert cadre.get(f"/api/cases/{other_village['id']}").status_code == 404
    assert act(cadre, other_village["id"], "accept").status_code in (403, 404)
    qingshan = login(county, "qingshan.admin")
    assert qingshan.get(f"/api/cases/{case['id']}").status_code == 404
    assert act(qingshan, case["id"], "accept").status_code == 404
    listed = {c["id"] for c in cadre.all_items("/api/cases")}
    assert case["id"] in listed and other_village["id"] not in listed


def test_a_disabled_module_hides_its_cases_and_restores_them(county, login):
    """issue 3: cases of a disabled module's type vanish (404) and come back intact."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    admin = login(county, "county.admin")
    assert admin.put("/api/modules/visits", json={"enabled": False}).status_code == 200
    assert town.get(f"/api/cases/{case['id']}").status_code == 404
    assert town.all_items("/api/cases") == []
    assert admin.put("/api/modules/visits", json={"enabled": True}).status_code == 200
    assert town.get(f"/api/cases/{case['id']}").get_json()["number"] == case["number"]


def test_joint_handling_lead_and_co_units_each_see_their_task_and_only_the_lead_closes(county, login):
    """issue 3 (INT-3 合): lead and co-unit each see their task; the case closes only when the lead closes it."""
    county_admin = login(county, "county.admin")
    case = register(county_admin, county.unit("T01D1V1"))
    assert act(county_admin, case["id"], "accept").status_code == 200
    r = county_admin.post(f"/api/cases/{case['id']}/divert", json={"mode": "joint", "note": "东湖镇牵头，青山乡协助", "tasks": [
        {"org_unit_id": county.unit("T01"), "role": "lead", "instruction": "牵头走访", "limit": {"amount": 5, "unit": "working_days"}},
        {"org_unit_id": county.unit("T02"), "role": "co", "instruction": "协助核实", "limit": {"amount": 3, "unit": "working_days"}}]})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["handling_unit_id"] == county.unit("T01")
    lead_task = next(t for t in body["tasks"] if t["role"] == "lead")
    co_task = next(t for t in body["tasks"] if t["role"] == "co")
    assert lead_task["due_at"] and co_task["due_at"]

    donghu, qingshan = login(county, "donghu.admin"), login(county, "qingshan.admin")
    assert [t["id"] for t in donghu.get("/api/tasks").get_json()["items"]] == [lead_task["id"]]
    assert [t["id"] for t in qingshan.get("/api/tasks").get_json()["items"]] == [co_task["id"]]
    # the co-unit sees the case through its task, but cannot close it
    assert qingshan.get(f"/api/cases/{case['id']}").status_code == 200
    r = act(qingshan, case["id"], "close", {"result": "协办单位想办结"})
    assert r.status_code == 403 and r.get_json()["code"] == "not_your_unit"
    # the lead cannot close while the co-unit has not reported
    r = act(donghu, case["id"], "close", {"result": "已走访"})
    assert r.status_code == 409 and r.get_json()["code"] == "tasks_open"
    r = qingshan.post(f"/api/cases/{case['id']}/tasks/{co_task['id']}", json={"action": "done", "text": "已核实"})
    assert r.status_code == 200, r.get_json()
    r = act(donghu, case["id"], "close", {"result": "已走访，情况属实"})
    assert r.status_code == 200 and r.get_json()["state"] == "done"
    assert "diverted" in events(donghu, case["id"]) and "task_done" in events(donghu, case["id"])
    # the to-dos reached the people of both units
    assert any("新交办事项" in n["title"] for n in qingshan.get("/api/inbox").get_json()["items"])


def test_a_year_without_calendar_data_is_provisional_until_the_county_enters_it(county, login):
    """issue 13 (was issue 3's refusal): a year no calendar covers is counted provisionally,
    Monday to Friday, and said so; the county enters the year (days + source) and the same
    limit counts its holiday."""
    admin = login(county, "county.admin")
    preview = "/api/calendar/deadline?start=2099-03-02T09:00:00%2B08:00&amount=3&unit=working_days"
    r = admin.get(preview)
    assert r.status_code == 200 and r.get_json()["provisional"] is True
    assert r.get_json()["due_at"].startswith("2099-03-05T16:00:00")  # Thu 24:00 Shanghai: Tue, Wed, Thu
    assert "2099 年节假日安排尚未发布" in r.get_json()["basis"]
    assert admin.put("/api/calendar/2099-03-04", json={"is_workday": False, "note": "示例：本县录入的休息日"}).status_code == 200
    r = admin.put("/api/calendar/years/2099", json={"source": "示例：县政府转发的 2099 年节假日安排"})
    assert r.status_code == 200
    r = admin.get(preview)
    assert r.status_code == 200 and r.get_json()["due_at"].startswith("2099-03-06T16:00:00")  # Fri 24:00 Shanghai
    assert r.get_json()["provisional"] is False
    town = login(county, "donghu.admin")
    assert town.put("/api/calendar/years/2028", json={"source": "x"}).status_code == 403
