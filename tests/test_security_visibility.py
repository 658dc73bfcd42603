"""Issue 14, finding 4: a unit whose task was withdrawn no longer sees the case anywhere.

One rule (``core.cases.access.granting_task``): a cancelled task grants nothing — neither
the co-unit's task cancelled by the lead (撤回协办) nor every open task of an earlier
diversion when the case is diverted again. The detail, the list, keyword search, the web
list, ledger exports and the statistics agree; a task done or returned still lets its unit
see the case it worked on.
"""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from core import jobs
from core.app import pingan
from tests.casework import act, register, run_jobs

TITLE = "撤回核查甲事项"
CONTENT = "协办单位撤回后不应再见到的内容"


@pytest.fixture
def county(app, county):
    jobs.bind_state(pingan(app))
    run_jobs(app)  # nothing of earlier tests left in the queue
    return county


def exported_titles(app, client) -> list[str]:
    r = client.post("/api/ledgers/exports", json={})
    assert r.status_code == 202, r.get_json()
    run_jobs(app)
    job = client.get(f"/api/jobs/{r.get_json()['id']}").get_json()
    assert job["state"] == "done", job
    got = client.get(job["result_url"])
    rows = list(load_workbook(io.BytesIO(got.data), read_only=True).worksheets[0].iter_rows(values_only=True))
    return [str(cell) for row in rows[1:] for cell in row if cell is not None]


def sees(app, client, case: dict) -> dict:
    """Where the case shows for ``client``: detail, list, keyword search, web list, ledger, stats."""
    listed = {c["id"] for c in client.all_items("/api/cases")}
    searched = {c["id"] for c in client.all_items("/api/cases?q=撤回核查")}
    page = client.get("/cases?q=撤回核查").get_data(as_text=True)
    counts = client.get("/api/case-stats/counts", query_string={"group_by": "case_type", "from": "2000-01-01"})
    return {"detail": client.get(f"/api/cases/{case['id']}").status_code == 200,
            "web_detail": client.get(f"/cases/{case['id']}").status_code == 200,
            "list": case["id"] in listed, "search": case["id"] in searched,
            "web_list": case["number"] in page or TITLE in page,
            "ledger": any(TITLE in v or CONTENT in v for v in exported_titles(app, client)),
            "stats": counts.status_code == 200 and counts.get_json()["total"] > 0}


NOWHERE = {"detail": False, "web_detail": False, "list": False, "search": False, "web_list": False,
           "ledger": False, "stats": False}


def _divert(client, case_id: int, tasks: list[dict], mode: str = "joint"):
    r = client.post(f"/api/cases/{case_id}/divert", json={"mode": mode, "tasks": tasks})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["tasks"]


def test_a_cancelled_co_task_hides_the_case_everywhere(app, county, login):
    # issue 14 finding 4 (scope bleed after 撤回协办)
    admin = login(county, "county.admin")
    case = register(admin, county.unit("C"), title=TITLE, content=CONTENT)
    assert act(admin, case["id"], "accept").status_code == 200
    tasks = _divert(admin, case["id"], [{"org_unit_id": county.unit("T01"), "role": "lead"},
                                        {"org_unit_id": county.unit("T02"), "role": "co"}])
    co = next(t for t in tasks if t["role"] == "co")
    qingshan = login(county, "qingshan.admin")
    assert any(TITLE in n["title"] for n in qingshan.get("/api/inbox?limit=200").get_json()["items"])
    before = sees(app, qingshan, case)
    assert before == {**NOWHERE, "detail": True, "web_detail": True, "list": True, "search": True,
                      "web_list": True, "ledger": True}  # it arose at the county: not in 青山乡's statistics
    r = admin.post(f"/api/cases/{case['id']}/tasks/{co['id']}", json={"action": "cancel", "text": "无需协办"})
    assert r.status_code == 200, r.get_json()
    assert sees(app, qingshan, case) == NOWHERE
    assert qingshan.post(f"/api/cases/{case['id']}/comments", json={"text": "还在吗"}).status_code == 404
    # the to-do of the task no longer names the case's title nor links to it
    inbox = qingshan.get("/api/inbox?limit=200").get_json()["items"]
    assert not [n for n in inbox if TITLE in n["title"] or n.get("case_id") == case["id"]]
    assert any(n["title"] == f"交办任务已撤回：{case['number']}" for n in inbox)
    assert TITLE not in qingshan.get("/inbox").get_data(as_text=True)
    # the lead still sees it; the county sees everything
    assert sees(app, login(county, "donghu.admin"), case)["list"] is True


def test_a_re_diverted_case_leaves_the_first_unit_and_a_finished_task_still_shows(app, county, login):
    # issue 14 finding 4 (re-diversion); a done task keeps its unit's sight of the case
    admin = login(county, "county.admin")
    case = register(admin, county.unit("C"), title=TITLE, content=CONTENT)
    assert act(admin, case["id"], "accept").status_code == 200
    _divert(admin, case["id"], [{"org_unit_id": county.unit("T02")}], mode="single")
    qingshan, donghu = login(county, "qingshan.admin"), login(county, "donghu.admin")
    assert sees(app, qingshan, case)["search"] is True and sees(app, donghu, case)["list"] is False
    (lead,) = [t for t in _divert(admin, case["id"], [{"org_unit_id": county.unit("T01")}], mode="single")
               if t["state"] == "open"]
    assert sees(app, qingshan, case) == NOWHERE
    assert not [n for n in qingshan.get("/api/inbox?limit=200").get_json()["items"] if TITLE in n["title"]]
    assert sees(app, donghu, case)["detail"] is True
    r = donghu.post(f"/api/cases/{case['id']}/tasks/{lead['id']}", json={"action": "done", "text": "已办理"})
    assert r.status_code == 200, r.get_json()
    after = sees(app, donghu, case)
    assert after["detail"] and after["list"] and after["search"] and after["ledger"]


def test_a_withdrawn_unit_cannot_list_its_cancelled_task(app, county, login):
    # issue 14 finding 4: GET /api/tasks?state=cancelled listed the withdrawn task with its instruction
    admin = login(county, "county.admin")
    case = register(admin, county.unit("C"), title=TITLE, content=CONTENT)
    assert act(admin, case["id"], "accept").status_code == 200
    secret = "撤回前的交办要求：核实当事人住址"
    tasks = _divert(admin, case["id"], [{"org_unit_id": county.unit("T01"), "role": "lead"},
                                        {"org_unit_id": county.unit("T02"), "role": "co", "instruction": secret}])
    co = next(t for t in tasks if t["role"] == "co")
    qingshan = login(county, "qingshan.admin")
    assert [t["id"] for t in qingshan.get("/api/tasks").get_json()["items"]] == [co["id"]]
    r = admin.post(f"/api/cases/{case['id']}/tasks/{co['id']}", json={"action": "cancel", "text": "无需协办"})
    assert r.status_code == 200, r.get_json()
    for state in ("open", "done", "returned"):
        listed = qingshan.get(f"/api/tasks?state={state}")
        assert listed.status_code == 200 and listed.get_json()["items"] == [], state
    r = qingshan.get("/api/tasks?state=cancelled")
    assert r.status_code == 422 and secret not in r.get_data(as_text=True)
    # the diverting side still sees the withdrawn task on the case
    detail = admin.get(f"/api/cases/{case['id']}").get_json()
    assert any(t["id"] == co["id"] and t["state"] == "cancelled" for t in detail.get("tasks", []))
