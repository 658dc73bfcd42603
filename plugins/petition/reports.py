"""Monthly petition statistics (信访工作月报): by unit, category and form, with the on-time,
satisfaction and repeat rates and the level-skipping records against quota; as JSON and as
an Excel workbook.

Petitions count where they arose (``Case.org_unit_id``), in the subtree of the unit asked
about, registered in the month (local time, Asia/Shanghai). Definitions:

- **on time**: closed with every case limit met; **late**: a limit missed, or still open past
  a limit (an open overdue petition counts as late, not as pending); on-time rate =
  on time / (on time + late); open petitions within their limits are not yet counted.
- **satisfaction**: (满意 + 基本满意) / rated; a rating flagged ``rating_internal`` (given from
  inside the county network, see ``status.rating_channel``) is not counted until checked;
- **repeat rate**: petitions recognised as repeats (PET-6) / received.
"""
from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select

from core.sdk import Case, CaseDeadline, CaseFlag, Invalid, OrgUnit, utcnow, within, xlsx_append

from . import quotas
from .cases import FORMS, KEY
from .models import PetitionCase

SHANGHAI = ZoneInfo("Asia/Shanghai")
COLUMNS = (("received", "受理数"), ("closed", "办结数"), ("on_time", "按期"), ("late", "超期"),
           ("on_time_percent", "按期率%"), ("rated", "评价数"), ("satisfied_percent", "满意率%"),
           ("repeats", "重复信访"), ("repeat_percent", "重复率%"), ("collective", "集体访"))


def month_range(month: str) -> tuple[dt.datetime, dt.datetime]:
    try:
        year, mon = int(month[:4]), int(month[5:7])
        if len(month) != 7 or month[4] != "-":
            raise ValueError
        start = dt.date(year, mon, 1)
    except ValueError:
        raise Invalid("month", "invalid_month", "月份格式应为 2026-11") from None
    end = dt.date(year + (mon == 12), mon % 12 + 1, 1)
    return (dt.datetime.combine(start, dt.time(), SHANGHAI), dt.datetime.combine(end, dt.time(), SHANGHAI))


def _rows(session, unit: OrgUnit, start: dt.datetime, end: dt.datetime) -> list:
    now = utcnow()
    missed = exists().where(CaseDeadline.case_id == Case.id, CaseDeadline.task_id.is_(None),
                            ((CaseDeadline.state == "stopped") & (CaseDeadline.met.is_(False)))
                            | ((CaseDeadline.state == "running") & (CaseDeadline.due_at < now)))
    collective = exists().where(CaseFlag.case_id == Case.id, CaseFlag.flag == "collective")
    internal = exists().where(CaseFlag.case_id == Case.id, CaseFlag.flag == "rating_internal")
    stmt = (select(OrgUnit.path, PetitionCase.form, PetitionCase.category, Case.closed_at, PetitionCase.repeat_count,
                   PetitionCase.rating, missed.label("late"), collective.label("collective"),
                   internal.label("rating_internal"))
            .join(PetitionCase, PetitionCase.case_id == Case.id)
            .join(OrgUnit, OrgUnit.id == Case.org_unit_id)
            .where(Case.case_type == KEY, within(unit.path), Case.created_at >= start, Case.created_at < end))
    return session.execute(stmt).all()


def _tally(rows) -> dict:
    out = {k: 0 for k, _ in COLUMNS}
    satisfied = 0
    for r in rows:
        out["received"] += 1
        out["closed"] += r.closed_at is not None
        if r.late:
            out["late"] += 1
        elif r.closed_at is not None:
            out["on_time"] += 1
        if r.rating and not r.rating_internal:
            out["rated"] += 1
            satisfied += r.rating in ("satisfied", "basically_satisfied")
        out["repeats"] += bool(r.repeat_count)
        out["collective"] += bool(r.collective)
    judged = out["on_time"] + out["late"]
    out["on_time_percent"] = round(out["on_time"] * 100 / judged, 1) if judged else None
    out["satisfied_percent"] = round(satisfied * 100 / out["rated"], 1) if out["rated"] else None
    out["repeat_percent"] = round(out["repeats"] * 100 / out["received"], 1) if out["received"] else None
    return out


def monthly(session, unit: OrgUnit, month: str, settings: dict) -> dict:
    """The month's figures for ``unit``'s subtree, per child unit, category and form."""
    start, end = month_range(month)
    rows = _rows(session, unit, start, end)
    children = session.execute(select(OrgUnit.id, OrgUnit.name, OrgUnit.path).where(OrgUnit.parent_id == unit.id)
                               .order_by(OrgUnit.id)).all()
    by_unit = []
    for cid, name, path in children:
        by_unit.append({"key": str(cid), "label": name, **_tally([r for r in rows if r.path.startswith(path)])})
    own = [r for r in rows if r.path == unit.path]
    if own:
        by_unit.append({"key": str(unit.id), "label": f"{unit.name}（本级）", **_tally(own)})
    titles = {c["key"]: c["title"] for c in settings.get("categories") or []}
    by_category = [{"key": k, "label": titles.get(k, k), **_tally([r for r in rows if r.category == k])}
                   for k in sorted({r.category for r in rows}, key=lambda k: list(titles).index(k) if k in titles else 999)]
    by_form = [{"key": k, "label": v[0], **_tally([r for r in rows if r.form == k])}
               for k, v in FORMS.items() if any(r.form == k for r in rows)]
    period = quotas.period_of(start.date(), settings.get("quota_period", "year"))
    kids = session.scalars(select(OrgUnit).where(OrgUnit.parent_id == unit.id).order_by(OrgUnit.id)).all()
    return {"org_unit_id": unit.id, "unit_name": unit.name, "month": month, "total": _tally(rows),
            "by_unit": by_unit, "by_category": by_category, "by_form": by_form,
            "quota_period": period, "quotas": quotas.usage(session, [unit, *kids], period, settings)}


def columns(settings: dict) -> list[tuple[str, str]]:
    """The county's ledger layout (``report_columns``: which figures, in which order, under which
    headings), or every figure under its default heading."""
    chosen = settings.get("report_columns") or []
    defaults = dict(COLUMNS)
    return [(c["key"], c.get("title") or defaults[c["key"]]) for c in chosen] or list(COLUMNS)


def workbook(report: dict, county: str, layout: list[tuple[str, str]] | None = None) -> bytes:
    """The report as .xlsx: one sheet per grouping (in the county's layout), then the quota sheet."""
    layout = layout or list(COLUMNS)
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    wb.remove(wb.active)
    heading = f"{county} {report['unit_name']} 信访工作月报（{report['month']}）"
    for title, key, first in (("按单位", "by_unit", "单位"), ("按分类", "by_category", "分类"), ("按信访形式", "by_form", "形式")):
        ws = wb.create_sheet(title)
        xlsx_append(ws, [heading])
        ws["A1"].font = Font(bold=True, size=14)
        xlsx_append(ws, [first, *(label for _, label in layout)])
        for row in [*report[key], {"label": "合计", **report["total"]}]:
            xlsx_append(ws, [row["label"], *(row[k] for k, _ in layout)])
        ws.column_dimensions["A"].width = 24
        for cell in ws[2]:
            cell.font, cell.alignment = Font(bold=True), Alignment(horizontal="center")
    ws = wb.create_sheet("越级访与上访指标")
    xlsx_append(ws, [f"{heading} — 指标期间 {report['quota_period']}"])
    ws["A1"].font = Font(bold=True, size=14)
    xlsx_append(ws, ["单位", "类别", "指标", "已发生", "是否突破"])
    for q in report["quotas"]:
        xlsx_append(ws, [q["unit_name"], q["kind_title"], q["quota"], q["used"], "突破" if q["breached"] else ""])
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 18
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
