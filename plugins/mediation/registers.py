"""The three ledgers (三本台账, MED-6; seed 000 doc 5): unstable factors, production safety
hazards and public-order problems — entries a centre keeps, exported in the ledger layout."""
from __future__ import annotations

import datetime as dt
import io

from sqlalchemy import select

from zoneinfo import ZoneInfo

from core.sdk import (Case, Conflict, Invalid, NotFound, OrgUnit, get_or_404, unit_or_404, units_under,
                      utcnow, xlsx_append)

from .models import RegisterEntry
from .permissions import REGISTER_MANAGE

SHANGHAI = ZoneInfo("Asia/Shanghai")

KINDS = {"unstable": "不稳定因素台账", "safety": "生产安全隐患台账", "public_order": "治安问题台账"}
COLUMNS = (("found_on", "发现日期"), ("unit", "所在单位"), ("description", "情况"), ("measures", "措施"),
           ("responsible", "责任人"), ("status", "状态"), ("resolved_on", "化解（整改）日期"))
STATUS = {"open": "未化解", "resolved": "已化解"}


def entries(session, kind: str, unit: OrgUnit, status: str | None = None) -> list[dict]:
    q = (select(RegisterEntry, OrgUnit.name).join(OrgUnit, OrgUnit.id == RegisterEntry.org_unit_id)
         .where(RegisterEntry.kind == kind, RegisterEntry.org_unit_id.in_(units_under(unit.path)))
         .order_by(RegisterEntry.found_on.desc(), RegisterEntry.id.desc()))
    if status:
        q = q.where(RegisterEntry.status == status)
    return [{"id": e.id, "kind": e.kind, "org_unit_id": e.org_unit_id, "unit": name, "found_on": e.found_on,
             "description": e.description, "measures": e.measures, "responsible": e.responsible,
             "status": e.status, "status_title": STATUS[e.status], "resolved_on": e.resolved_on,
             "case_id": e.case_id} for e, name in session.execute(q)]


def entry(session, e: RegisterEntry) -> dict:
    unit = session.scalar(select(OrgUnit).where(OrgUnit.id == e.org_unit_id))
    return next(r for r in entries(session, e.kind, unit) if r["id"] == e.id)


def _today() -> dt.date:
    return utcnow().astimezone(SHANGHAI).date()


def add(ctx, kind: str, data: dict) -> RegisterEntry:
    """A new entry on a unit the user manages registers for (404 otherwise)."""
    unit = unit_or_404(data["org_unit_id"], REGISTER_MANAGE)
    if data["found_on"] > _today():
        raise Invalid("found_on", "in_future", "发现日期不能晚于今天")
    if data.get("case_id") is not None and ctx.session.scalar(select(Case.id).where(
            Case.id == data["case_id"], Case.org_unit_id.in_(units_under(unit.path)))) is None:
        raise Invalid("case_id", "case_not_found", "相关事项不存在或不属于该单位")
    row = RegisterEntry(kind=kind, status="open", created_by=ctx.user.id, **data)
    ctx.session.add(row)
    ctx.session.flush()
    return row


def resolve_entry(ctx, kind: str, entry_id, data: dict) -> RegisterEntry:
    e = get_or_404(ctx.session, ctx.grants, RegisterEntry, entry_id, REGISTER_MANAGE)
    if e.kind != kind:
        raise NotFound()
    if data["resolved_on"] > _today():
        raise Invalid("resolved_on", "in_future", "化解日期不能晚于今天")
    resolve(e, data["resolved_on"], data.get("measures"))
    return e


def resolve(entry: RegisterEntry, on: dt.date, measures: str | None) -> None:
    if entry.status == "resolved":
        raise Conflict("already_resolved", "该条目已化解（整改）")
    if on < entry.found_on:
        raise Conflict("before_found", "化解日期不能早于发现日期")
    entry.status, entry.resolved_on = "resolved", on
    if measures:
        entry.measures = measures


def workbook(kind: str, rows: list[dict], county: str, unit_name: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = KINDS[kind][:31]
    xlsx_append(ws, [f"{county} {unit_name} {KINDS[kind]}"])
    ws["A1"].font = Font(bold=True, size=14)
    xlsx_append(ws, ["序号", *(title for _, title in COLUMNS)])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for i, r in enumerate(rows, 1):
        xlsx_append(ws, [i, *(r["status_title"] if k == "status" else r[k] for k, _ in COLUMNS)])
    for col, width in zip("ABCDEFGH", (6, 12, 16, 40, 30, 12, 8, 14)):
        ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
