"""Registers of records on org units (登记簿): declared once, served by the core (issue 16, item 4).

A register is a plugin's table of records, each on one org unit of the county — greetings sent,
hazards found, visits made — that people create, list within their subtree, filter, close and
export. The plugin writes the model (a :class:`RegisterRecord`: its own columns plus the ones
every register has) and declares a :class:`Register`; ``core.api.registers`` and
``core.web.registers`` build its API and its page from the declaration, and ``core.manifest``
contributes them. Everything here is the domain part: the scope, the filters, the acts and the
rows of the export — the one implementation both the API and the page call.

Scope is the usual one (``core.authz``): a list is ``scoped`` by the path predicate of the
caller's subtrees (never id lists, never ``LIKE``), one record is ``get_or_404`` (missing, other
county and out of scope are the same 404), and every unit or person id a write names is checked
against the write permission's scope. Row changes are audited by the flush (``core.audit``); the
words for them come from :meth:`Register.audit_labels`.
"""
from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from marshmallow import fields as mfields, validate
from sqlalchemy import BigInteger, Index, Select, func, select
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from core.audit_labels import AuditLabels, Label
from core.authz import Grants, get_or_404, named_unit, require, scoped
from core.db import AwareDateTime, TenantModel, tenant_fk, utcnow
from core.errors import Conflict, Invalid, NotFound
from core.models import OrgUnit, Person
from core.orgtree import units_under
from core.plugins import Indicator
from core.timefmt import period_moment

SHANGHAI = ZoneInfo("Asia/Shanghai")
STATUS: dict[str, tuple[str, str]] = {"open": ("在办", "Open"), "closed": ("已办结", "Closed")}
STANDARD_LABELS: dict[str, tuple[str, str]] = {
    "org_unit": ("所属单位", "Unit"), "status": ("状态", "Status"), "created_at": ("登记时间", "Registered at"),
    "closed_at": ("办结时间", "Closed at"), "id": ("编号", "No.")}
EXPORT_MAX_ROWS = 50_000  # a bigger register is exported by the ledger job, not in a request
BATCH = 1000


class RegisterRecord(TenantModel):
    """Base of a register's table: the columns every register has.

    ``org_unit_id`` (the unit the record is on: who may see it), ``created_at`` and
    ``created_by_id``, ``closed_at`` and ``closed_by_id`` (the close act; open while
    ``closed_at`` is null). Foreign keys carry ``tenant_id``; the index serves the scoped,
    newest-first list. Subclass it with ``__tablename__ = "<plugin>_…"`` and your own columns.
    """

    __abstract__ = True
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)
    closed_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(BigInteger)

    @staticmethod
    def keys(model) -> tuple:
        """The keys every register's table has; a model with keys of its own adds to them::

            @declared_attr.directive
            def __table_args__(cls):
                return (*RegisterRecord.keys(cls), UniqueConstraint("tenant_id", "code"))
        """
        return (tenant_fk("org_unit_id", "org_unit"), tenant_fk("created_by_id", "app_user"),
                tenant_fk("closed_by_id", "app_user"),
                Index(f"ix_{model.__tablename__}_unit", "tenant_id", "org_unit_id", "created_at"))

    @declared_attr.directive
    def __table_args__(cls) -> tuple:  # noqa: N805 (SQLAlchemy's declared_attr takes the class)
        return RegisterRecord.keys(cls)


def label_text(label: Label, locale_pick: Callable[[str, str | None], str] | None = None) -> str:
    zh, en = (label, None) if isinstance(label, str) else label
    return locale_pick(zh, en) if locale_pick else zh


def _pair(label: Label) -> tuple[str, str]:
    return (label, label) if isinstance(label, str) else (label[0], label[1])


@dataclass(frozen=True)
class Register:
    """A register of records on org units, declared once.

    - ``name``: its URL part, ``/api/<plugin>/<name>`` and ``/<plugin>/<name>``.
    - ``title``: "问候登记" or ("问候登记", "Greetings"); ``model``: a :class:`RegisterRecord`.
    - ``read`` / ``write``: the permissions to see records and to create and close them.
    - ``fields``: what a user fills at creation besides the unit (marshmallow fields with
      ``metadata={"title": …}``; ``OneOf(…, labels=[…])`` for choices). A field named
      ``…unit_id`` or ``…person_id`` is checked against the ``write`` scope (404 at the field).
    - ``columns``: (key, label) of the list, the page and the export; keys are model columns
      or ``org_unit``, ``status``.
    - ``filters``: fields a list may be filtered by (equality); every list also takes ``under``
      (a unit's subtree), ``status`` (open, closed) and ``created_from`` / ``created_to``
      (Beijing dates, both included).
    - ``close_fields``: what the close act takes (empty: a bare close); ``close_title`` its name.
    - ``on_create(ctx, record, data)``: fill computed columns or refuse (raise a ``PinganError``);
      ``on_close(ctx, record, data)`` the same for the close act.
    """

    name: str
    title: Label
    model: type
    read: str
    write: str
    fields: Mapping[str, mfields.Field] = field(default_factory=dict)
    columns: Sequence[tuple[str, Label]] = ()
    filters: Sequence[str] = ()
    close_fields: Mapping[str, mfields.Field] = field(default_factory=dict)
    close_title: Label = ("办结", "Close")
    on_create: Callable | None = None
    on_close: Callable | None = None
    menu_order: int = 100

    def __post_init__(self) -> None:
        if not (isinstance(self.model, type) and issubclass(self.model, RegisterRecord)):
            raise ValueError(f"register {self.name!r}: model must derive from RegisterRecord")
        table = self.model.__table__
        known = set(table.c.keys()) | {"org_unit", "status"}
        for key, _ in self.columns:
            if key not in known:
                raise ValueError(f"register {self.name!r}: column {key!r} is not a column of {table.name}")
        for key in (*self.fields, *self.close_fields):
            if key not in table.c:
                raise ValueError(f"register {self.name!r}: field {key!r} is not a column of {table.name}")
        for key in self.filters:
            if key not in self.fields:
                raise ValueError(f"register {self.name!r}: filter {key!r} must be one of its fields")

    # --- what a declaration gives ---------------------------------------------------------

    def column_title(self, key: str, locale_pick=None) -> str:
        label = dict(self.columns).get(key) or STANDARD_LABELS.get(key)
        if label is None:
            f = self.fields.get(key) or self.close_fields.get(key)
            label = (f.metadata.get("title") if f is not None else None) or key
        return label_text(label, locale_pick)

    def choice_labels(self, key: str) -> dict:
        """A choice field's stored values → their labels (``OneOf(..., labels=[…])``)."""
        f = self.fields.get(key) or self.close_fields.get(key)
        one_of = next((v for v in (f.validators if f is not None else ()) if isinstance(v, validate.OneOf)), None)
        if one_of is None or not one_of.labels:
            return {}
        return dict(zip(one_of.choices, one_of.labels))

    def audit_labels(self, plugin: str) -> AuditLabels:
        """Words for the audit entries of its rows: the table, every column, the choice values."""
        table = self.model.__table__.name
        labels = {f"{table}.{k}": _pair(v) for k, v in STANDARD_LABELS.items() if k in self.model.__table__.c}
        for key in self.model.__table__.c.keys():
            if key in ("tenant_id", "id") or key.endswith("_id"):
                continue
            labels.setdefault(f"{table}.{key}", _pair(self.column_title(key)))
        values = {f"{table}.{k}": self.choice_labels(k) for k in (*self.fields, *self.close_fields)
                  if self.choice_labels(k)}
        return AuditLabels(object_types={table: _pair(self.title)}, fields=labels, values=values)

    def indicator(self, key: str, title: str, title_en: str = "", unit: str = "条", closed: bool = False):
        """A scoring indicator: the records created (or closed) in a unit's subtree during the
        period; its ``records`` list them (date, unit, the register's name)."""
        model, name = self.model, label_text(self.title)
        column = model.closed_at if closed else model.created_at

        def where(session, unit_id: int, period_start, period_end):
            path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id))
            if path is None:
                return None
            return (model.org_unit_id.in_(units_under(path)), column >= period_moment(period_start),
                    column < period_moment(period_end))

        def compute(session, unit_id: int, period_start, period_end) -> float:
            cond = where(session, unit_id, period_start, period_end)
            return 0.0 if cond is None else float(session.scalar(select(func.count(model.id)).where(*cond)) or 0)

        def records(session, unit_id: int, period_start, period_end) -> list[dict]:
            cond = where(session, unit_id, period_start, period_end)
            if cond is None:
                return []
            rows = session.execute(select(column, OrgUnit.name).join(OrgUnit, OrgUnit.id == model.org_unit_id)
                                   .where(*cond).order_by(column, model.id)).all()
            return [{"date": at, "title": name, "unit": unit_name} for at, unit_name in rows]
        return Indicator(key=key, title=title, title_en=title_en, unit=unit, compute=compute, records=records)


# --- the acts ------------------------------------------------------------------------------------

def _local_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), SHANGHAI).astimezone(dt.timezone.utc)


def query(session, grants: Grants, reg: Register, args: Mapping) -> Select:
    """The caller's records (``read`` scope) narrowed by the list's filters."""
    model = reg.model
    stmt = scoped(select(model), grants, reg.read, model.org_unit_id)
    if args.get("under") is not None:
        root = get_or_404(session, grants, OrgUnit, args["under"], reg.read)
        stmt = stmt.where(model.org_unit_id.in_(units_under(root.path)))
    if args.get("status") == "open":
        stmt = stmt.where(model.closed_at.is_(None))
    elif args.get("status") == "closed":
        stmt = stmt.where(model.closed_at.is_not(None))
    if args.get("created_from") and args.get("created_to") and args["created_from"] > args["created_to"]:
        raise Invalid("created_to", "invalid_range", "结束日期不能早于开始日期", location="query")
    if args.get("created_from"):
        stmt = stmt.where(model.created_at >= _local_start(args["created_from"]))
    if args.get("created_to"):
        stmt = stmt.where(model.created_at < _local_start(args["created_to"] + dt.timedelta(days=1)))
    for key in reg.filters:
        if args.get(key) is not None:
            stmt = stmt.where(getattr(model, key) == args[key])
    return stmt


def _check_refs(session, grants: Grants, perm: str, data: Mapping) -> None:
    """Every unit and person a write names lies in the caller's scope for ``perm`` (404 at the field);
    a person, also where the caller may see people (``core.person.read``), as registering a case asks."""
    for key, value in data.items():
        if value is None:
            continue
        if key.endswith("unit_id"):
            named_unit(session, grants, perm, value, key)
        elif key.endswith("person_id"):
            person = session.scalar(select(Person).where(Person.id == value)) if isinstance(value, int) else None
            path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == person.org_unit_id)) if person else None
            if path is None or not grants.covers(perm, path) or not grants.covers("core.person.read", path):
                message = "人员不存在或不在您的管辖范围内"
                raise NotFound("person_not_found", message, {"json": {key: [message]}})


def create(ctx, reg: Register, data: Mapping):
    """A new record on a unit the caller may write in; every id in ``data`` checked; flushed."""
    require(ctx.grants, reg.write)
    _check_refs(ctx.session, ctx.grants, reg.write, data)
    row = reg.model(**dict(data), created_by_id=ctx.user.id, created_at=utcnow())
    if reg.on_create is not None:
        reg.on_create(ctx, row, data)
    ctx.session.add(row)
    ctx.session.flush()
    return row


def close(ctx, reg: Register, record_id: int, data: Mapping):
    """Close a record the caller may write on: 409 ``already_closed`` the second time."""
    row = get_or_404(ctx.session, ctx.grants, reg.model, record_id, reg.write)
    if row.closed_at is not None:
        raise Conflict("already_closed", f"该记录已于 {row.closed_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} 办结")
    _check_refs(ctx.session, ctx.grants, reg.write, data)
    for key, value in data.items():
        setattr(row, key, value)
    row.closed_at, row.closed_by_id = utcnow(), ctx.user.id
    if reg.on_close is not None:
        reg.on_close(ctx, row, data)
    ctx.session.flush()
    return row


def present(session, rows: Sequence) -> list[dict]:
    """Records as dicts: their columns, the unit's name and the status (one query for the names)."""
    ids = {r.org_unit_id for r in rows}
    names = dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ids))).all()) if ids else {}
    out = []
    for r in rows:
        d = {c.key: getattr(r, c.key) for c in r.__table__.c if c.key != "tenant_id"}
        d["org_unit_name"] = names.get(r.org_unit_id, "")
        d["status"] = "open" if r.closed_at is None else "closed"
        out.append(d)
    return out


def cell(reg: Register, key: str, record: Mapping, locale_pick=None):
    """What a list column shows for one record: the unit's name, the status's words, a choice's label."""
    if key == "org_unit":
        return record["org_unit_name"]
    if key == "status":
        return label_text(STATUS[record["status"]], locale_pick)
    value = record.get(key)
    labels = reg.choice_labels(key)
    return label_text(labels.get(value, value), None) if labels and value is not None else value


# --- the export ----------------------------------------------------------------------------------

def export(session, grants: Grants, reg: Register, args: Mapping) -> Iterator[bytes]:
    """The filtered records as an .xlsx, read in batches into a write-only sheet and streamed
    from a temporary file; text cells are never formulas (``core.ledgers.append_row``)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from core.ledgers import append_row
    stmt = query(session, grants, reg, args)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    if total > EXPORT_MAX_ROWS:
        raise Invalid("created_from", "too_many_rows",
                      f"共 {total} 条，超过 {EXPORT_MAX_ROWS} 条的上限，请缩小单位或日期范围", location="query")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=label_text(reg.title)[:31])
    header = append_row(ws, [reg.column_title(k) for k, _ in reg.columns])
    for c in header:
        c.font = Font(bold=True)
    model, last = reg.model, 0
    while True:
        batch = session.scalars(stmt.where(model.id > last).order_by(model.id).limit(BATCH)).all()
        for record in present(session, batch):
            append_row(ws, [cell(reg, k, record) for k, _ in reg.columns])
        if len(batch) < BATCH:
            break
        last = batch[-1].id
    out = tempfile.TemporaryFile()
    wb.save(out)
    out.seek(0)

    def chunks() -> Iterator[bytes]:
        with out:
            while chunk := out.read(64 * 1024):
                yield chunk
    return chunks()


def export_name(reg: Register) -> str:
    return f"{label_text(reg.title)}-{utcnow().astimezone(SHANGHAI):%Y%m%d}.xlsx"


__all__ = ["Register", "RegisterRecord", "STATUS", "create", "close", "query", "present", "cell", "export",
           "export_name"]
