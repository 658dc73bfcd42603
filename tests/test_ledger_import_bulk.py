"""Ledger imports in bulk (issue 24, item 6): the rows one by one registration writes, written
chunk by chunk; no 5,000-row cap but a configured bound; progress throughout; the audit chain
written once."""
from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from openpyxl import Workbook
from sqlalchemy import func, select

from core import audit, ledgers
from core.app import pingan
from core.audit import AuditEntry
from core.cases import search
from core.cases.models import Case, CaseDeadline, CaseEvent, CaseTally
from core.db import bind_tenant
from core.models import OrgUnit
from tests.casework import VISIT, register, run_jobs
from tests.test_case_jobs import county  # noqa: F401  (the fixture: the queue emptied first)
from tests.test_ledgers import HEADERS, _xlsx as sheet

WHEN = dt.datetime(2026, 11, 20, 2, 30, tzinfo=dt.timezone.utc)  # a Friday, 10:30 in Beijing


def _xlsx(rows: list[list], header: list[str] = HEADERS, write_only: bool = True) -> bytes:
    return sheet(rows, header, write_only)


def _import(app, client, data: bytes) -> dict:
    r = client.post(f"/api/ledgers/imports?case_type={VISIT}", data={"file": (io.BytesIO(data), "走访台账.xlsx")},
                    content_type="multipart/form-data")
    assert r.status_code == 202, r.get_json()
    run_jobs(app)
    got = client.get(f"/api/jobs/{r.get_json()['id']}")
    assert got.status_code == 200
    return got.get_json()


def _row(obj, skip: set[str]) -> dict:
    return {c.key: getattr(obj, c.key) for c in type(obj).__table__.columns if c.key not in skip}


def _written(s, case_ids: list[int]) -> list[dict]:
    """Everything registration wrote for each case, without ids and numbers (which differ)."""
    from pingan_visits.models import VisitsVisit
    out = []
    for cid in case_ids:
        case = s.scalar(select(Case).where(Case.id == cid))
        assert case.search_grams == search.grams(case.number, case.title, case.content)
        evs = s.scalars(select(CaseEvent).where(CaseEvent.case_id == cid).order_by(CaseEvent.id)).all()
        lims = s.scalars(select(CaseDeadline).where(CaseDeadline.case_id == cid).order_by(CaseDeadline.id)).all()
        visits = s.scalars(select(VisitsVisit).where(VisitsVisit.case_id == cid)).all()
        ids = {"id", "case_id", "tenant_id"}
        out.append({"case": _row(case, ids | {"number", "search_grams"}),
                    "events": [_row(e, ids) for e in evs], "limits": [_row(d, ids) for d in lims],
                    "visits": [_row(v, ids) for v in visits]})
    return out


ROWS = [["走访 甲", "T01D1V1", "来访", "独居老人请求上门", "上门走访"],
        ["走访 乙", "东湖镇/东湖第一管区/郭岭村", "来电", "", "电话回访"],
        ["走访 丙", "T01D1V3", "热线转办", "邻里纠纷回访", "home"],
        ["走访 丁", "T01D1V1", "网上", "", "phone"],
        ["走访 戊", "T01D1V2", "来访", "孤寡老人", "上门走访"],
        ["走访 己", "T01D1V1", "来信", "", "上门走访"],
        ["走访 庚", "T01D1V3", "网格上报", "独居", "电话回访"]]
API = [dict(channel=c, content=t, details={"visit_kind": k}) for c, t, k in
       [("visit", "独居老人请求上门", "home"), ("call", "", "phone"), ("hotline", "邻里纠纷回访", "home"),
        ("online", "", "phone"), ("visit", "孤寡老人", "home"), ("letter", "", "home"), ("grid", "独居", "phone")]]
PLACES = ["T01D1V1", "T01D1V2", "T01D1V3", "T01D1V1", "T01D1V2", "T01D1V1", "T01D1V3"]


def test_bulk_import_writes_what_registering_one_by_one_writes(app, county, login, db, monkeypatch):
    """The bulk path (chunks of 3 here) leaves the same cases, events, limits, module rows and
    tallies as the same cases registered one by one through the API; the audit chain verifies,
    with one entry for the import instead of one per row; search finds the imported cases."""
    monkeypatch.setattr(ledgers, "BATCH", 3)
    town = login(county, "donghu.admin")
    with time_machine.travel(WHEN, tick=False):
        job = _import(app, town, _xlsx(ROWS))
        assert job["state"] == "done", job
        for (title, *_), place, extra in zip(ROWS, PLACES, API):
            register(town, county.unit(place), title, **extra)
    with db.transaction(county.id) as s:
        ids = list(s.scalars(select(Case.id).order_by(Case.number)))
        numbers = list(s.scalars(select(Case.number).order_by(Case.number)))
        assert len(ids) == 14 and numbers[0].endswith("00001") and numbers[-1].endswith("00014")
        imported, one_by_one = _written(s, ids[:7]), _written(s, ids[7:])
        assert imported == one_by_one
        assert [w["limits"][0]["rule"] for w in imported] == ["accept"] * 7  # started, as at the window
        # the tallies: every unit's count is the count of its rows
        stored = {(u, t, st): n for u, t, st, n in s.execute(
            select(CaseTally.org_unit_id, CaseTally.case_type, CaseTally.state, CaseTally.n)) if n}
        counted = {(u, t, st): n for u, t, st, n in s.execute(
            select(Case.org_unit_id, Case.case_type, Case.state, func.count()).group_by(
                Case.org_unit_id, Case.case_type, Case.state))}
        assert stored == counted and sum(stored.values()) == 14
        # … and the month tally and the top units' tally too (tally.count_cases)
        from core.cases import tally
        from core.cases.models import CaseMonthTally, CaseTopTally
        assert {tuple(r[:-1]): r[-1] for r in s.execute(select(
            CaseMonthTally.org_unit_id, CaseMonthTally.case_type, CaseMonthTally.month, CaseMonthTally.state,
            CaseMonthTally.n)) if r[-1]} == tally.scan_cases(s)
        assert {tuple(r[:-1]): r[-1] for r in s.execute(select(
            CaseTopTally.top_id, CaseTopTally.case_type, CaseTopTally.month, CaseTopTally.state,
            CaseTopTally.n)) if r[-1]} == tally.scan_top(s, tally.scan_cases(s))
        # the audit: the chain verifies; the import is one entry naming what it wrote
        assert audit.verify(s, county.id).ok
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "ledger_import")).all()
        assert len(entries) == 1 and entries[0].object_id == str(job["id"])
        assert entries[0].actor == "user:donghu.admin"
        summary = entries[0].changes
        assert summary["cases"] == 7 and summary["numbers"] == [numbers[0], numbers[6]]
        assert sorted(i for a, b in summary["case_ids"] for i in range(a, b + 1)) == sorted(ids[:7])
        assert summary["rows"] == {"case_deadline": 7, "case_event": 7, "case_record": 7, "visits_visit": 7}
        rows_audited = set(s.scalars(select(AuditEntry.object_id).where(AuditEntry.object_type == "case_record",
                                                                       AuditEntry.action == "create")))
        assert rows_audited == {str(i) for i in ids[7:]}  # the one-by-one cases, each its own entry
    found = town.all_items(f"/api/cases?case_type={VISIT}&q=独居")
    assert {c["number"] for c in found} == {numbers[0], numbers[6], numbers[7], numbers[13]}


def test_more_than_5000_rows_import_in_chunks(app, county, login, db):
    """The old 5,000-row cap is gone: 5,001 rows import in one go, numbered in order."""
    town = login(county, "donghu.admin")
    rows = [[f"走访 {i}", ["T01D1V1", "T01D1V2", "T01D1V3"][i % 3], "来访", "", "上门走访"] for i in range(5001)]
    job = _import(app, town, _xlsx(rows))
    assert job["state"] == "done", job
    assert job["done"] == job["total"] == 10002 and job["percent"] == 100
    with db.transaction(county.id) as s:
        got = s.execute(select(Case.number, Case.title).order_by(Case.number)).all()
        assert len(got) == 5001 and [t for _, t in got[:3]] == ["走访 0", "走访 1", "走访 2"]
        assert got[-1][1] == "走访 5000" and got[-1][0].endswith("05001")
        assert s.scalar(select(func.count()).select_from(CaseEvent)) == 5001
        assert audit.verify(s, county.id).ok


def test_a_file_over_the_configured_bound_fails_naming_it(app, county, login, db, monkeypatch):
    """PINGAN_IMPORT_MAX_ROWS: one row more and the job fails at that row, with a machine code
    and the bound in the message; nothing is written."""
    monkeypatch.setattr(pingan(app).config, "import_max_rows", 4)
    town = login(county, "donghu.admin")
    job = _import(app, town, _xlsx([["走访", "T01D1V1", "", "", "home"]] * 5))
    assert job["state"] == "failed"
    assert "超过 4 行" in job["message"] and "未导入任何事项" in job["message"]
    assert job["errors"] == [{"row": 6, "column": None, "code": "too_many_rows", "message": job["message"]}]
    job = _import(app, town, _xlsx([["走访", "T01D1V1", "", "", "home"]] * 4))
    assert job["state"] == "done", job
    with db.transaction(county.id) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 4
    assert "最多 4 行" in ledgers_template_notes(town)


def ledgers_template_notes(client) -> str:
    from openpyxl import load_workbook
    r = client.get(f"/api/ledgers/templates/{VISIT}")
    wb = load_workbook(io.BytesIO(r.data))
    return " ".join(str(c.value) for row in wb["填写说明"].iter_rows() for c in row if c.value)


def test_progress_moves_while_checking_and_while_writing(app, county, login, db, monkeypatch):
    """The bar moves after every chunk checked and (on PostgreSQL, where another transaction
    may write while the import's is open) every chunk written."""
    monkeypatch.setattr(ledgers, "BATCH", 2)
    seen = []
    original = ledgers._Run.progress

    def watch(self, done, total=None, message=None):
        original(self, done, total, message)
        with db.transaction(self.tenant_id) as s:  # what another request sees now
            from core.models import JobRun
            job = s.scalar(select(JobRun).where(JobRun.id == self.job_id))
            seen.append((ledgers.percent(job), job.message))
    monkeypatch.setattr(ledgers._Run, "progress", watch)
    town = login(county, "donghu.admin")
    rows = [[f"走访 {i}", "T01D1V1", "", "", "home"] for i in range(7)]
    job = _import(app, town, _xlsx(rows, write_only=False))  # the sheet declares its size: A1:E8
    assert job["state"] == "done", job
    checking = [p for p, m in seen if m and m.startswith("已校验")]
    assert checking == [14, 28, 42, 50]  # 2, 4, 6, 7 of 7 rows checked: the first half of the bar
    if db.dialect != "sqlite":
        writing = [p for p, m in seen if m and m.startswith("已登记")]
        assert writing == [64, 78, 92, 99]  # 2, 4, 6, 7 rows written (done: 100)


def test_the_modules_hear_each_imported_cases_registered_event(app, county, login, db, monkeypatch):
    """The bulk path builds event objects only for the modules that hear them: each enabled
    module implementing pingan_case_event gets every imported case with its stored event."""
    from core.plugins import PluginHost
    monkeypatch.setattr(ledgers, "BATCH", 3)
    heard, original = [], PluginHost.case_event

    def watch(self, session, enabled, case, event):
        heard.append((case.id, case.number, event.id, event.case_id, event.kind, event.to_state,
                      event.org_unit_id, dict(event.data)))
        original(self, session, enabled, case, event)
    monkeypatch.setattr(PluginHost, "case_event", watch)
    town = login(county, "donghu.admin")
    with time_machine.travel(WHEN, tick=False):
        job = _import(app, town, _xlsx(ROWS))
    assert job["state"] == "done", job
    with db.transaction(county.id) as s:
        stored = {e.id: (e.case_id, e.kind, e.to_state, e.org_unit_id, e.data) for e in s.scalars(select(CaseEvent))}
        cases = {c.id: c.number for c in s.scalars(select(Case))}
    assert len(heard) == len(ROWS) == len(stored)
    for case_id, number, event_id, event_case, kind, to_state, unit, data in heard:
        assert stored[event_id] == (case_id, kind, to_state, unit, data) and event_case == case_id
        assert cases[case_id] == number and kind == "registered"
    assert len({h[2] for h in heard}) == len(ROWS)          # one event each, not one shared


def test_a_row_refused_while_writing_rolls_back_everything_and_is_named(app, county, login, db, monkeypatch):
    """A unit retired between the check and the writing: that row is named, nothing is written
    (the chunks written before it roll back with it)."""
    monkeypatch.setattr(ledgers, "BATCH", 2)
    original = ledgers._register_all

    def retire_then_write(run, ctype, rows, total):
        with db.transaction(county.id) as s:
            unit = s.scalar(select(OrgUnit).where(OrgUnit.id == county.unit("T01D1V2")))
            unit.status = "retired"
        original(run, ctype, rows, total)
    monkeypatch.setattr(ledgers, "_register_all", retire_then_write)
    town = login(county, "donghu.admin")
    rows = [["走访 1", "T01D1V1", "", "", "home"]] * 4 + [["走访 5", "T01D1V2", "", "", "home"]]
    job = _import(app, town, _xlsx(rows))
    assert job["state"] == "failed" and "第 6 行" in job["message"], job
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(6, "发生地")]
    with db.transaction(county.id) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
        assert s.scalar(select(func.count()).select_from(CaseTally).where(CaseTally.n != 0)) == 0
        assert audit.verify(s, county.id).ok


def test_bulk_registration_keeps_nothing_of_a_written_chunk_in_the_session(app, county, db):
    """Flat memory: what a chunk wrote leaves the session, and ids come one reservation per flush."""
    from core.authz import load_grants
    from core.cases import bulk
    from core.cases.timeline import Work
    from core.context import Actor, acting_as
    from core.models import User
    state = pingan(app)
    statements = []
    with bind_tenant(county.id), acting_as(Actor(None, "test")), db.transaction(county.id) as s:
        user = s.scalar(select(User).where(User.username == "donghu.admin"))
        w = Work(s, state.plugins, state.plugins.enabled(s, county.id), load_grants(s, user.id), user)
        registrar = bulk.Registrar(w, state.plugins.case_types[VISIT])
        from sqlalchemy import event as sa_event
        conn = s.connection()
        sa_event.listen(conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
        rows = [{"title": f"走访 {i}", "content": "", "channel": None, "org_unit_id": county.unit("T01D1V1"),
                 "details": {"visit_kind": "home"}} for i in range(50)]
        registrar.add(rows)
        assert len(s.identity_map) == 0
        # one id reservation per flush (cases; then events, limits and the module's rows), one
        # multi-row INSERT (or executemany) per table: far from 50 × 4 statements
        assert len(statements) < 20, statements
        summary = registrar.finish()
        assert summary["cases"] == 50 and summary["rows"]["case_record"] == 50


def test_the_sheet_reader_reads_what_openpyxl_reads(tmp_path):
    """core.ledgers.SheetReader (expat, streamed) gives openpyxl's read-only values: shared and
    inline strings, rich text, numbers, booleans, dates by their style (1900 and 1904), formulas'
    saved values, gaps in rows and columns."""
    from openpyxl import load_workbook
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont
    for date1904 in (False, True):
        wb = Workbook()
        wb.epoch = __import__("openpyxl").utils.datetime.MAC_EPOCH if date1904 else wb.epoch
        ws = wb.active
        ws.append(["标题", "数", "日期", "时间", "是否"])
        ws.append(["走访 =1+1", 42, dt.date(2026, 11, 20), dt.datetime(2026, 11, 20, 10, 30), True])
        ws.append(["小数", 3.25, None, dt.time(8, 15), False])
        ws["A5"] = CellRichText(["富", TextBlock(InlineFont(b=True), "文本")])
        ws["C5"] = "=1+1"
        ws["G5"] = "远处的格"
        ws["B7"] = -7
        path = tmp_path / f"cells{int(date1904)}.xlsx"
        wb.save(path)
        want = [tuple(r) for r in load_workbook(path, read_only=True, data_only=True).worksheets[0]
                .iter_rows(values_only=True)]
        with open(path, "rb") as f:
            reader = ledgers.SheetReader(f)
            got = dict(reader.rows())
            reader.close()
        for number, row in enumerate(want, start=1):
            mine = got.get(number, ())
            assert tuple(mine) + (None,) * (len(row) - len(mine)) == tuple(row), (number, mine, row)
        assert reader.declared == 7


def test_a_workbook_with_a_dtd_is_refused(app, county, login, db):
    """No entity expansion (billion laughs): a part with a DTD makes the file unreadable."""
    import zipfile
    town = login(county, "donghu.admin")
    buf = io.BytesIO(_xlsx([["走访", "T01D1V1", "", "", "home"]]))
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                dtd = b'<!DOCTYPE x [<!ENTITY a "aaaa">]>'
                data = data.replace(b"?>", b"?>" + dtd, 1) if data.startswith(b"<?xml") else dtd + data
            dst.writestr(item, data)
    job = _import(app, town, out.getvalue())
    assert job["state"] == "failed" and "无法读取" in job["message"], job
    with db.transaction(county.id) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
