"""/api/keypersons — key-person records, visits, figures, the readers' report, the export.

URLs carry opaque record ids only, never a category: the category travels in request and
response bodies to users who may read it. A record the user may not read answers 404, as
for one that does not exist.
"""
from __future__ import annotations


from flask.views import MethodView
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.sdk import (Blueprint, IdField, ListArgs, NotFound, OrgUnit, authenticated, current, download_response,
                      id_path, page_of, paginate, request_work, requires, sort_field, units_under)

from . import figures, oversight, records
from .categories import CATEGORIES, RISK_LEVELS
from .models import KeyPerson
from .permissions import EXPORT, READERS, read_perm

blp = Blueprint("keypersons", __name__, url_prefix="/api/keypersons", description="重点人员 / Key persons")

CATEGORY = validate.OneOf(list(CATEGORIES), labels=[c.title for c in CATEGORIES.values()])
RISK = validate.OneOf(list(RISK_LEVELS), labels=list(RISK_LEVELS.values()))
SORTABLE = {"id": KeyPerson.id, "next_visit_due": KeyPerson.next_visit_due}
ID = validate.Range(min=1, max=2**63 - 1)


class RecordCreate(Schema):
    org_unit_id = IdField(required=True, metadata={"title": "责任单位"})
    category = fields.String(required=True, validate=CATEGORY, metadata={"title": "类别"})
    risk_level = fields.String(required=True, validate=RISK, metadata={"title": "风险等级"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=50), metadata={"title": "姓名"})
    id_number = fields.String(load_default=None, validate=validate.Length(max=30), metadata={"title": "身份证号"})
    phone = fields.String(load_default=None, validate=validate.Length(max=30), metadata={"title": "联系电话"})
    address = fields.String(load_default=None, validate=validate.Length(max=200), metadata={"title": "现住址"})
    helpers = fields.String(load_default=None, validate=validate.Length(max=200), metadata={"title": "帮教小组"})
    details = fields.Dict(load_default=dict, metadata={"title": "类别信息",
                                                       "description": "本类别的字段（各类别的字段见 docs/keypersons.md）"})


class RecordUpdate(Schema):
    risk_level = fields.String(validate=RISK, metadata={"title": "风险等级"})
    helpers = fields.String(allow_none=True, validate=validate.Length(max=200), metadata={"title": "帮教小组"})
    details = fields.Dict(metadata={"title": "类别信息"})


class ReadArgs(Schema):
    purpose = fields.String(load_default=None, validate=validate.Length(max=32),
                            metadata={"description": "查阅事由（本县事由清单中的代码），必填"})


class RecordListArgs(ListArgs):
    sort = sort_field(SORTABLE)
    under = fields.Integer(load_default=None, validate=ID, metadata={"description": "单位：该单位及下级"})
    risk_level = fields.String(load_default=None, validate=RISK)
    overdue = fields.Boolean(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(["open", "ended"]))


class VisitIn(Schema):
    visited_on = fields.Date(required=True, metadata={"title": "走访日期"})
    way = fields.String(required=True, validate=validate.OneOf(list(records.WAYS), labels=list(records.WAYS.values())),
                        metadata={"title": "方式"})
    visitor = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={"title": "走访人"})
    content = fields.String(load_default="", validate=validate.Length(max=2000), metadata={"title": "走访内容"})
    result = fields.String(required=True, metadata={"title": "结果"},
                           validate=validate.OneOf(list(records.RESULTS), labels=list(records.RESULTS.values())))


class EndIn(Schema):
    ended_on = fields.Date(required=True, metadata={"title": "撤销列管日期"})


class HandoverIn(Schema):
    org_unit_id = fields.Integer(required=True, validate=ID, metadata={"title": "接收单位"})
    handed_over_on = fields.Date(required=True, metadata={"title": "移交日期"})
    reason = fields.String(load_default=None, validate=validate.Length(max=500), metadata={"title": "移交原因"})


class TransferOfferIn(Schema):
    to_tenant_id = fields.Integer(required=True, validate=ID,
                                  metadata={"title": "接收县", "description": "平台上的另一个县（GET /api/transfers/counties）"})
    note = fields.String(load_default=None, validate=validate.Length(max=500),
                         metadata={"title": "说明", "description": "对方县接收前可见，如迁往何处；勿写姓名、身份证号"})


class TransferRowOut(Schema):
    id = fields.Integer(metadata={"description": "本县发起的移交编号（/api/transfers/outgoing/<id>）"})
    to_county = fields.String()
    state = fields.String()
    state_title = fields.String()
    created_at = fields.DateTime()
    answered_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    answer = fields.String(metadata={"description": "对方县的拒收原因"})


class HandoverOut(Schema):
    handed_over_on = fields.Date()
    from_unit_name = fields.String()
    to_unit_name = fields.String()
    reason = fields.String()


class LinkedCase(Schema):
    id = fields.Integer()
    number = fields.String()
    title = fields.String()
    case_type_title = fields.String()
    state_title = fields.String()
    registered_on = fields.String()


class FigureArgs(Schema):
    under = fields.Integer(load_default=None, validate=ID, metadata={"description": "单位（默认：您的最高单位）"})
    start = fields.Date(required=True)
    end = fields.Date(required=True, metadata={"description": "含当日；早于开始日期时没有数据"})


class VisitOut(Schema):
    id = fields.Integer()
    visited_on = fields.Date()
    due_on = fields.Date(allow_none=True)
    way = fields.String()
    way_title = fields.String()
    visitor = fields.String()
    content = fields.String()
    result = fields.String()
    result_title = fields.String()
    on_time = fields.Boolean()


class RecordSummary(Schema):
    id = fields.Integer()
    name = fields.String(metadata={"description": "姓名（无管理权限时脱敏）"})
    org_unit_id = fields.Integer()
    org_unit_name = fields.String()
    category = fields.String()
    category_title = fields.String()
    risk_level = fields.String()
    risk_title = fields.String()
    next_visit_due = fields.Date(allow_none=True)
    last_visit_on = fields.Date(allow_none=True)
    overdue = fields.Boolean()
    ended_on = fields.Date(allow_none=True)
    created_at = fields.DateTime()


class RecordOut(RecordSummary):
    id_number = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    helpers = fields.String()
    details = fields.Dict()
    purpose = fields.String()
    may_manage = fields.Boolean()
    visits = fields.List(fields.Nested(VisitOut))
    handovers = fields.List(fields.Nested(HandoverOut), metadata={"description": "移交记录，新的在前"})
    cases = fields.List(fields.Nested(LinkedCase), metadata={"description": "此人为当事人、且您可查看的事项（信访、纠纷等），新的在前"})
    transfers = fields.List(fields.Nested(TransferRowOut), metadata={"description": "跨县移交，新的在前"})
    transferred_history = fields.List(fields.Dict(), metadata={
        "description": "转入本县前其他县的记录：每县一项（county 县名, registered_on 列管日期, unit 单位, "
                       "transferred_on 移交日期, visits 走访, handovers 县内移交）"})


class Created(Schema):
    id = fields.Integer()


def list_statement(ctx, args: dict, settings: dict):
    stmt = select(KeyPerson).where(KeyPerson.anonymised_at.is_(None), records.visible(ctx.grants, settings))
    if args.get("under") is not None:
        unit = ctx.session.scalar(select(OrgUnit).where(OrgUnit.id == args["under"]))
        paths = [p for k in records.categories_with(ctx.grants, settings, read_perm) for p in ctx.grants.paths(read_perm(k))]
        if unit is None or not any(unit.path.startswith(p) or p.startswith(unit.path) for p in paths):
            raise NotFound("unit_not_found", "单位不存在或不在您的管辖范围内")
        stmt = stmt.where(KeyPerson.org_unit_id.in_(units_under(unit.path)))
    if args.get("risk_level"):
        stmt = stmt.where(KeyPerson.risk_level == args["risk_level"])
    if args.get("overdue") is not None:
        stmt = stmt.where(KeyPerson.overdue_since.is_not(None) if args["overdue"] else KeyPerson.overdue_since.is_(None))
    if args.get("status") == "open":
        stmt = stmt.where(KeyPerson.ended_on.is_(None))
    elif args.get("status") == "ended":
        stmt = stmt.where(KeyPerson.ended_on.is_not(None))
    return stmt


@blp.route("/records")
class Records(MethodView):
    @authenticated
    @blp.arguments(RecordListArgs, location="query")
    @blp.response(200, page_of(RecordSummary))
    def get(self, args):
        """The records the user may read (each category on its own units), names masked unless
        the user manages that category there; no purpose needed: nothing but the masked name."""
        ctx = current()
        settings = records.settings_of(ctx.session)
        page = paginate(ctx.session, list_statement(ctx, args, settings), args, KeyPerson.id, SORTABLE, "-id")
        page["items"] = records.list_page(ctx.session, ctx.grants, page["items"], settings)
        return page

    @authenticated
    @blp.arguments(RecordCreate)
    @blp.response(201, Created)
    def post(self, data):
        """Register a key person (the person's identifying fields encrypted, the category's fields validated)."""
        ctx = current()
        rec = records.create(ctx.session, ctx.grants, ctx.user.id, data)
        ctx.session.commit()
        return {"id": rec.id}


@blp.route("/records/<record_id>")
class RecordView(MethodView):
    @authenticated
    @blp.arguments(ReadArgs, location="query")
    @blp.response(200, RecordOut)
    def get(self, args, record_id):
        """One record in full: the category's read permission on its unit and a purpose from the
        county's list (422 without); the read is audited with the purpose."""
        ctx = current()
        out = records.read(ctx.session, ctx.grants, id_path(record_id), args["purpose"], request_work().types)
        ctx.session.commit()
        return out

    @authenticated
    @blp.arguments(RecordUpdate)
    @blp.response(200, Created)
    def patch(self, data, record_id):
        """Change the risk level, the helpers or the category's fields."""
        ctx = current()
        rec = records.update(ctx.session, ctx.grants, id_path(record_id), data)
        ctx.session.commit()
        return {"id": rec.id}


@blp.route("/records/<record_id>/visits")
class Visits(MethodView):
    @authenticated
    @blp.arguments(VisitIn)
    @blp.response(201, VisitOut)
    def post(self, data, record_id):
        """Record a visit; the next falls due by the county's cadence for the category and risk level."""
        ctx = current()
        visit = records.add_visit(ctx.session, ctx.grants, ctx.user.id, id_path(record_id), data)
        ctx.session.commit()
        return records.visit_out(visit)


@blp.route("/records/<record_id>/end")
class End(MethodView):
    @authenticated
    @blp.arguments(EndIn)
    @blp.response(200, Created)
    def post(self, data, record_id):
        """撤销列管: supervision ended (the retention clock starts)."""
        ctx = current()
        rec = records.end(ctx.session, ctx.grants, id_path(record_id), data["ended_on"])
        ctx.session.commit()
        return {"id": rec.id}


@blp.route("/records/<record_id>/handover")
class HandoverView(MethodView):
    @authenticated
    @blp.arguments(HandoverIn)
    @blp.response(200, Created)
    def post(self, data, record_id):
        """移交: the record moves to another responsible unit where the user also manages the
        category (the person moved within the county); the history stays, the new unit's users are told."""
        ctx = current()
        rec_id = id_path(record_id)
        records.handover(ctx.session, ctx.grants, ctx.user.id, rec_id, data)
        ctx.session.commit()
        return {"id": rec_id}


@blp.route("/records/<record_id>/transfer")
class TransferView(MethodView):
    @authenticated
    @blp.arguments(TransferOfferIn)
    @blp.response(201, TransferRowOut)
    def post(self, data, record_id):
        """跨县移交: offer the record to another county of the platform (the category's manage
        permission and ``keypersons.transfer`` on its unit). That county sees only the category
        and risk level until it accepts; then the person and the history cross, and the record
        here ends on that day. Follow it at ``/api/transfers/outgoing``."""
        ctx = current()
        row = records.transfer(ctx, id_path(record_id), data)
        ctx.session.commit()
        return records.subject_transfers(ctx.session, records.TRANSFER_KIND, row.subject_id)[0]


def figure_unit(ctx, unit_id: int | None, settings: dict) -> tuple[OrgUnit, list[str]]:
    """The unit asked about and the categories the user may read there (404 if none)."""
    cats = records.categories_with(ctx.grants, settings, read_perm)
    if unit_id is None:
        paths = sorted({p for k in cats for p in ctx.grants.paths(read_perm(k))}, key=len)
        unit = ctx.session.scalar(select(OrgUnit).where(OrgUnit.path == paths[0])) if paths else None
    else:
        unit = ctx.session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id))
    mine = [k for k in cats if unit is not None and ctx.grants.covers(read_perm(k), unit.path)]
    if unit is None or not mine:
        raise NotFound("unit_not_found", "单位不存在或不在您的管辖范围内")
    return unit, mine


class ReleasedFigures(Schema):
    count = fields.Integer()
    handed_over = fields.Integer()
    handover_rate = fields.Float(allow_none=True, metadata={"description": "接茬率 %"})
    placed = fields.Integer()
    placement_rate = fields.Float(allow_none=True, metadata={"description": "安置率 %"})
    helped = fields.Integer()
    help_rate = fields.Float(allow_none=True, metadata={"description": "帮教率 %"})
    reoffended = fields.Integer()


class VisitFigures(Schema):
    count = fields.Integer()
    on_time = fields.Integer()
    on_time_rate = fields.Float(allow_none=True)


class FiguresOut(Schema):
    org_unit_id = fields.Integer()
    org_unit_name = fields.String()
    start = fields.Date()
    end = fields.Date()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "类别 → 人数"})
    released = fields.Nested(ReleasedFigures, metadata={"description": "期内释放的刑满释放人员（可查看该类别时）"})
    reoffences = fields.Integer()
    visits = fields.Nested(VisitFigures)


@blp.route("/figures")
class Figures(MethodView):
    @authenticated
    @blp.arguments(FigureArgs, location="query")
    @blp.response(200, FiguresOut)
    def get(self, args):
        """Counts per category, 接茬率, 安置率, 帮教率, re-offences and visits on time for a unit's
        subtree and a period, over the categories the user may read there."""
        ctx = current()
        settings = records.settings_of(ctx.session)
        unit, cats = figure_unit(ctx, args["under"], settings)
        return figures.compute(ctx.session, unit, args["start"], args["end"], cats)


class ReaderArgs(Schema):
    start = fields.Date(required=True)
    end = fields.Date(required=True)


class ReadEntry(Schema):
    at = fields.DateTime()
    reader = fields.String()
    record_id = fields.Integer()
    name = fields.String(metadata={"description": "姓名（脱敏）"})
    org_unit_name = fields.String()
    purpose = fields.String(allow_none=True)
    purpose_title = fields.String()


class ReadReport(Schema):
    items = fields.List(fields.Nested(ReadEntry))


@blp.route("/readers")
class Readers(MethodView):
    @requires(READERS)
    @blp.arguments(ReaderArgs, location="query")
    @blp.response(200, ReadReport)
    def get(self, args):
        """Who read which records and why (for the data-protection officer), newest first."""
        ctx = current()
        return {"items": oversight.readers(ctx.session, ctx.grants, records.settings_of(ctx.session),
                                           args["start"], args["end"])}


@blp.route("/export")
class Export(MethodView):
    @requires(EXPORT)
    @blp.doc(responses={"200": {"description": "the records as .xlsx, watermarked"}})
    def get(self):
        """The records the user may read as .xlsx, watermarked with the exporter and the time; audited."""
        ctx = current()
        data, _ = oversight.export(ctx.session, ctx.grants, records.settings_of(ctx.session), ctx.user.display_name)
        ctx.session.commit()
        return download_response(data, "重点人员名单.xlsx")
