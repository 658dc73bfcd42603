"""Per-county settings of the scoring module (``[plugins.scoring.settings]`` in tenant.toml, or
the module's settings form). The rubrics themselves are versioned records of their own
(``/scoring/rubrics``); these are the county's rules around them."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

TIE_RULES = {"shared": "同分同名次，其后名次顺延（1、1、3）", "dense": "同分同名次，其后名次连续（1、1、2）"}


class ScoringSettings(Schema):
    class Meta:
        unknown = RAISE

    total_must_match = fields.Boolean(load_default=False,
                                      metadata={"title": "各项分值须合计为满分",
                                                "description": "勾选后，保存考核细则时检查各计分项分值之和"})
    total_points = fields.Float(load_default=100.0, validate=validate.Range(min=1, max=10000),
                                metadata={"title": "满分", "description": "考核细则的满分（勾选上一项时检查）"})
    tie_rule = fields.String(load_default="shared", validate=validate.OneOf(list(TIE_RULES), labels=list(TIE_RULES.values())),
                             metadata={"title": "同分排名办法"})
    honours_top = fields.Integer(load_default=5, validate=validate.Range(min=0, max=1000),
                                 metadata={"title": "表彰名次", "description": "每期排名前几名获表彰、奖励（被一票否决的单位除外）"})
    appeal_days = fields.Integer(load_default=7, validate=validate.Range(min=1, max=90),
                                 metadata={"title": "申诉期（日）", "description": "开放申诉后，被考核单位可在此期限内对考核项提出申诉"})
