"""For the data-protection officer: who read which key-person records and why (from the audit
log's ``read_sensitive`` entries, each with its purpose), and the watermarked export.

The readers' report names the record by its id and the person's masked name, never the
category; it covers the records of the units where the officer holds ``keypersons.readers``.
The export needs ``keypersons.export`` besides the categories' read permission; every sheet
carries the exporter and the time (the watermark), and the export is audited.
"""
from __future__ import annotations

import datetime as dt
import io

from sqlalchemy import select

from core.sdk import (AuditEntry, OrgUnit, Person, local_time, may, period_moment, record, utcnow, xlsx_append)

from .categories import RISK_LEVELS, title_of
from .figures import day_after
from .models import KeyPerson
from .permissions import READERS
from .records import list_page, mask_name, visible
from .settings import purposes

REPORT_LIMIT = 5000
EXPORT_LIMIT = 50000


def readers(session, grants, settings: dict, start: dt.date, end: dt.date) -> list[dict]:
    """Reads of records in the officer's units, newest first (at most ``REPORT_LIMIT``)."""
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "read_sensitive", AuditEntry.object_type == KeyPerson.__tablename__,
        AuditEntry.at >= period_moment(start), AuditEntry.at < period_moment(day_after(end)))
        .order_by(AuditEntry.id.desc()).limit(REPORT_LIMIT)).all()
    ids = {int(e.object_id) for e in entries if e.object_id and e.object_id.isdigit()}
    recs = {r.id: r for r in session.scalars(select(KeyPerson).where(KeyPerson.id.in_(ids)))} if ids else {}
    names = dict(session.execute(select(Person.id, Person.name).where(
        Person.id.in_({r.person_id for r in recs.values() if r.person_id}))).all()) if recs else {}
    units = dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_({r.org_unit_id for r in recs.values()}))).all()) if recs else {}
    known = purposes(settings)
    out = []
    for e in entries:
        rec = recs.get(int(e.object_id)) if e.object_id and e.object_id.isdigit() else None
        if rec is None or not may(session, grants, READERS, rec.org_unit_id):
            continue
        purpose = (e.changes or {}).get("purpose")
        out.append({"at": e.at, "reader": e.actor, "record_id": rec.id,
                    "name": "（已匿名）" if rec.anonymised_at else mask_name(names.get(rec.person_id)),
                    "org_unit_name": units.get(rec.org_unit_id, ""), "purpose": purpose,
                    "purpose_title": known.get(purpose, purpose or "")})
    return out


def export(session, grants, settings: dict, exporter: str) -> tuple[bytes, int]:
    """The records the user may read, as .xlsx, watermarked with the exporter and the time."""
    from openpyxl import Workbook
    rows = session.scalars(select(KeyPerson).where(KeyPerson.anonymised_at.is_(None), visible(grants, settings))
                           .order_by(KeyPerson.id).limit(EXPORT_LIMIT)).all()
    items = list_page(session, grants, rows, settings)
    stamp = f"导出人：{exporter}　导出时间：{local_time(utcnow())}　仅限工作使用，不得外传"
    wb = Workbook()
    ws = wb.active
    ws.title = "重点人员"
    ws.oddHeader.center.text = ws.oddFooter.center.text = stamp   # printed on every page
    wb.properties.creator, wb.properties.description = exporter, stamp
    xlsx_append(ws, [stamp])
    xlsx_append(ws, ["姓名", "类别", "责任单位", "风险等级", "下次走访期限", "走访逾期", "撤销列管日期"])
    for i in items:
        xlsx_append(ws, [i["name"], title_of(i["category"], settings), i["org_unit_name"],
                         RISK_LEVELS.get(i["risk_level"], ""), i["next_visit_due"].isoformat() if i["next_visit_due"] else "",
                         "是" if i["overdue"] else "否", i["ended_on"].isoformat() if i["ended_on"] else ""])
    xlsx_append(ws, [stamp])
    buf = io.BytesIO()
    wb.save(buf)
    record(session, "keypersons.export", "keypersons_record", None, {"rows": len(items)})
    return buf.getvalue(), len(items)
