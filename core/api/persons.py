"""/api/persons — residents known to the centre; ID number, phone and address are sensitive.

Stored encrypted; shown masked; ``?reveal=true`` shows them in plain text to holders of
``core.person.pii.read`` on the person's unit, and every such read is audited. Exact
look-up by ID number or phone goes through the blind index, never a plain-text column, and
is itself a reveal (it confirms a guess): ``core.privacy.pii_search``.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.api.common import PHONE, IdField, ListArgs, id_path, page_of, paginate, sort_field
from core.authz import get_or_404, scoped
from core.orgtree import units_under
from core.models import OrgUnit, Person
from core.privacy import pii_search, sensitive_fields, set_person_fields
from core.request import current, requires

blp = Blueprint("core_persons", __name__, url_prefix="/api/persons", description="人员信息 / Persons")

READ, MANAGE, PII = "core.person.read", "core.person.manage", "core.person.pii.read"


class PersonSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    org_unit_id = fields.Integer()
    id_number = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    revealed = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class PersonCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    org_unit_id = IdField(required=True, metadata={"description": "户籍或居住所在单位"})
    id_number = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE)
    address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class PersonUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=50))
    org_unit_id = IdField()
    id_number = fields.String(allow_none=True, validate=validate.Length(max=32))
    phone = fields.String(allow_none=True, validate=PHONE)
    address = fields.String(allow_none=True, validate=validate.Length(max=200))


SORTABLE = {"id": Person.id, "name": Person.name}


class PersonListArgs(ListArgs):
    sort = sort_field(SORTABLE)
    org_unit_id = IdField(metadata={"description": "该单位子树内的人员"})
    id_number = fields.String(validate=validate.Length(min=1, max=32), metadata={"description": "按身份证号精确查找"})
    phone = fields.String(validate=validate.Length(min=1, max=20), metadata={"description": "按电话精确查找"})
    q = fields.String(validate=validate.Length(min=1, max=50), metadata={"description": "姓名包含"})


class RevealArgs(Schema):
    reveal = fields.Boolean(load_default=False, metadata={"description": "显示完整身份证号等（需权限，留痕）"})


def present(person: Person, reveal: bool = False) -> dict:
    ctx = current()
    out = {k: getattr(person, k) for k in ("id", "name", "org_unit_id", "created_at", "updated_at")}
    out.update(sensitive_fields(ctx.session, ctx.grants, person, person.org_unit_id, reveal=reveal, permission=PII))
    out["revealed"] = reveal
    return out


@blp.route("")
class Persons(MethodView):
    @requires(READ)
    @blp.arguments(PersonListArgs, location="query")
    @blp.response(200, page_of(PersonSchema))
    def get(self, args):
        """Persons in your scope. Exact search by a full ID number or phone (blind index) needs
        ``core.person.pii.read`` where you search and finds only persons there; it is
        rate-limited per user and audited."""
        ctx = current()
        stmt = scoped(select(Person), ctx.grants, READ, Person.org_unit_id)
        unit = None
        if "org_unit_id" in args:
            unit = get_or_404(ctx.session, ctx.grants, OrgUnit, args["org_unit_id"], READ)
            stmt = stmt.where(Person.org_unit_id.in_(units_under(unit.path)))
        for field in ("id_number", "phone"):  # needs the PII permission there; rate-limited, audited
            if field in args:
                stmt = stmt.where(pii_search(ctx.session, ctx.grants, ctx.user.id, field, args[field],
                                             unit_path=unit.path if unit else None))
        if "q" in args:
            stmt = stmt.where(Person.name.contains(args["q"], autoescape=True))
        page = paginate(ctx.session, stmt, args, Person.id, SORTABLE, "id")
        page["items"] = [present(p) for p in page["items"]]
        return page

    @requires(MANAGE)
    @blp.arguments(PersonCreateSchema)
    @blp.response(201, PersonSchema)
    def post(self, data):
        ctx = current()
        get_or_404(ctx.session, ctx.grants, OrgUnit, data["org_unit_id"], MANAGE)
        person = Person(created_by=ctx.user.id)  # who typed their data (core.privacy.attach_basis)
        set_person_fields(person, data)
        ctx.session.add(person)
        ctx.session.commit()
        return present(person)


@blp.route("/<person_id>")
class PersonItem(MethodView):
    @requires(READ)
    @blp.arguments(RevealArgs, location="query")
    @blp.response(200, PersonSchema)
    def get(self, args, person_id):
        ctx = current()
        person = get_or_404(ctx.session, ctx.grants, Person, id_path(person_id), READ)
        return present(person, reveal=args["reveal"])

    @requires(MANAGE)
    @blp.arguments(PersonUpdateSchema)
    @blp.response(200, PersonSchema)
    def patch(self, data, person_id):
        ctx = current()
        person = get_or_404(ctx.session, ctx.grants, Person, id_path(person_id), MANAGE)
        if "org_unit_id" in data:
            get_or_404(ctx.session, ctx.grants, OrgUnit, data["org_unit_id"], MANAGE)
        set_person_fields(person, data)
        ctx.session.commit()
        return present(person)

    @requires(MANAGE)
    @blp.response(204)
    def delete(self, person_id):
        ctx = current()
        ctx.session.delete(get_or_404(ctx.session, ctx.grants, Person, id_path(person_id), MANAGE))
        ctx.session.commit()
