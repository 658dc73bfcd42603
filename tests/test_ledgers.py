"""Issue 3 (Ledgers, Jobs) and RPT-3: ledgers export to .xlsx in the county's uniform format and
import from .xlsx all-or-nothing, as background jobs with progress, visible only to their starter."""
from __future__ import annotations

import datetime as dt
import io
import json
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from core import jobs, ledgers, outbox
from core.app import pingan
from core.cases import settings as case_settings
from core.cases.models import Case
from core.cli import main as cli
from core.context import Actor, acting_as
from core.db import bind_tenant, utcnow
from core.errors import Invalid
from core.models import JobRun, OutboxEntry, User
from core.workdays import SHANGHAI
from tests import casework
from tests.casework import VISIT, act, events, register, run_jobs
from tests.conftest import REDIS_URL

HEADERS = ["标题", "发生地", "来源渠道", "内容", "走访方式"]


@pytest.fixture
def county(app, county):
    jobs.bind_state(pingan(app))
    run_jobs(app)  # nothing of earlier tests left in the queue
    return county


def _job(client, job_id: int) -> dict:
    r = client.get(f"/api/jobs/{job_id}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _export(app, client, body: dict) -> tuple[dict, list[tuple], object]:
    """Start an export, run the queue, download the file: (job, rows incl. header, response)."""
    r = client.post("/api/ledgers/exports", json=body)
    assert r.status_code == 202, r.get_json()
    assert r.get_json()["state"] == "queued" and r.get_json()["percent"] == 0
    run_jobs(app)
    job = _job(client, r.get_json()["id"])
    assert job["state"] == "done", job
    got = client.get(job["result_url"])
    assert got.status_code == 200 and got.mimetype == ledgers.XLSX
    sheet = load_workbook(io.BytesIO(got.data), read_only=True).worksheets[0]
    return job, [tuple(row) for row in sheet.iter_rows(values_only=True)], got


def _xlsx(rows: list[list], header: list[str] = HEADERS, write_only: bool = False) -> bytes:
    """``write_only``: no declared sheet size (as some writers); else declared, as Excel and WPS do."""
    wb = Workbook(write_only=write_only)
    ws = wb.create_sheet() if write_only else wb.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _import(app, client, data: bytes, name: str = "东湖镇走访台账.xlsx") -> dict:
    r = client.post(f"/api/ledgers/imports?case_type={VISIT}", data={"file": (io.BytesIO(data), name)},
                    content_type="multipart/form-data")
    assert r.status_code == 202, r.get_json()
    run_jobs(app)
    return _job(client, r.get_json()["id"])


def _cases(db, tenant) -> int:
    with db.transaction(tenant.id) as s:
        return s.scalar(select(func.count()).select_from(Case))


def _set_ledger_columns(app, tenant, columns: list[str]) -> None:
    state = pingan(app)
    ctype = state.plugins.case_types[VISIT]
    with acting_as(Actor(None, "test")), state.db.transaction(tenant.id) as s:
        case_settings.save(s, ctype, {"ledger_columns": columns})


# --- export --------------------------------------------------------------------------------------

def test_export_of_a_filtered_list_holds_exactly_its_cases_in_the_countys_columns(app, county, login):
    """issue 3 / RPT-3: the ledger of one village and one state = GET /api/cases with the same
    filters, in the county's chosen ledger columns (incl. the module's 走访方式), Shanghai times."""
    town = login(county, "donghu.admin")
    v1, v2 = county.unit("T01D1V1"), county.unit("T01D1V2")
    mine = [register(town, v1, f"走访请求 {i}", details={"visit_kind": kind})
            for i, kind in enumerate(["home", "phone", "home"])]
    register(town, v2, "郭岭村的走访请求")
    assert act(town, mine[1]["id"], "accept").status_code == 200  # no longer "registered"
    _set_ledger_columns(app, county, ["number", "title", "state", "org_unit", "visit_kind", "created_at"])

    filters = {"case_type": VISIT, "org_unit_id": v1, "state": ["registered"]}
    listed = town.all_items(f"/api/cases?case_type={VISIT}&org_unit_id={v1}&state=registered")
    job, rows, got = _export(app, town, filters)

    header, data = rows[0], rows[1:]
    assert header == ("编号", "标题", "状态", "发生地", "走访方式", "登记时间")
    assert sorted(r[0] for r in data) == sorted(c["number"] for c in listed) == sorted(
        mine[i]["number"] for i in (0, 2))
    by_number = {r[0]: r for r in data}
    first = by_number[mine[0]["number"]]
    assert first[1:5] == ("走访请求 0", "已登记", "东湖镇/东湖第一管区/罗塘村", "上门走访")
    created = dt.datetime.fromisoformat(mine[0]["created_at"]).astimezone(SHANGHAI).replace(tzinfo=None)
    assert abs(first[5] - created) < dt.timedelta(seconds=1)
    assert job["total"] == job["done"] == 2 and job["percent"] == 100 and job["message"] == "已导出 2 件"
    today = utcnow().astimezone(SHANGHAI).strftime("%Y%m%d")
    assert job["result_name"] == f"台账-走访请求-{today}.xlsx"
    assert f"filename*=UTF-8''{quote(job['result_name'], safe='')}" in got.headers["Content-Disposition"]


def test_export_without_a_type_has_the_base_columns_and_only_what_the_user_may_read(app, county, login):
    """issue 3: a village cadre's ledger holds the cases of their village only, base columns."""
    town = login(county, "donghu.admin")
    ours = register(town, county.unit("T01D1V1"), channel="hotline")
    register(town, county.unit("T01D1V2"))
    cadre = login(county, "village.cadre")
    job, rows, _ = _export(app, cadre, {})
    assert rows[0] == ("编号", "标题", "事项类型", "状态", "发生地", "牵头承办单位", "来源渠道", "登记时间",
                       "办理时限", "办结时间", "内容")
    assert [r[0] for r in rows[1:]] == [c["number"] for c in cadre.all_items("/api/cases")] == [ours["number"]]
    assert rows[1][2:4] == ("走访请求", "已登记") and rows[1][6] == "热线转办" and rows[1][9] is None
    assert isinstance(rows[1][8], dt.datetime)  # the acceptance limit, as a date-time cell


def test_progress_is_visible_to_another_request_while_the_export_runs(app, county, login, monkeypatch):
    """issue 3 (Jobs): progress is written in batches a poll sees at once, and reaches the total."""
    town = login(county, "donghu.admin")
    for i in range(5):
        register(town, county.unit("T01D1V1"), f"走访 {i}")
    monkeypatch.setattr(ledgers, "BATCH", 2)
    seen = []
    original = ledgers._Run.progress

    def progress(self, done, total=None, message=None):
        original(self, done, total, message)
        job = _job(town, self.job_id)  # another request, while the job is still running
        seen.append((job["state"], job["done"], job["total"], job["percent"]))
    monkeypatch.setattr(ledgers._Run, "progress", progress)
    job, rows, _ = _export(app, town, {"case_type": VISIT})
    assert seen == [("running", 0, 5, 0), ("running", 2, 5, 40), ("running", 4, 5, 80), ("running", 5, 5, 99)]
    assert (job["state"], job["done"], job["total"], job["percent"]) == ("done", 5, 5, 100)
    assert len(rows) == 6


def test_export_of_one_year_and_refusals_at_once(app, county, login):
    """RPT-3 (archived by year): ``year`` limits the ledger to that numbering year; keyword and
    time filters work and are stored sealed; a unit the user cannot see is refused at once
    (404), not in the job."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    year = int(case["number"][2:6])
    _, rows, _ = _export(app, town, {"case_type": VISIT, "year": year})
    assert [r[0] for r in rows[1:]] == [case["number"]]
    job, rows, _ = _export(app, town, {"case_type": VISIT, "year": year - 1})
    assert rows[1:] == [] and f"{year - 1}年度" in job["result_name"]
    job, rows, _ = _export(app, town, {"q": "上门走访", "created_from": "2020-01-01T00:00:00+08:00"})
    assert [r[0] for r in rows[1:]] == [case["number"]]
    with pingan(app).db.transaction(county.id) as s:  # filters may name people: sealed in the job row
        assert "上门走访" not in json.dumps(s.get(JobRun, (county.id, job["id"])).params, ensure_ascii=False)
    assert town.post("/api/ledgers/exports", json={"org_unit_id": 8_999_999_999_999}).status_code == 404
    assert town.post("/api/ledgers/exports", json={"limit": 5}).status_code == 422


# --- import --------------------------------------------------------------------------------------

def test_import_with_one_bad_row_in_the_middle_writes_nothing_and_names_row_and_column(app, county, login, db):
    """issue 3 (required test): one bad row in the middle → nothing written, the row and column named."""
    town = login(county, "donghu.admin")
    rows = [["走访 1", "T01D1V1", "来访", "独居老人", "上门走访"],
            ["走访 2", "东湖镇/东湖第一管区/郭岭村", "", "", "电话回访"],
            ["走访 3", "东湖镇/东湖第一管区/不存在的村", "来访", "", "上门走访"],
            ["走访 4", "T01D1V1", "visit", "", "home"],
            ["走访 5", "T01D1V1", "来访", "", "上门走访"]]
    job = _import(app, town, _xlsx(rows))
    assert job["state"] == "failed" and "未导入任何事项" in job["message"]
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(4, "发生地")]
    assert "找不到该单位" in job["errors"][0]["message"]
    assert _cases(db, county) == 0
    assert town.all_items("/api/cases") == []
    # nothing was numbered either: the next case is the year's first
    assert register(town, county.unit("T01D1V1"))["number"].endswith("00001")


def test_import_reports_every_error_of_every_row(app, county, login, db):
    """issue 3: every row is checked, every problem reported (required cells, lengths, choices,
    scope, the module's own fields), before anything is written."""
    town = login(county, "donghu.admin")
    rows = [["", "T01D1V1", "", "", "上门走访"],
            ["走访" * 101, "T02", "飞鸽传书", "", "视频回访"],
            ["走访", "罗塘村", "", "", None],
            ["走访", "第一村民小组", "", "", "home"]]
    job = _import(app, town, _xlsx(rows))
    assert job["state"] == "failed"
    assert {(e["row"], e["column"]) for e in job["errors"]} == {
        (2, "标题"), (3, "标题"), (3, "发生地"), (3, "来源渠道"), (3, "走访方式"), (4, "走访方式"), (5, "发生地")}
    messages = {(e["row"], e["column"]): e["message"] for e in job["errors"]}
    assert messages[(2, "标题")] == "必填" and messages[(4, "走访方式")] == "必填"
    assert "管辖范围" in messages[(3, "发生地")]          # 青山乡 is not 东湖镇's
    assert "多个单位" in messages[(5, "发生地")]          # every village has a 第一村民小组
    assert _cases(db, county) == 0


def test_valid_import_registers_every_row_with_consecutive_numbers(app, county, login):
    """issue 3: the filled-in template registers every row in one go: consecutive numbers, a
    "registered" event each, by the user who imported (the audit names them)."""
    town = login(county, "donghu.admin")
    r = town.get(f"/api/ledgers/templates/{VISIT}")
    assert r.status_code == 200 and r.mimetype == ledgers.XLSX
    assert "filename*=UTF-8''" in r.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(r.data))
    ws = wb.worksheets[0]
    assert [c.value for c in ws[1]] == HEADERS
    places = ["T01D1V1", "东湖镇/东湖第一管区/郭岭村", "示范县/东湖镇/东湖第一管区/林湾村", "罗塘村", "t01d1v1"]
    for i, place in enumerate(places):
        ws.append([f"请求上门走访 {i}", place, ["来访", "visit", None, "热线转办", "来电"][i], f"情况说明 {i}",
                   ["上门走访", "phone", "电话回访", "home", "上门走访"][i]])
    buf = io.BytesIO()
    wb.save(buf)
    job = _import(app, town, buf.getvalue())
    assert job["state"] == "done", job
    assert job["errors"] == [] and job["percent"] == 100 and job["done"] == job["total"] == 10

    cases = sorted(town.all_items(f"/api/cases?case_type={VISIT}"), key=lambda c: c["number"])
    assert len(cases) == 5
    year = cases[0]["number"][2:6]
    assert [c["number"] for c in cases] == [f"访〔{year}〕{n:05d}" for n in range(1, 6)]
    assert f"编号 访〔{year}〕00001 至 访〔{year}〕00005" in job["message"]
    assert [c["title"] for c in cases] == [f"请求上门走访 {i}" for i in range(5)]
    assert [c["org_unit_id"] for c in cases] == [county.unit(u) for u in
                                                 ("T01D1V1", "T01D1V2", "T01D1V3", "T01D1V1", "T01D1V1")]
    assert [c["channel"] for c in cases] == ["visit", "visit", None, "hotline", "call"]
    for case in cases:
        assert events(town, case["id"]) == ["registered"]
    detail = town.get(f"/api/cases/{cases[1]['id']}").get_json()
    assert detail["details"]["visit_kind"] == "phone" and detail["content"] == "情况说明 1"
    timeline = town.get(f"/api/cases/{cases[0]['id']}/events").get_json()
    assert timeline[0]["actor_label"] == "user:donghu.admin"
    assert detail["deadlines"][0]["rule"] == "accept"  # the acceptance limit started, as at the window


def test_an_exported_ledger_can_be_imported_again(app, county, login):
    """RPT-3 (one uniform format): the type's export, with its computed columns, imports as is."""
    town = login(county, "donghu.admin")
    register(town, county.unit("T01D1V2"), "郭岭村走访", details={"visit_kind": "phone"}, channel="grid")
    _, rows, got = _export(app, town, {"case_type": VISIT})
    job = _import(app, town, got.data)
    assert job["state"] == "done", job
    again = [c for c in town.all_items(f"/api/cases?case_type={VISIT}") if c["number"] != rows[1][0]]
    assert [(c["title"], c["org_unit_id"], c["channel"]) for c in again] == [
        ("郭岭村走访", county.unit("T01D1V2"), "grid")]
    assert town.get(f"/api/cases/{again[0]['id']}").get_json()["details"]["visit_kind"] == "phone"


def test_a_row_the_engine_refuses_rolls_back_every_row(app, county, login, db, monkeypatch):
    """issue 3: if registering a row fails after the checks, every row is rolled back and that row named."""
    import dataclasses
    town = login(county, "donghu.admin")
    types = pingan(app).plugins.case_types
    real, calls = types[VISIT].on_register, []

    def register_until_third(session, case, details):  # the module refuses the third case
        calls.append(case.title)
        if len(calls) == 3:
            raise Invalid("org_unit_id", "unknown_unit", "单位不存在或已撤销")
        return real(session, case, details)
    monkeypatch.setitem(types, VISIT, dataclasses.replace(types[VISIT], on_register=register_until_third))
    job = _import(app, town, _xlsx([[f"走访 {i}", "T01D1V1", "", "", "上门走访"] for i in range(4)]))
    assert job["state"] == "failed" and calls == ["走访 0", "走访 1", "走访 2"]
    assert job["errors"] == [{"row": 4, "column": "发生地", "message": "单位不存在或已撤销"}]
    assert _cases(db, county) == 0
    monkeypatch.undo()
    assert register(town, county.unit("T01D1V1"))["number"].endswith("00001")


def test_files_that_are_not_ledgers_are_refused(app, county, login, db, monkeypatch):
    """issue 3: content is sniffed (a zip with xl/workbook.xml), size and row count are limited."""
    town = login(county, "donghu.admin")
    url = f"/api/ledgers/imports?case_type={VISIT}"
    docx = io.BytesIO()
    import zipfile
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    for content in (b"title,place\n", docx.getvalue(), b"PK\x03\x04broken"):
        r = town.post(url, data={"file": (io.BytesIO(content), "台账.xlsx")}, content_type="multipart/form-data")
        assert r.status_code == 422 and r.get_json()["code"] == "not_xlsx", r.get_json()
    monkeypatch.setattr(ledgers, "MAX_IMPORT_BYTES", 2000)
    r = town.post(url, data={"file": (io.BytesIO(_xlsx([["走访", "T01D1V1", "", "x" * 5000, "home"]])), "a.xlsx")},
                  content_type="multipart/form-data")
    assert r.status_code == 413 and r.get_json()["code"] == "file_too_large"
    monkeypatch.setattr(ledgers, "MAX_IMPORT_BYTES", 10 * 1024 * 1024)
    monkeypatch.setattr(pingan(app).config, "import_max_rows", 3)  # PINGAN_IMPORT_MAX_ROWS
    job = _import(app, town, _xlsx([["走访", "T01D1V1", "", "", "home"]] * 4))
    assert job["state"] == "failed" and "超过 3 行" in job["message"] and job["errors"][0]["row"] == 5
    job = _import(app, town, _xlsx([["走访", "T01D1V1", "", "", "home"]], header=["标题", "地点", "走访方式"]))
    assert {(e["row"], e["column"]) for e in job["errors"]} == {(1, "地点"), (1, "发生地")}
    assert _cases(db, county) == 0
    cadre = login(county, "village.cadre")  # may export, may not import
    assert cadre.post(url, data={"file": (io.BytesIO(_xlsx([])), "a.xlsx")},
                      content_type="multipart/form-data").status_code == 403


# --- jobs ----------------------------------------------------------------------------------------

def test_another_users_job_is_not_found(app, county, login):
    """issue 3: a job, its progress and its file are its starter's alone (404 for anyone else)."""
    town = login(county, "donghu.admin")
    register(town, county.unit("T01D1V1"))
    job, _, _ = _export(app, town, {"case_type": VISIT})
    other = login(county, "qingshan.admin")
    missing = other.get("/api/jobs/8999999999999")
    for url in (f"/api/jobs/{job['id']}", f"/api/jobs/{job['id']}/result"):
        r = other.get(url)
        assert r.status_code == 404 and r.get_json() == missing.get_json()
    assert job["id"] not in [j["id"] for j in other.all_items("/api/jobs")]
    mine = town.all_items("/api/jobs")
    assert [j["id"] for j in mine][0] == job["id"]  # newest first


def test_a_job_started_in_a_transaction_that_rolls_back_never_runs(app, county, db, monkeypatch):
    """issue 3 (outbox): a JobRun queued in a rolled-back transaction never runs; a committed one does."""
    ran = []
    monkeypatch.setattr(ledgers, "run_job", lambda session, job_run_id: ran.append(job_run_id))
    with db.transaction(county.id) as s:
        user_id = s.scalar(select(User.id).where(User.username == "donghu.admin"))

    def start(commit: bool) -> int:
        with bind_tenant(county.id), db.Session() as s:
            s.begin()
            job = JobRun(user_id=user_id, kind="ledger_export", title="导出台账",
                         params={"filters": ledgers.seal({})})
            s.add(job)
            s.flush()
            job_id = job.id
            outbox.add(s, "core.ledgers.run_job", key=f"jobrun:{job_id}", job_run_id=job_id)
            s.commit() if commit else s.rollback()
            return job_id
    committed, rolled_back = start(True), start(False)  # (SQLite reuses a rolled-back id)
    run_jobs(app)
    assert ran.count(committed) == 1 and rolled_back not in ran
    with db.transaction(county.id) as s:
        assert s.scalar(select(func.count()).select_from(OutboxEntry).where(
            OutboxEntry.key == f"jobrun:{rolled_back}")) == 0


def test_a_finished_job_is_not_run_again(app, county, login, db):
    """issue 3: a second delivery of a finished job changes nothing (jobs are idempotent)."""
    town = login(county, "donghu.admin")
    job = _import(app, town, _xlsx([["走访", "T01D1V1", "", "", "home"]]))
    assert job["state"] == "done" and _cases(db, county) == 1
    with bind_tenant(county.id):
        ledgers.execute(county.id, job["id"])
    outbox.run(county.id, f"jobrun:{job['id']}")
    run_jobs(app)
    assert _cases(db, county) == 1 and _job(town, job["id"])["finished_at"] == job["finished_at"]


def test_operators_see_failed_jobs_and_retry_them(app, county, login, db, monkeypatch, config):
    """issue 3: `pingan jobs failed` lists every county's failed jobs; `pingan jobs retry` runs one again."""
    monkeypatch.setenv("PINGAN_DATABASE_URL", config.database_url)
    monkeypatch.setenv("PINGAN_INSTANCE_DIR", str(config.instance_dir))
    if REDIS_URL:
        monkeypatch.setenv("PINGAN_REDIS_URL", REDIS_URL)
    town = login(county, "donghu.admin")
    register(town, county.unit("T01D1V1"))

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")
    with monkeypatch.context() as m:
        m.setattr(ledgers, "ledger_rows", broken)
        r = town.post("/api/ledgers/exports", json={"case_type": VISIT})
        run_jobs(app)
    job = _job(town, r.get_json()["id"])
    assert job["state"] == "failed" and "RuntimeError" in job["message"] and str(job["id"]) in job["message"]
    casework.RAN.clear()
    with db.transaction(county.id) as s:  # an outbox job that used up its attempts
        s.add(OutboxEntry(key="deliver:test", job="tests.casework.record_ran", kwargs={"marker": "again"},
                          state="failed", attempts=outbox.MAX_ATTEMPTS, last_error="SMTPError: 550"))

    listed = CliRunner().invoke(cli, ["jobs", "failed"])
    assert listed.exit_code == 1, listed.output
    ours = [line.split("\t") for line in listed.output.splitlines() if line.startswith(county.slug + "\t")]
    assert [(l[1], l[3], l[4]) for l in ours] == [("deliver:test", "5", "SMTPError: 550"),
                                                  (f"jobrun:{job['id']}", "-", job["message"])]

    for key in (f"jobrun:{job['id']}", "deliver:test"):
        retried = CliRunner().invoke(cli, ["jobs", "retry", county.slug, key])
        assert retried.exit_code == 0, retried.output
    jobs.bind_state(pingan(app))
    run_jobs(app)
    assert _job(town, job["id"])["state"] == "done"
    assert casework.RAN == [{"marker": "again"}]
    after = CliRunner().invoke(cli, ["jobs", "failed"])
    assert not [line for line in after.output.splitlines() if line.startswith(county.slug + "\t")]
    nothing = CliRunner().invoke(cli, ["jobs", "retry", county.slug, "jobrun:8999999999999"])
    assert nothing.exit_code == 1 and "no failed job" in nothing.output
