"""Per-county settings. Validated before they are saved; defaults come from ``load_default``.

A county admin edits them at ``PUT /api/modules/visits`` (or in ``tenant.toml`` under
``[plugins.visits.settings]``); inside a request they are ``sdk.current().plugins["visits"]``.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class VisitsSettings(Schema):
    class Meta:
        unknown = RAISE

    greeting_prefix = fields.String(
        load_default="您好，", validate=validate.Length(min=1, max=20),
        metadata={"title": "问候语前缀", "description": "放在每条问候前面，例如“您好，”"})
    max_per_day = fields.Integer(
        load_default=100, validate=validate.Range(min=1, max=10000),
        metadata={"title": "每日问候上限", "description": "全县每天最多发送的问候条数（1–10000）"})
