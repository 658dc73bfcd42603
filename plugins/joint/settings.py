"""Per-county settings of the joint-mechanisms module (``[plugins.joint.settings]`` in
tenant.toml, or the module's settings form): the county's set of mechanisms (JNT-1), its
public-order warning levels (RPT-2), its joint meetings with their cadence (JNT-2, INT-4), the
phases of building its centres and the standard a centre is built to (ORG-5).

The defaults are seed 000 doc 1's "五联" (矛盾联查, 纠纷联调, 治安联防, 问题联治, 平安联创), the
levels the issue names (blue/yellow/orange/red) and the meetings of seed 000 doc 1 (the
centre's weekly sorting meeting) and seed 004 §6 (the monthly 联席会议). Lead and member units
are left to the county: the texts do not name them. So is the centre standard: seed 002 names its
standard (附件 1, 《义新镇综治中心规范化建设标准》) without its text; tenants/seed002 lists the
rooms its 实施意见 itself names.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,31}$", error="代码须为小写字母、数字和下划线")
CADENCES = {"weekly": "每周", "monthly": "每月"}


def member_categories(work) -> list[tuple[str, str]]:
    """The kinds of member unit seated in the county's centres (司法所, 派出所 …): a mechanism's
    lead and members are kinds, so one setting serves every township's centre."""
    from sqlalchemy import select

    from core.sdk import MemberUnit
    kinds = work.session.scalars(select(MemberUnit.category).where(MemberUnit.active.is_(True)).distinct())
    return [(k, k) for k in sorted(kinds)]


def case_types(work) -> list[tuple[str, str]]:
    """The county's enabled case types, by title."""
    return sorted(((key, ctype.title) for key, ctype in work.types.items()), key=lambda kv: kv[0])


class Mechanism(Schema):
    class Meta:
        unknown = RAISE
    key = fields.String(required=True, validate=KEY, metadata={"title": "代码"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=40), metadata={"title": "名称"})
    lead = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32),
                         metadata={"title": "牵头成员单位", "choices_from": member_categories})
    members = fields.List(fields.String(validate=validate.Length(min=1, max=32),
                                        metadata={"choices_from": member_categories}),
                          load_default=list, metadata={"title": "参与成员单位"})
    case_types = fields.List(fields.String(validate=validate.Length(min=1, max=64),
                                           metadata={"choices_from": case_types}),
                             load_default=list, metadata={"title": "落实该机制的事项类型"})


class Level(Schema):
    class Meta:
        unknown = RAISE
    key = fields.String(required=True, validate=KEY)
    title = fields.String(required=True, validate=validate.Length(min=1, max=20))


class Facility(Schema):
    """An item of the county's centre standard (建设标准): a room or facility a centre has."""
    class Meta:
        unknown = RAISE
    key = fields.String(required=True, validate=KEY, metadata={"title": "代码"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=40), metadata={"title": "功能室或设施"})
    levels = fields.List(fields.String(validate=validate.Length(min=1, max=32), metadata={"choices_from": "org_levels"}),
                         load_default=list, metadata={"title": "适用层级（不选为各级中心）"})


class MeetingKind(Schema):
    class Meta:
        unknown = RAISE
    key = fields.String(required=True, validate=KEY, metadata={"title": "代码"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=40), metadata={"title": "会议名称"})
    level = fields.String(required=True, validate=validate.Length(min=1, max=32),
                          metadata={"title": "召开层级", "choices_from": "org_levels"})
    cadence = fields.String(required=True, validate=validate.OneOf(list(CADENCES), labels=list(CADENCES.values())),
                            metadata={"title": "召开周期"})


DEFAULT_MECHANISMS = [
    {"key": "conflict_check", "title": "矛盾联查", "lead": None, "members": [], "case_types": ["mediation.dispute"]},
    {"key": "dispute_mediation", "title": "纠纷联调", "lead": None, "members": [], "case_types": ["mediation.dispute"]},
    {"key": "joint_defence", "title": "治安联防", "lead": None, "members": [], "case_types": []},
    {"key": "joint_treatment", "title": "问题联治", "lead": None, "members": [], "case_types": []},
    {"key": "joint_creation", "title": "平安联创", "lead": None, "members": [], "case_types": []},
]
DEFAULT_LEVELS = [{"key": "blue", "title": "蓝色"}, {"key": "yellow", "title": "黄色"},
                  {"key": "orange", "title": "橙色"}, {"key": "red", "title": "红色"}]
# seed 002 (the township's 2017 plan): 前期准备, 全面建设, 检查验收 by the city
DEFAULT_PHASES = [{"key": "prep", "title": "前期准备"}, {"key": "build", "title": "全面建设"},
                  {"key": "inspection", "title": "检查验收"}]
DEFAULT_MEETINGS = [
    {"key": "sorting", "title": "中心分流会", "level": "township", "cadence": "weekly"},
    {"key": "township_joint", "title": "乡镇联席会议", "level": "township", "cadence": "monthly"},
    {"key": "county_joint", "title": "县联席会议", "level": "county", "cadence": "monthly"},
]


def _unique(value, what: str) -> None:
    keys = [r.get("key") for r in value if isinstance(r, dict)]
    if len(set(keys)) != len(keys):
        raise ValidationError(f"{what}代码不能重复")


class JointSettings(Schema):
    class Meta:
        unknown = RAISE

    mechanisms = fields.List(fields.Nested(Mechanism), load_default=lambda: [dict(m) for m in DEFAULT_MECHANISMS],
                             validate=validate.Length(min=1, max=12),
                             metadata={"title": "联动工作机制", "description": "本县的“五联”“六联”等机制：名称、牵头和参与的"
                                                                           "成员单位、落实该机制的事项类型"})
    warning_levels = fields.List(fields.Nested(Level), load_default=lambda: [dict(v) for v in DEFAULT_LEVELS],
                                 validate=validate.Length(min=1, max=8),
                                 metadata={"title": "治安形势预警等级", "description": "由低到高"})
    meetings = fields.List(fields.Nested(MeetingKind), load_default=lambda: [dict(m) for m in DEFAULT_MEETINGS],
                           validate=validate.Length(min=1, max=12),
                           metadata={"title": "联席会议", "description": "各层级的会议及召开周期（每周或每月）"})

    construction_phases = fields.List(fields.Nested(Level), load_default=lambda: [dict(p) for p in DEFAULT_PHASES],
                                      validate=validate.Length(min=1, max=10),
                                      metadata={"title": "综治中心建设阶段", "description": "按先后顺序"})

    centre_levels = fields.List(fields.String(validate=validate.Length(min=1, max=32), metadata={"choices_from": "org_levels"}),
                                load_default=list, metadata={"title": "设有综治中心的层级", "description": (
                                    "综治中心总览列出这些层级的每个单位（及建设标准各项适用的层级）")})
    centre_standard = fields.List(fields.Nested(Facility), load_default=list, validate=validate.Length(max=40),
                                  metadata={"title": "综治中心建设标准", "description": (
                                      "本县综治中心规范化建设标准列出的功能室和设施，及各自适用的层级；"
                                      "未设定时中心页面只登记主任、副主任和进驻单位")})

    @validates("mechanisms")
    def _unique_mechanisms(self, value, **kw):
        _unique(value, "机制")

    @validates("warning_levels")
    def _unique_levels(self, value, **kw):
        _unique(value, "预警等级")

    @validates("construction_phases")
    def _unique_phases(self, value, **kw):
        _unique(value, "建设阶段")

    @validates("centre_standard")
    def _unique_facilities(self, value, **kw):
        _unique(value, "设施")

    @validates("meetings")
    def _unique_meetings(self, value, **kw):
        _unique(value, "会议")
