"""Request and response schemas: one schema per action, unknown fields rejected (422)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.sdk import IdField, ListArgs, sort_field

from .models import VisitsGreeting

SORTABLE = {"id": VisitsGreeting.id, "recipient": VisitsGreeting.recipient}


class GreetingSchema(Schema):
    id = fields.Integer()
    org_unit_id = fields.Integer()
    recipient = fields.String()
    message = fields.String()
    created_by_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class GreetingCreateSchema(Schema):
    org_unit_id = IdField(required=True, metadata={"description": "问候对象所在单位（须在您的管理范围内）"})
    recipient = fields.String(required=True, validate=validate.Length(min=1, max=50),
                              metadata={"description": "问候对象姓名"})


class GreetingListArgs(ListArgs):
    sort = sort_field(SORTABLE)
    under = IdField(metadata={"description": "只列出该单位及其全部下级的问候"})
