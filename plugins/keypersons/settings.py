"""A county's settings of the key-persons module: which categories it keeps, how often each
is visited by risk level, the purposes a record may be read for, and how long a record is
kept after its supervision ends. Every number is the county's: the defaults are starting
values it replaces, not figures of any text.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from .categories import CATEGORIES, RISK_LEVELS

KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,31}$", error="代码须为小写字母、数字和下划线")
CATEGORY = validate.OneOf(list(CATEGORIES), labels=[c.title for c in CATEGORIES.values()])
RISK = validate.OneOf(list(RISK_LEVELS), labels=list(RISK_LEVELS.values()))
DEFAULT_PURPOSES = [{"key": "visit", "title": "走访帮教"}, {"key": "case", "title": "案件办理"},
                    {"key": "assessment", "title": "风险评估"}]
DEFAULT_DAYS = {"high": 7, "medium": 30, "low": 90}


class Purpose(Schema):
    class Meta:
        unknown = RAISE
    key = fields.String(required=True, validate=KEY)
    title = fields.String(required=True, validate=validate.Length(min=1, max=40))


def _days():
    return {k: dict(DEFAULT_DAYS) for k in CATEGORIES}


class KeypersonsSettings(Schema):
    class Meta:
        unknown = RAISE

    categories = fields.List(fields.String(validate=CATEGORY), load_default=lambda: list(CATEGORIES),
                             metadata={"title": "启用的重点人员类别"})
    concern_title = fields.String(load_default="重点关注人员", validate=validate.Length(min=1, max=20),
                                  metadata={"title": "“重点关注人员”类别在本县的名称",
                                            "description": "如：涉稳重点人员、肇事肇祸精神障碍患者"})
    visit_days = fields.Dict(keys=fields.String(validate=CATEGORY),
                             values=fields.Dict(keys=fields.String(validate=RISK),
                                                values=fields.Integer(validate=validate.Range(min=1, max=366))),
                             load_default=_days,
                             metadata={"title": "走访周期（天）", "key_title": "类别",
                                       "description": "按类别和风险等级：上次走访后多少天内须再次走访"})
    purposes = fields.List(fields.Nested(Purpose), load_default=lambda: [dict(p) for p in DEFAULT_PURPOSES],
                           validate=validate.Length(min=1),
                           metadata={"title": "查阅事由", "description": "查看重点人员档案须选择其中之一"})
    retention_years = fields.Dict(keys=fields.String(validate=CATEGORY),
                                  values=fields.Integer(validate=validate.Range(min=0, max=100)),
                                  load_default=lambda: {k: 5 for k in CATEGORIES},
                                  metadata={"title": "保存年限（年）", "key_title": "类别", "value_title": "年限",
                                            "description": "撤销列管后满该年限，档案由系统匿名化"})


def visit_days(settings: dict, category: str, risk: str) -> int:
    return int((settings.get("visit_days") or {}).get(category, {}).get(risk) or DEFAULT_DAYS[risk])


def retention_years(settings: dict, category: str) -> int:
    value = (settings.get("retention_years") or {}).get(category)
    return 5 if value is None else int(value)


def purposes(settings: dict) -> dict[str, str]:
    return {p["key"]: p["title"] for p in settings.get("purposes") or DEFAULT_PURPOSES}
