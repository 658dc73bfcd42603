"""The shared case screens in the browser (issue 6, first part): list, a case's page, its
acts as forms with errors in Chinese, supervision seen by the village, export with a progress
page, and the 404 page for a case out of scope. Driven through Flask's test client (no script
is needed on these pages)."""
from __future__ import annotations

import re

from tests.casework import register, run_jobs


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_village_registers_township_supervises_village_sees_it(app, county, login):
    cadre = login(county, "village.cadre")
    case = register(cadre, county.unit("T01D1V1"), title="请求上门走访：五保户")
    page = cadre.get("/cases").get_data(as_text=True)
    assert case["number"] in page and "请求上门走访：五保户" in page
    township = login(county, "donghu.admin")
    detail = township.get(f"/cases/{case['id']}")
    assert detail.status_code == 200
    html = detail.get_data(as_text=True)
    assert 'id="supervise"' in html
    r = township.post(f"/cases/{case['id']}/supervise",
                      data={"csrf_token": csrf(html), "kind": "supervise", "level": "listed",
                            "instruction": "请三日内上门走访"})
    assert r.status_code == 302 and r.headers["Location"].endswith("#act-done")
    # issue 15, item 6: the act ends on the case saying what was done
    back = township.get(r.headers["Location"]).get_data(as_text=True)
    assert re.search(r'id="act-done">已完成：<strong>督办</strong>.*请三日内上门走访', back), back[:2000]
    seen = cadre.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "督办" in seen and "请三日内上门走访" in seen
    assert "东湖镇综治中心" in seen and "user:donghu.admin" not in seen  # who acted, by name


def test_acts_are_forms_and_errors_show_in_chinese_without_losing_data(app, county, login):
    cadre = login(county, "county.admin")  # the example's acts need visits.visit's own permission
    case = register(cadre, county.unit("T01D1V1"))
    html = cadre.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert 'id="act-accept"' in html and 'id="act-reject"' in html and 'id="act-close"' not in html
    token = csrf(html)
    assert cadre.post(f"/cases/{case['id']}/act/accept", data={"csrf_token": token}).status_code == 302
    html = cadre.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert 'id="act-close"' in html and "办理中" in html
    # the close form without its required result: 422, the message in Chinese at the form, state kept
    bad = cadre.post(f"/cases/{case['id']}/act/close", data={"csrf_token": token, "note": "草稿备注"})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "请填写完整" in page and "草稿备注" in page
    assert cadre.get(f"/api/cases/{case['id']}").get_json()["state"] == "accepted"
    # an act the state does not allow (a stale page): 409, explained
    stale = cadre.post(f"/cases/{case['id']}/act/accept", data={"csrf_token": token})
    assert stale.status_code == 409 and "不能执行" in stale.get_data(as_text=True)
    done = cadre.post(f"/cases/{case['id']}/act/close", data={"csrf_token": token, "result": "已走访"})
    assert done.status_code == 302
    timeline = cadre.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "已办结" in timeline and "办结" in timeline


def test_another_villages_case_is_the_404_page(app, county, login):
    other = login(county, "village.cadre2")
    case = register(other, county.unit("T01D1V2"))
    cadre = login(county, "village.cadre")
    r = cadre.get(f"/cases/{case['id']}")
    assert r.status_code == 404 and "<html" in r.get_data(as_text=True)
    assert cadre.post(f"/cases/{case['id']}/comment",
                      data={"csrf_token": csrf(cadre.get('/cases').get_data(as_text=True)), "text": "x"}).status_code == 404
    assert case["number"] not in cadre.get("/cases").get_data(as_text=True)


def test_list_filters_and_bad_filters(app, county, login):
    cadre = login(county, "village.cadre")
    a = register(cadre, county.unit("T01D1V1"), title="独居老人走访甲")
    b = register(cadre, county.unit("T01D1V1"), title="独居老人走访乙")
    page = cadre.get("/cases?q=走访甲").get_data(as_text=True)
    assert a["number"] in page and b["number"] not in page
    bad = cadre.get("/cases?sort=nonsense")
    assert bad.status_code == 422 and "sort" in bad.get_data(as_text=True)


def test_export_of_the_filtered_list_with_a_progress_page(app, county, login):
    from openpyxl import load_workbook
    import io
    cadre = login(county, "village.cadre")
    a = register(cadre, county.unit("T01D1V1"), title="导出测试甲")
    register(cadre, county.unit("T01D1V1"), title="导出测试乙")
    html = cadre.get("/cases?q=导出测试甲").get_data(as_text=True)
    assert "导出台账" in html
    r = cadre.post("/cases/export", data={"csrf_token": csrf(html), "q": "导出测试甲"})
    assert r.status_code == 302
    job_url = r.headers["Location"]
    assert "progress" in cadre.get(job_url).get_data(as_text=True)
    run_jobs(app)
    done = cadre.get(job_url).get_data(as_text=True)
    link = re.search(r'href="(/api/jobs/\d+/result)"', done).group(1)
    wb = load_workbook(io.BytesIO(cadre.get(link).data), read_only=True)
    numbers = [row[0] for row in wb.active.iter_rows(min_row=2, values_only=True) if row and row[0]]
    assert numbers == [a["number"]]


def test_petition_panel_on_the_case_page(app, login, fresh_tenant):
    """A module's own acts on the shared case page (CaseType.web_panel): the petition module's
    leader and risk forms; a missing field shows in Chinese on the same page, typed text kept."""
    admin = login(fresh_tenant, "county.admin")
    assert admin.put("/api/modules/petition", json={"enabled": True}).status_code == 200
    body = {"case_type": "petition.case", "title": "反映宅基地纠纷", "org_unit_id": fresh_tenant.unit("T01D1V1"),
            "content": "", "persons": [], "details": {"form": "visit", "category": "land"}}
    case = admin.post("/api/cases", json=body).get_json()
    html = admin.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert 'id="petition-leader"' in html and 'id="petition-risk"' in html and "仅印在登记回执上" in html
    assert "query_code" not in case["details"]  # issue 14: the code is on the receipt only
    assert 'id="act-accept"' in html  # the workflow's acts come from the shared screens
    token = csrf(html)
    bad = admin.post(f"/petition/cases/{case['id']}/leader",
                     data={"csrf_token": token, "leader_name": "张副镇长", "team": "刘干事 信访办"})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "请检查" in page and "张副镇长" in page
    ok = admin.post(f"/petition/cases/{case['id']}/leader", data={
        "csrf_token": token, "leader_name": "张副镇长", "team": "刘干事 信访办\n王干事", "investigate": "刘干事",
        "handle": "司法所", "stabilise": "驻村干部"})
    assert ok.status_code == 302
    risk = admin.post(f"/petition/cases/{case['id']}/risk",
                      data={"csrf_token": token, "level": "handler", "grade": "medium"})
    assert risk.status_code == 302
    html = admin.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "刘干事、王干事" in html and "中风险" in html
    assert 'id="petition-leader-end"' not in html  # only once the petition is closed
    assert admin.post(f"/api/cases/{case['id']}/transitions/not_accept", json={"note": "不属信访事项"}).status_code == 200
    html = admin.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert 'id="petition-leader-end"' in html
    end = admin.post(f"/petition/cases/{case['id']}/leader/end", data={"csrf_token": token, "reason": "案结事了"})
    assert end.status_code == 302
    assert "未指定包案领导" in admin.get(f"/cases/{case['id']}").get_data(as_text=True)


def test_petition_module_pages(app, login, fresh_tenant):
    """The module's own pages: quotas (set one, record a breach, see the accountability record,
    close it), the watch list (from a petition's page), the monthly report; errors in Chinese."""
    admin = login(fresh_tenant, "county.admin")
    assert admin.put("/api/modules/petition", json={"enabled": True}).status_code == 200
    home = admin.get("/").get_data(as_text=True)
    assert "上访指标" in home and "信访月报" in home
    page = admin.get("/petition/quotas")
    assert page.status_code == 200
    token = csrf(page.get_data(as_text=True))
    village, year = fresh_tenant.unit("T01D1V1"), page.get_data(as_text=True).split('name="period" value="')[1][:4]
    r = admin.post("/petition/quotas", data={"csrf_token": token, "form": "quota", "org_unit_id": village,
                                             "period": year, "kind": "beijing", "quota": "0"})
    assert r.status_code == 200 and "指标已保存" in r.get_data(as_text=True)
    bad = admin.post("/petition/quotas", data={"csrf_token": token, "form": "escalation", "org_unit_id": village,
                                               "petitioner": "某甲", "level": "beijing"})
    assert bad.status_code == 422 and "请检查" in bad.get_data(as_text=True)
    r = admin.post("/petition/quotas", data={"csrf_token": token, "form": "escalation", "org_unit_id": village,
                                             "petitioner": "某甲", "level": "beijing",
                                             "occurred_on": f"{year}-06-01"})
    html = r.get_data(as_text=True)
    assert "突破指标" in html and "周建国" in html and "李文华" in html
    acc = admin.get(f"/api/petition/accountability?period={year}").get_json()[0]
    r = admin.post("/petition/quotas", data={"csrf_token": token, "form": "close", "accountability_id": acc["id"],
                                             "outcome": "约谈"})
    assert "问责记录已办结" in r.get_data(as_text=True)
    # the watch list, from a petition's page
    p = admin.post("/api/persons", json={"name": "某乙", "org_unit_id": village}).get_json()["id"]
    case = admin.post("/api/cases", json={"case_type": "petition.case", "title": "反映征地补偿", "org_unit_id": village,
                                          "content": "", "persons": [{"person_id": p, "role": "petitioner"}],
                                          "details": {"form": "letter", "category": "land"}}).get_json()
    r = admin.post(f"/petition/cases/{case['id']}/watch",
                   data={"csrf_token": token, "person_id": p, "grade": "high", "signs": "扬言进京"})
    assert r.status_code == 302
    assert "扬言进京" in admin.get("/petition/watch").get_data(as_text=True)
    report = admin.get(f"/petition/reports?org_unit_id={fresh_tenant.unit('T01D1')}")
    assert report.status_code == 200 and "罗塘村" in report.get_data(as_text=True)
    assert admin.get("/petition/reports?month=2026-13").status_code == 422


def test_the_print_view_has_the_facts_and_no_forms(app, county, login):
    """issue 6: the case's print view — number, people, limits, timeline; no act, divert or note form."""
    cadre = login(county, "village.cadre")
    case = register(cadre, county.unit("T01D1V1"), title="请求上门走访：打印")
    page = cadre.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert f'href="/cases/{case["id"]}/print"' in page
    printed = cadre.get(f"/cases/{case['id']}/print")
    assert printed.status_code == 200
    html = printed.get_data(as_text=True)
    assert case["number"] in html and "办理过程" in html and "登记" in html
    assert "<form" not in html.split('<main id="main">')[1]
    other = login(county, "village.cadre2")
    assert other.get(f"/cases/{case['id']}/print").status_code == 404


def test_attachments_on_the_case_page(app, county, login):
    """issue 6: a case's files on its page — upload (the API's checks: kind by content), list,
    download, remove; a refused file is explained at the section and nothing is stored."""
    import io
    cadre = login(county, "village.cadre")
    case = register(cadre, county.unit("T01D1V1"), title="请求上门走访：附件")
    html = cadre.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert 'id="attach"' in html and "暂无附件" in html
    token = csrf(html)
    bad = cadre.post(f"/cases/{case['id']}/attachments", content_type="multipart/form-data",
                     data={"csrf_token": token, "file": (io.BytesIO(b"MZ\x90\x00\x03binary"), "tool.exe")})
    assert bad.status_code == 415 and "不支持的文件类型" in bad.get_data(as_text=True)
    ok = cadre.post(f"/cases/{case['id']}/attachments", content_type="multipart/form-data",
                    data={"csrf_token": token, "file": (io.BytesIO("走访记录：老人身体健康\n".encode()), "走访记录.txt")})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("#act-done")
    html = cadre.get(f"/cases/{case['id']}").get_data(as_text=True)
    att = cadre.get(f"/api/cases/{case['id']}/attachments").get_json()
    assert len(att) == 1 and "走访记录.txt" in html and f"/api/cases/{case['id']}/attachments/{att[0]['id']}" in html
    assert cadre.get(f"/api/cases/{case['id']}/attachments/{att[0]['id']}").data.decode() == "走访记录：老人身体健康\n"
    gone = cadre.post(f"/cases/{case['id']}/attachments/{att[0]['id']}/remove", data={"csrf_token": token})
    assert gone.status_code == 302
    assert cadre.get(f"/api/cases/{case['id']}/attachments").get_json() == []
    assert "删除附件" in cadre.get(f"/cases/{case['id']}").get_data(as_text=True)


def test_ledger_import_through_the_page(app, county, login):
    """issue 6: import a ledger from the page; the progress page lists the bad row and column,
    and nothing is imported (issue 3's rule)."""
    import io

    from tests.test_ledgers import _xlsx
    town = login(county, "donghu.admin")
    assert "导入台账" in town.get("/cases").get_data(as_text=True)
    page = town.get("/cases/import").get_data(as_text=True)
    assert "/api/ledgers/templates/visits.visit" in page
    token = csrf(page)
    missing = town.post("/cases/import", content_type="multipart/form-data", data={"csrf_token": token,
                                                                                   "case_type": "visits.visit"})
    assert missing.status_code == 422, missing.get_data(as_text=True)[-800:]
    assert "请选择要导入" in missing.get_data(as_text=True)
    rows = [["走访 1", "T01D1V1", "来访", "独居老人", "上门走访"],
            ["走访 2", "东湖镇/东湖第一管区/不存在的村", "来访", "", "上门走访"]]
    r = town.post("/cases/import", content_type="multipart/form-data",
                  data={"csrf_token": token, "case_type": "visits.visit", "file": (io.BytesIO(_xlsx(rows)), "台账.xlsx")})
    assert r.status_code == 302 and "/jobs/" in r.headers["Location"]
    run_jobs(app)
    job = town.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="job-errors"' in job and "发生地" in job and "找不到该单位" in job
    assert town.get("/api/cases").get_json()["items"] == []


def test_limits_show_a_traffic_light_on_the_list_and_the_case_page(app, county, login):
    """Issue 15, items 5 and 14: green while a limit runs, yellow within the case type's
    due-soon reminder (remind_before_hours, 24 by default), red once it has run out — with its
    words, on the list and on the case page; the list sorts by urgency."""
    import datetime as dt

    import time_machine

    from core.timefmt import light
    now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
    day = dt.timedelta(hours=24)
    assert [light(now + d, now, day) for d in (dt.timedelta(days=3), dt.timedelta(hours=5), -dt.timedelta(seconds=1))] \
        == ["green", "yellow", "red"]
    assert light(None, now, day) is None
    with time_machine.travel(now, tick=False):
        cadre = login(county, "village.cadre")
        case = register(cadre, county.unit("T01D1V1"), title="红绿灯测试")
    due = dt.datetime.fromisoformat(case["due_at"])

    def badges(at: dt.datetime) -> tuple[str, str]:
        with time_machine.travel(at, tick=False):
            client = login(county, "village.cadre")
            listed = client.get("/cases?sort=due_at&status=open").get_data(as_text=True)
            row = re.search(rf'<tr[^>]*>\s*<td><a href="/cases/{case["id"]}">.*?</tr>', listed, re.S).group(0)
            page = client.get(f"/cases/{case['id']}").get_data(as_text=True)
        return (re.search(r'class="light light-(\w+)">([^<]+)<', row).groups(),
                re.search(r'class="light light-(\w+)">([^<]+)<', page).groups())

    assert badges(now + dt.timedelta(hours=1)) == (("green", "正常"), ("green", "正常"))
    assert badges(due - dt.timedelta(hours=5)) == (("yellow", "即将到期"), ("yellow", "即将到期"))
    assert badges(due + dt.timedelta(hours=1)) == (("red", "已超期"), ("red", "已超期"))

    # the page's table of limits is folded while every limit runs green, open once one is due soon
    def limits_open(at: dt.datetime) -> bool:
        with time_machine.travel(at, tick=False):
            page = login(county, "village.cadre").get(f"/cases/{case['id']}").get_data(as_text=True)
        return bool(re.search(r'<details class="limits-box" id="limits-box"\s+open>', page))

    assert not limits_open(now + dt.timedelta(hours=1))
    assert limits_open(due - dt.timedelta(hours=5)) and limits_open(due + dt.timedelta(hours=1))


def test_search_by_person_and_the_persons_page_with_their_matters(app, county, other, login):
    """Issue 15, item 11: searching a petitioner's ID number or phone found nothing, a name only
    when typed into the content. The list's person box takes a name, an ID number or a phone
    (the last two through the blind indexes, for holders of the personal-data permission only,
    audited); the person's page lists their matters in the user's scope, masked."""
    admin = login(county, "county.admin")
    idn = "11010519491231002X"
    r = admin.post("/api/persons", json={"name": "赵来访", "org_unit_id": county.unit("T01D1V1"), "id_number": idn,
                                         "phone": "13912345678"})
    assert r.status_code == 201, r.get_json()
    person_id = r.get_json()["id"]
    first = register(admin, county.unit("T01D1V1"), title="第一次来访", persons=[{"person_id": person_id, "role": "party"}])
    second = register(admin, county.unit("T01D1V1"), title="第二次来访", persons=[{"person_id": person_id, "role": "party"}])
    register(admin, county.unit("T01D1V1"), title="别人的事")
    for value in ("赵来访", idn, "139 1234 5678"):  # in a POST's body: never in the address
        r = admin.post("/cases?status=open", data={"person": value})
        page = r.get_data(as_text=True)
        assert r.status_code == 200 and first["number"] in page and second["number"] in page, value
        assert "别人的事" not in page and 'name="person" value=' in page
    # an ID number in an address (an old link) is not searched for; a name may stay in a link
    in_url = admin.get("/cases", query_string={"person": idn})
    assert in_url.status_code == 422 and "不进入网址" in in_url.get_data(as_text=True)
    assert first["number"] not in in_url.get_data(as_text=True)
    # without the personal-data permission an ID number is refused with a message, not a 500 and not an oracle
    cadre = login(county, "village.cadre")
    refused = cadre.post("/cases", data={"person": idn})
    assert refused.status_code == 403 and "需要查看完整个人信息的权限" in refused.get_data(as_text=True) and first["number"] not in \
        refused.get_data(as_text=True)
    assert first["number"] in cadre.get("/cases", query_string={"person": "赵来访"}).get_data(as_text=True)
    # the case page links the person; the person's page lists both matters, newest first, masked
    case_page = admin.get(f"/cases/{first['id']}").get_data(as_text=True)
    assert f'href="/persons/{person_id}"' in case_page
    page = admin.get(f"/persons/{person_id}").get_data(as_text=True)
    assert page.index("第二次来访") < page.index("第一次来访") and "别人的事" not in page
    assert idn not in page and "13912345678" not in page and "历次事项（2" in page
    # another county's person, or a made-up id: the 404 page
    assert login(other, "county.admin").get(f"/persons/{person_id}").status_code == 404
    assert admin.get("/persons/999999999999").status_code == 404
    assert admin.get("/persons/abc").status_code == 404
