"""Per-county settings of the patrol module (``[plugins.patrol.settings]`` in tenant.toml, or the
module's settings form). The lists and numbers below are starting values taken from the seed
texts where they give one (named beside each); every county replaces them with its own.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,31}$", error="代码须为小写字母、数字和下划线")

# PAT-1: seed 000 doc 1 (镇综治巡防队、村治安巡逻督查队、组打更巡逻队), seed 004 §14 (护村、护厂、护校队),
# seed 001 doc 4 (夕阳红治安巡逻队); 平安志愿者 (seed 000 doc 1, selected competitively)
DEFAULT_TEAM_KINDS = [
    {"key": "township_patrol", "title": "综治巡防队", "level": "township"},
    {"key": "village_patrol", "title": "治安巡逻（督查）队", "level": "village"},
    {"key": "group_watch", "title": "打更巡逻队", "level": "group"},
    {"key": "village_guard", "title": "护村队"},
    {"key": "factory_guard", "title": "护厂队"},
    {"key": "school_guard", "title": "护校队"},
    {"key": "volunteers", "title": "平安志愿者协会"},
    {"key": "senior_patrol", "title": "夕阳红巡逻队"},
]
# PAT-5: the five lines of defence of seed 001 doc 4
DEFAULT_LINES = [
    {"key": "fringe", "title": "城乡结合部"}, {"key": "streets", "title": "街道小巷"},
    {"key": "hot_spots", "title": "案件多发地带"}, {"key": "residential", "title": "居民小区"},
    {"key": "institutions", "title": "机关单位"},
]


class Named(Schema):
    class Meta:
        unknown = RAISE
    key = fields.String(required=True, validate=KEY, metadata={"title": "代码"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=40), metadata={"title": "名称"})


class TeamKind(Named):
    level = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32),
                          metadata={"title": "所属层级", "choices_from": "org_levels",
                                    "description": "该类队伍只能建在这一层级的单位；不填则不限"})


def _unique(items: list[dict], field: str) -> None:
    keys = [i["key"] for i in items]
    if len(keys) != len(set(keys)):
        raise ValidationError("代码不能重复", field)


class PatrolSettings(Schema):
    class Meta:
        unknown = RAISE

    team_kinds = fields.List(fields.Nested(TeamKind), load_default=lambda: [dict(k) for k in DEFAULT_TEAM_KINDS],
                             validate=validate.Length(min=1, max=40),
                             metadata={"title": "巡防队伍类别", "description": "本县各层级的群防群治队伍类别"})
    lines_of_defence = fields.List(fields.Nested(Named), load_default=lambda: [dict(k) for k in DEFAULT_LINES],
                                   validate=validate.Length(min=1, max=20),
                                   metadata={"title": "治安防线（巡逻点类别）", "description": "巡逻点所在的防线或场所类别"})
    compliance_threshold = fields.Integer(
        load_default=90, validate=validate.Range(min=1, max=100),
        metadata={"title": "巡逻达标率（%）", "description": "一次巡逻到点率低于此值即标为未达标"})
    joint_defence_group_size = fields.Integer(
        load_default=10, validate=validate.Range(min=2, max=100),
        metadata={"title": "联防组户数", "description": "“十户联防、十店联防”：每个联防组的户（店）数"})
    cameras_per_village = fields.Integer(
        load_default=8, validate=validate.Range(min=0, max=1000),
        metadata={"title": "每村监控探头目标数", "description": "每个村应布建的视频探头数（示例取“每村8个以上”）"})

    @validates_schema
    def _keys(self, data, **kw):
        _unique(data.get("team_kinds") or [], "team_kinds")
        _unique(data.get("lines_of_defence") or [], "lines_of_defence")
