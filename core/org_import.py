"""Adding many org units at once from an Excel sheet (ORG-1), for the admin console.

The sheet has the columns of ``org_units.csv`` (``code, parent_code, level, name``, or their
Chinese titles 编码, 上级编码, 层级, 名称). Every row is a NEW unit; its parent is a unit
already in the county (by code) or another row of the same sheet. Every row is checked first
and every error collected as ``{"row": 7, "column": "上级编码", "message": "…"}`` (the sheet's
row number); one error and nothing is written. Otherwise the units are created parents first
through ``core.orgtree.create_unit`` (the same rules as ``POST /api/org-units``) in the
caller's transaction, each creation audited on flush. Small enough to run in the request: a
county has thousands of units, and ``MAX_ROWS`` caps a sheet.
"""
from __future__ import annotations

import io
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import orgtree
from core.authz import Grants
from core.errors import PinganError
from core.ledgers import ImportColumn, JobFailed, _err, _text, append_row, read_sheet
from core.models import OrgLevel, OrgUnit

MAX_ROWS = 5000
COLUMNS = [ImportColumn("code", "编码", True, "必填，本县唯一，例如 T01D1V9"),
           ImportColumn("parent_code", "上级编码", True, "必填：已有单位或本表另一行的编码"),
           ImportColumn("level", "层级", True, "必填：本县配置的层级，例如 village"),
           ImportColumn("name", "名称", True, "必填，不超过 100 个字")]


class ImportRejected(PinganError):
    """The sheet has errors; nothing was written. ``rows`` lists them."""

    status, code, message = 422, "import_rejected", "导入文件有错误，未导入任何单位"

    def __init__(self, rows: list[dict], message: str | None = None) -> None:
        super().__init__(message=message or self.message)
        self.rows = rows


def template() -> bytes:
    """An empty sheet with the header and a note row per column."""
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = "组织架构"
    append_row(ws, [c.title for c in COLUMNS])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def import_units(session: Session, grants: Grants, perm: str, upload: BinaryIO) -> list[OrgUnit]:
    """Create the sheet's units (parents first) or raise ``ImportRejected`` with every row's error."""
    try:
        at, data, errors = read_sheet(upload, COLUMNS)
    except JobFailed as exc:
        raise ImportRejected(exc.errors, exc.message) from None
    if len(data) > MAX_ROWS:
        raise ImportRejected([_err(1, None, f"超过 {MAX_ROWS} 行，请拆分后分批导入")])
    if not data and not errors:
        errors.append(_err(2, None, "表格中没有数据行"))
    levels = dict(session.execute(select(OrgLevel.key, OrgLevel.rank)).all())
    existing = {u.code: u for u in session.scalars(select(OrgUnit).where(OrgUnit.code.is_not(None)))}
    rows: dict[str, dict] = {}
    for number, values in data:
        row = {c.key: _text(values[i]) if i < len(values) else "" for i, c in at.items()}
        row["number"] = number
        code = row.get("code", "")
        for c in COLUMNS:
            if c.key in row and not row[c.key]:
                errors.append(_err(number, c.title, "必填"))
        if len(row.get("name", "")) > 100:
            errors.append(_err(number, "名称", "名称不超过 100 个字"))
        if len(code) > 32:
            errors.append(_err(number, "编码", "编码不超过 32 个字符"))
        if row.get("level") and row["level"] not in levels:
            errors.append(_err(number, "层级", f"层级“{row['level']}”未在本县配置中定义"))
        if code in existing:
            owner = f"单位“{existing[code].name}”" if grants.covers(perm, existing[code].path) else "其他单位"
            errors.append(_err(number, "编码", f"编码 {code} 已被{owner}使用"))
        elif code in rows:
            errors.append(_err(number, "编码", f"编码 {code} 重复（首次出现于第 {rows[code]['number']} 行）"))
        elif code:
            rows[code] = row
    for code, row in rows.items():  # parents: in the county (and yours to manage) or in the sheet
        parent_code, number = row.get("parent_code", ""), row["number"]
        if not parent_code:
            continue
        parent = existing.get(parent_code)
        if parent is not None:
            if parent.status != "active":
                errors.append(_err(number, "上级编码", f"上级单位“{parent.name}”已撤销"))
            elif not grants.covers(perm, parent.path):
                errors.append(_err(number, "上级编码", f"上级单位 {parent_code} 不在您可维护的范围内"))
            parent_level = parent.level
        elif parent_code in rows:
            parent_level = rows[parent_code].get("level")
        else:
            errors.append(_err(number, "上级编码", f"上级编码 {parent_code} 既不是已有单位，也不在本表中"))
            continue
        if row.get("level") in levels and parent_level in levels and levels[row["level"]] <= levels[parent_level]:
            errors.append(_err(number, "层级", "下级单位的层级必须低于上级单位"))
    order = _parents_first(rows, existing, errors)
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: (e["row"], e["column"] or "")))
    created: dict[str, OrgUnit] = {}
    for code in order:
        row = rows[code]
        parent = existing.get(row["parent_code"]) or created[row["parent_code"]]
        try:
            created[code] = orgtree.create_unit(session, parent=parent, name=row["name"], level=row["level"],
                                                code=code)
        except PinganError as exc:  # checked above; a rule of create_unit not mirrored here still names its row
            raise ImportRejected([_err(row["number"], None, exc.message)]) from None
    return list(created.values())


def _parents_first(rows: dict[str, dict], existing: dict, errors: list[dict]) -> list[str]:
    """The sheet's codes ordered so a parent comes before its children; a cycle is an error."""
    order, state = [], {}
    for start in rows:
        chain = []
        code = start
        while code in rows and code not in state:
            state[code] = "visiting"
            chain.append(code)
            code = rows[code].get("parent_code", "")
        if state.get(code) == "visiting" and code in rows:
            errors.append(_err(rows[code]["number"], "上级编码", "上级关系形成循环"))
        for c in reversed(chain):
            state[c] = "done"
            order.append(c)
    return order
