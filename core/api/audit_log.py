"""/api/audit — read the county's audit log (newest first), filtered."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.api.common import IdField, IdListArgs, page_of, paginate
from core.audit import AuditEntry
from core.authz import require_county_wide
from core.request import current, requires

blp = Blueprint("core_audit", __name__, url_prefix="/api/audit", description="审计日志 / Audit log")
READ = "core.audit.read"


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    actor = fields.String()
    action = fields.String()
    object_type = fields.String()
    object_id = fields.String(allow_none=True)
    changes = fields.Dict()
    request_id = fields.String(allow_none=True)
    hash = fields.String()


class AuditListArgs(IdListArgs):
    actor_id = IdField()
    action = fields.String(validate=validate.Length(max=64))
    object_type = fields.String(validate=validate.Length(max=64))
    object_id = fields.String(validate=validate.Length(max=64))
    since = fields.AwareDateTime(default_timezone=None)
    until = fields.AwareDateTime(default_timezone=None)


COUNTY_WIDE = "审计日志涵盖全县，需在县级单位持有查看审计日志的权限"


def entries(session, grants, args: dict) -> dict:
    """One page of the county's audit entries, newest first, filtered as ``AuditListArgs``
    loads them (plus ``actor``, the actor's label such as ``user:county.admin``, for the
    admin console). Reading the log needs ``core.audit.read`` on the county's root unit."""
    require_county_wide(session, grants, READ, COUNTY_WIDE)
    stmt = select(AuditEntry)
    for key in ("actor_id", "actor", "action", "object_type", "object_id"):
        if key in args:
            stmt = stmt.where(getattr(AuditEntry, key) == args[key])
    if "since" in args:
        stmt = stmt.where(AuditEntry.at >= args["since"])
    if "until" in args:
        stmt = stmt.where(AuditEntry.at < args["until"])
    return paginate(session, stmt, args, AuditEntry.id, {"id": AuditEntry.id}, "-id")


@blp.route("")
class AuditLog(MethodView):
    @requires(READ)
    @blp.arguments(AuditListArgs, location="query")
    @blp.response(200, page_of(AuditEntrySchema))
    def get(self, args):
        """Entries of this county's chain: the log spans the county, so reading it needs
        ``core.audit.read`` on the county's root unit."""
        ctx = current()
        return entries(ctx.session, ctx.grants, args)
