"""Per-county settings of the safety module (``[plugins.safety.settings]`` in tenant.toml or
the module's settings form). The place types are seed 000 doc 2's inspection categories
(SAF-1); the 4-hour incident limit is seed 004 §7; the 100 % training target seed 000 doc 2.
The default rectification period is no text's number: a county sets its own.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,31}$", error="代码须为小写字母、数字和下划线")
KINDS = {"text": "文字", "number": "数字", "date": "日期", "yes_no": "是/否", "choice": "选项"}

DEFAULT_PLACE_TYPES = [
    {"key": "village", "title": "村（社区）"}, {"key": "school", "title": "学校（校舍）"},
    {"key": "dangerous_building", "title": "危房"}, {"key": "reservoir", "title": "病险库坝"},
    {"key": "geological", "title": "地质灾害点"}, {"key": "non_coal_mine", "title": "非煤矿山"},
    {"key": "chemicals", "title": "危险化学品"}, {"key": "construction", "title": "建筑工地"},
    {"key": "catering", "title": "餐饮"}, {"key": "farm_machinery", "title": "农机"},
    {"key": "illegal_mining", "title": "非法采矿点"}, {"key": "forest_fire", "title": "森林防火区"},
    {"key": "hospital", "title": "医疗机构"}, {"key": "finance", "title": "金融网点"},
]
DEFAULT_PLACE_FIELDS = [
    {"place_type": "school", "key": "students", "title": "在校学生数", "kind": "number", "required": True},
    {"place_type": "reservoir", "key": "capacity", "title": "库容（万立方米）", "kind": "number", "required": False},
    {"place_type": "reservoir", "key": "risk_class", "title": "病险类别", "kind": "choice", "required": False,
     "choices": ["一类", "二类", "三类"]},
    {"place_type": "chemicals", "key": "licence", "title": "经营许可证号", "kind": "text", "required": True},
    {"place_type": "chemicals", "key": "licence_expires", "title": "许可证有效期至", "kind": "date", "required": False},
    {"place_type": "construction", "key": "permit", "title": "施工许可证号", "kind": "text", "required": False},
    {"place_type": "catering", "key": "gas", "title": "使用燃气", "kind": "yes_no", "required": False},
]
for _f in DEFAULT_PLACE_FIELDS:
    _f.setdefault("choices", [])
DEFAULT_GRADES = [{"key": "general", "title": "一般隐患", "major": False},
                  {"key": "major", "title": "重大隐患", "major": True}]


def place_type_choices(w) -> list[tuple[str, str]]:
    """The county's place types as (key, title), for selects (never a typed key)."""
    from core.sdk import module_settings
    settings = module_settings(w.session, "safety") or {}
    return [(t["key"], t["title"]) for t in settings.get("place_types") or DEFAULT_PLACE_TYPES]


class Named(Schema):
    class Meta:
        unknown = RAISE
    key = fields.String(required=True, validate=KEY, metadata={"title": "代码"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=40), metadata={"title": "名称"})


class Grade(Schema):
    class Meta:
        unknown = RAISE
    key = fields.String(required=True, validate=KEY, metadata={"title": "代码"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=20), metadata={"title": "名称"})
    major = fields.Boolean(load_default=False, metadata={"title": "属重大隐患（立即报县）"})


class PlaceField(Schema):
    """One extra field a place type asks for (a school's pupils, a reservoir's capacity)."""
    class Meta:
        unknown = RAISE
    place_type = fields.String(required=True, validate=KEY,
                               metadata={"title": "场所类型", "choices_from": place_type_choices})
    key = fields.String(required=True, validate=KEY, metadata={"title": "代码"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=40), metadata={"title": "名称"})
    kind = fields.String(required=True, validate=validate.OneOf(list(KINDS), labels=list(KINDS.values())),
                         metadata={"title": "填写方式"})
    required = fields.Boolean(load_default=False, metadata={"title": "必填"})
    choices = fields.List(fields.String(validate=validate.Length(min=1, max=40)), load_default=list,
                          metadata={"title": "可选项（填写方式为选项时）"})

    @validates_schema
    def _choices(self, data, **kw):
        if data.get("kind") == "choice" and not data.get("choices"):
            raise ValidationError("填写方式为选项时须列出可选项", "choices")


def _unique(value, what: str, key=lambda r: r.get("key")) -> None:
    keys = [key(r) for r in value if isinstance(r, dict)]
    if len(set(keys)) != len(keys):
        raise ValidationError(f"{what}代码不能重复")


class SafetySettings(Schema):
    class Meta:
        unknown = RAISE

    place_types = fields.List(fields.Nested(Named), load_default=lambda: [dict(t) for t in DEFAULT_PLACE_TYPES],
                              validate=validate.Length(min=1, max=100),
                              metadata={"title": "检查场所类型", "description": "本县排查的场所、部位分类"})
    place_fields = fields.List(fields.Nested(PlaceField),
                               load_default=lambda: [dict(f) for f in DEFAULT_PLACE_FIELDS],
                               validate=validate.Length(max=300),
                               metadata={"title": "场所类型的登记项目",
                                         "description": "登记某类场所时另须填写的项目（如学校的在校学生数）"})
    hazard_grades = fields.List(fields.Nested(Grade), load_default=lambda: [dict(g) for g in DEFAULT_GRADES],
                                validate=validate.Length(min=1, max=10),
                                metadata={"title": "隐患等级", "description": "本县的隐患分级；重大隐患登记后立即通知县级"})
    rectification_days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=365),
                                        metadata={"title": "默认整改期限（日）",
                                                  "description": "整改通知书未另定期限时，自下达之日起的天数"})
    incident_report_hours = fields.Integer(load_default=4, validate=validate.Range(min=1, max=72),
                                           metadata={"title": "重大事件报告时限（小时）",
                                                     "description": "事发后须在此时限内报告县级，超过即标记迟报"})
    training_target_percent = fields.Integer(load_default=100, validate=validate.Range(min=1, max=100),
                                             metadata={"title": "责任人培训覆盖率目标（%）"})

    @validates("place_types")
    def _unique_types(self, value, **kw):
        _unique(value, "场所类型")

    @validates("hazard_grades")
    def _unique_grades(self, value, **kw):
        _unique(value, "隐患等级")

    @validates_schema
    def _fields_of_known_types(self, data, **kw):
        types = {t.get("key") for t in data.get("place_types") or []}
        rows = data.get("place_fields") or []
        if any(f.get("place_type") not in types for f in rows):
            raise ValidationError("登记项目的场所类型须是已设置的场所类型", "place_fields")
        _unique(rows, "同一场所类型的登记项目", key=lambda r: (r.get("place_type"), r.get("key")))
