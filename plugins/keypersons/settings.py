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


# seed 001 doc 4 (一牌三卡五星级): "三卡就是推行便民服务卡、出租房屋档案卡、流动人口登记卡。五星就是将出租房主按
# 五星级管理模式进行，分别为爱国守法星、诚实守信星、家庭和谐星、文明带头星、环境卫生星" — that county's set, a
# starting value another county replaces with its own
DEFAULT_CARDS = [{"key": "service", "title": "便民服务卡"}, {"key": "house", "title": "出租房屋档案卡"},
                 {"key": "floating", "title": "流动人口登记卡"}]
DEFAULT_STARS = [{"key": "law", "title": "爱国守法星"}, {"key": "honest", "title": "诚实守信星"},
                 {"key": "family", "title": "家庭和谐星"}, {"key": "civil", "title": "文明带头星"},
                 {"key": "hygiene", "title": "环境卫生星"}]


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
    rental_cards = fields.List(fields.Nested(Purpose), load_default=lambda: [dict(c) for c in DEFAULT_CARDS],
                               metadata={"title": "出租房屋发放的卡", "description": "如“三卡”：登记出租房屋时逐项勾选已发放的卡"})
    rental_stars = fields.List(fields.Nested(Purpose), load_default=lambda: [dict(c) for c in DEFAULT_STARS],
                               validate=validate.Length(min=1),
                               metadata={"title": "出租房主星级评定的星", "description": "每年逐项评定，全部获得即为最高星级"})
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


def rental_cards(settings: dict) -> dict[str, str]:
    return {c["key"]: c["title"] for c in settings.get("rental_cards", DEFAULT_CARDS)}


def rental_stars(settings: dict) -> dict[str, str]:
    return {c["key"]: c["title"] for c in settings.get("rental_stars") or DEFAULT_STARS}
