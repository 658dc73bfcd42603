"""/api/keypersons/rental-houses — rental houses, their tenants, the landlords' star ratings and
responsibility letters, and the figures (docs/keypersons.md, "Rental houses")."""
from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.sdk import (Blueprint, IdField, ListArgs, NotFound, OrgUnit, authenticated, current, id_path, issue_letter,
                      page_of, paginate)

from . import rental
from .models import RentalHouse
from .permissions import RENTAL_READ

blp = Blueprint("keypersons_rental", __name__, url_prefix="/api/keypersons/rental-houses",
                description="出租房屋 / Rental houses")
ID = validate.Range(min=1, max=2**63 - 1)
KEY = fields.String(validate=validate.Length(min=1, max=32))


class HouseCreate(Schema):
    org_unit_id = IdField(required=True, metadata={"title": "所在单位"})
    address = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={"title": "房屋地址"})
    owner_name = fields.String(required=True, validate=validate.Length(min=1, max=50), metadata={"title": "房主姓名"})
    owner_id_number = fields.String(load_default=None, validate=validate.Length(max=30), metadata={"title": "房主身份证号"})
    owner_phone = fields.String(load_default=None, validate=validate.Length(max=30), metadata={"title": "房主联系电话"})
    rooms = fields.Integer(load_default=None, validate=validate.Range(min=1, max=10000), metadata={"title": "出租间数"})
    note = fields.String(load_default=None, validate=validate.Length(max=500), metadata={"title": "备注"})
    cards = fields.List(KEY, load_default=list, validate=validate.Length(max=20),
                        metadata={"title": "已发放的卡", "description": "本县设置中卡的代码"})


class HouseUpdate(Schema):
    address = fields.String(validate=validate.Length(min=1, max=200), metadata={"title": "房屋地址"})
    rooms = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=10000), metadata={"title": "出租间数"})
    note = fields.String(allow_none=True, validate=validate.Length(max=500), metadata={"title": "备注"})
    cards = fields.List(KEY, validate=validate.Length(max=20), metadata={"title": "已发放的卡"})


class TenantIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=50), metadata={"title": "承租人姓名"})
    id_number = fields.String(load_default=None, validate=validate.Length(max=30), metadata={"title": "身份证号"})
    phone = fields.String(load_default=None, validate=validate.Length(max=30), metadata={"title": "联系电话"})
    moved_in = fields.Date(required=True, metadata={"title": "入住日期"})


class MoveOutIn(Schema):
    moved_out = fields.Date(required=True, metadata={"title": "迁出日期"})


class RatingIn(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100), metadata={"title": "年度"})
    stars = fields.List(KEY, load_default=list, validate=validate.Length(max=20),
                        metadata={"title": "获得的星", "description": "本县设置中星的代码"})
    rated_on = fields.Date(required=True, metadata={"title": "评定日期"})


class LetterIn(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100), metadata={"title": "年度"})
    counterparty = fields.String(load_default=None, validate=validate.Length(max=100),
                                 metadata={"title": "指导监督方", "description": "如：社区民警"})


class EndIn(Schema):
    ended_on = fields.Date(required=True, metadata={"title": "停止出租日期"})


class HouseListArgs(ListArgs):
    under = fields.Integer(load_default=None, validate=ID, metadata={"description": "单位：该单位及下级"})
    status = fields.String(load_default=None, validate=validate.OneOf(["let", "ended"], labels=["出租中", "已停止出租"]))


class HouseSummary(Schema):
    id = fields.Integer()
    org_unit_id = fields.Integer()
    org_unit_name = fields.String()
    owner_name = fields.String()
    address = fields.String()
    rooms = fields.Integer(allow_none=True)
    tenants_living = fields.Integer()
    cards = fields.List(fields.String(), metadata={"description": "已发放的卡（名称）"})
    stars_this_year = fields.Integer(allow_none=True, metadata={"description": "本年度获得的星数，未评定为空"})
    ended_on = fields.Date(allow_none=True)


class TenantOut(Schema):
    id = fields.Integer()
    name = fields.String()
    id_number = fields.String(metadata={"description": "脱敏"})
    phone = fields.String(metadata={"description": "脱敏"})
    moved_in = fields.Date()
    moved_out = fields.Date(allow_none=True)


class RatingOut(Schema):
    year = fields.Integer()
    rated_on = fields.Date()
    star_keys = fields.List(fields.String())
    stars = fields.List(fields.String())
    count = fields.Integer()
    of = fields.Integer()


class LetterOut(Schema):
    id = fields.Integer()
    year = fields.Integer()
    status = fields.String()
    status_title = fields.String()
    signed_on = fields.Date(allow_none=True)


class HouseOut(HouseSummary):
    owner_id_number = fields.String(metadata={"description": "脱敏"})
    owner_phone = fields.String(metadata={"description": "脱敏"})
    note = fields.String()
    card_keys = fields.List(fields.String())
    may_manage = fields.Boolean()
    tenants = fields.List(fields.Nested(TenantOut), metadata={"description": "在住的在前"})
    ratings = fields.List(fields.Nested(RatingOut), metadata={"description": "星级评定，新的年度在前"})
    letters = fields.List(fields.Nested(LetterOut), metadata={"description": "房主的出租房屋责任书"})


class FigureArgs(Schema):
    under = fields.Integer(load_default=None, validate=ID, metadata={"description": "单位（默认：您的最高单位）"})


class FiguresOut(Schema):
    org_unit_id = fields.Integer()
    org_unit_name = fields.String()
    year = fields.Integer()
    houses = fields.Integer(metadata={"description": "出租中的房屋"})
    tenants = fields.Integer(metadata={"description": "在住承租人"})
    all_cards = fields.Integer(metadata={"description": "各种卡均已发放的房屋"})
    rated = fields.Integer(metadata={"description": "本年度已评定星级的房屋"})
    all_stars = fields.Integer(metadata={"description": "本年度获得全部星的房屋"})
    owners = fields.Integer(metadata={"description": "房主人数"})
    letters_signed = fields.Integer(metadata={"description": "本年度已签订责任书的房主"})


def unit_in_scope(ctx, unit_id: int | None) -> OrgUnit:
    """The unit asked about (default: the user's highest unit holding the read permission)."""
    paths = sorted(ctx.grants.paths(RENTAL_READ), key=len)
    if unit_id is None:
        unit = ctx.session.scalar(select(OrgUnit).where(OrgUnit.path == paths[0])) if paths else None
    else:
        unit = ctx.session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id))
    if unit is None or not any(unit.path.startswith(p) or p.startswith(unit.path) for p in paths):
        raise NotFound("unit_not_found", "单位不存在或不在您的管辖范围内")
    return unit


def _detail(house_id: int) -> dict:
    ctx = current()
    return rental.detail(ctx.session, ctx.grants, rental.house_or_404(ctx.session, ctx.grants, house_id))


@blp.route("")
class Houses(MethodView):
    @authenticated
    @blp.arguments(HouseListArgs, location="query")
    @blp.response(200, page_of(HouseSummary))
    def get(self, args):
        """The houses on the user's units, newest first."""
        ctx = current()
        under = unit_in_scope(ctx, args["under"]) if args.get("under") is not None else None
        page = paginate(ctx.session, rental.list_statement(ctx.grants, under, args.get("status")), args,
                        RentalHouse.id, {"id": RentalHouse.id}, "-id")
        page["items"] = rental.summaries(ctx.session, ctx.grants, page["items"])
        return page

    @authenticated
    @blp.arguments(HouseCreate)
    @blp.response(201, HouseOut)
    def post(self, data):
        """Register a house and its landlord (found by ID number in your units, else added to the register)."""
        ctx = current()
        house = rental.create(ctx.session, ctx.grants, ctx.user.id, data)
        ctx.session.commit()
        return _detail(house.id)


@blp.route("/<house_id>")
class House(MethodView):
    @authenticated
    @blp.response(200, HouseOut)
    def get(self, house_id):
        """One house: landlord (numbers masked), tenants, cards, ratings, letters."""
        return _detail(id_path(house_id))

    @authenticated
    @blp.arguments(HouseUpdate)
    @blp.response(200, HouseOut)
    def patch(self, data, house_id):
        """Change the address, the rooms, the note or the cards issued."""
        ctx = current()
        rental.update(ctx.session, ctx.grants, id_path(house_id), data)
        ctx.session.commit()
        return _detail(id_path(house_id))


@blp.route("/<house_id>/tenants")
class Tenants(MethodView):
    @authenticated
    @blp.arguments(TenantIn)
    @blp.response(201, HouseOut)
    def post(self, data, house_id):
        """A tenant moves in (found by ID number in your units, else added to the register)."""
        ctx = current()
        rental.add_tenant(ctx.session, ctx.grants, ctx.user.id, id_path(house_id), data)
        ctx.session.commit()
        return _detail(id_path(house_id))


@blp.route("/<house_id>/tenants/<tenancy_id>/move-out")
class MoveOut(MethodView):
    @authenticated
    @blp.arguments(MoveOutIn)
    @blp.response(200, HouseOut)
    def post(self, data, house_id, tenancy_id):
        """A tenant moved out (the tenancy stays on record, with both dates)."""
        ctx = current()
        rental.move_out(ctx.session, ctx.grants, id_path(house_id), id_path(tenancy_id), data["moved_out"])
        ctx.session.commit()
        return _detail(id_path(house_id))


@blp.route("/<house_id>/ratings")
class Ratings(MethodView):
    @authenticated
    @blp.arguments(RatingIn)
    @blp.response(200, HouseOut)
    def post(self, data, house_id):
        """The landlord's stars of a year (a second rating of the year replaces the first)."""
        ctx = current()
        rental.rate(ctx.session, ctx.grants, ctx.user.id, id_path(house_id), data)
        ctx.session.commit()
        return _detail(id_path(house_id))


@blp.route("/<house_id>/letter")
class Letter(MethodView):
    @authenticated
    @blp.arguments(LetterIn)
    @blp.response(201, HouseOut)
    def post(self, data, house_id):
        """Make the landlord's 出租房屋责任书 of a year, issued by the house's unit (signed, printed and
        withdrawn on the 责任书 page); needs core.letter.manage there."""
        ctx = current()
        house = rental.house_or_404(ctx.session, ctx.grants, id_path(house_id), rental.RENTAL_MANAGE)
        issue_letter(ctx, rental.RENTAL_LETTER, data["year"], house.org_unit_id, "person", house.owner_person_id,
                     data.get("counterparty"))
        ctx.session.commit()
        return _detail(house.id)


@blp.route("/<house_id>/end")
class End(MethodView):
    @authenticated
    @blp.arguments(EndIn)
    @blp.response(200, HouseOut)
    def post(self, data, house_id):
        """停止出租: once every tenant has moved out."""
        ctx = current()
        rental.end(ctx.session, ctx.grants, id_path(house_id), data["ended_on"])
        ctx.session.commit()
        return _detail(id_path(house_id))


@blp.route("/figures")
class Figures(MethodView):
    @authenticated
    @blp.arguments(FigureArgs, location="query")
    @blp.response(200, FiguresOut)
    def get(self, args):
        """For a unit's subtree today: houses let, tenants, cards, this year's ratings and letters signed."""
        ctx = current()
        unit = unit_in_scope(ctx, args["under"])
        out = rental.figures(ctx.session, ctx.grants, unit)
        out.update(org_unit_id=unit.id, org_unit_name=unit.name)
        return out
