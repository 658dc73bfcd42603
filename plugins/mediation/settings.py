"""Per-county settings of the mediation module (``[plugins.mediation.settings]`` in
tenant.toml, or the module's settings form). Numbers in the policy texts (reports by the
20th, emergencies within 20 minutes …) are one county's choices: they live here, with
defaults a county replaces. Time limits are the case type's settings
(``[cases."mediation.dispute".deadlines]``, docs/cases.md).
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,31}$", error="代码须为小写字母、数字和下划线")
CADENCES = {"weekly": "每周", "half_monthly": "每半月", "monthly": "每月"}

# A starting taxonomy (the list); each county replaces it with its own.
DEFAULT_TYPES = [
    {"key": "land_contract", "title": "土地承包"}, {"key": "land_requisition", "title": "征地拆迁"},
    {"key": "forest_rights", "title": "山林权属"}, {"key": "grassland", "title": "草场"},
    {"key": "boundary", "title": "地界"}, {"key": "marriage_family", "title": "婚姻家庭"},
    {"key": "neighbours", "title": "邻里"}, {"key": "labour_wages", "title": "劳动工资"},
    {"key": "debt", "title": "债务"}, {"key": "village_enterprise", "title": "村企"},
    {"key": "medical", "title": "医疗"}, {"key": "traffic", "title": "交通事故"}, {"key": "other", "title": "其他"},
]
# MED-3 as most policy texts put it: village committee, then the area leader / stationed
# cadre, then the township centre, then the county (a county may drop or rename tiers).
DEFAULT_TIERS = [
    {"key": "village", "title": "村调委会", "level": "village"},
    {"key": "cadre", "title": "包片领导、驻村干部", "network_roles": ["area_leader", "stationed_cadre"]},
    {"key": "township", "title": "乡镇综治中心", "level": "township"},
    {"key": "county", "title": "县级", "level": "county"},
]


class Named(Schema):
    class Meta:
        unknown = RAISE
    key = fields.String(required=True, validate=KEY)
    title = fields.String(required=True, validate=validate.Length(min=1, max=40))


class Tier(Schema):
    """One tier of MED-3: held by the ancestor unit of a ``level``, or by the holders of
    network roles (包片领导, 驻村干部) of the dispute's unit."""
    class Meta:
        unknown = RAISE
    key = fields.String(required=True, validate=KEY)
    title = fields.String(required=True, validate=validate.Length(min=1, max=40))
    level = fields.String(validate=validate.Length(min=1, max=32),
                          metadata={"title": "组织层级", "choices_from": "org_levels",
                                    "description": "由该层级的上级单位承办"})
    network_roles = fields.List(fields.String(validate=validate.Length(min=1, max=32),
                                              metadata={"choices_from": "network_roles"}),
                                metadata={"title": "网格岗位", "description": "由这些岗位的人员承办"})
    days = fields.Integer(validate=validate.Range(min=1, max=365),
                          metadata={"title": "调处期限（日）", "description": "本级调处期限（日）：超过即在责任倒查中列为滞留"})

    @validates_schema
    def _held(self, data, **kw):
        if bool(data.get("level")) == bool(data.get("network_roles")):
            raise ValidationError("每一级须指定组织层级或网格岗位之一（二者只选其一）", "level")


class Cadence(Schema):
    class Meta:
        unknown = RAISE
    level = fields.String(required=True, validate=validate.Length(min=1, max=32),
                          metadata={"title": "组织层级", "choices_from": "org_levels"})
    cadence = fields.String(required=True, validate=validate.OneOf(list(CADENCES), labels=list(CADENCES.values())),
                            metadata={"title": "报送周期"})


class MediationSettings(Schema):
    class Meta:
        unknown = RAISE

    dispute_types = fields.List(fields.Nested(Named), load_default=lambda: [dict(t) for t in DEFAULT_TYPES],
                                validate=validate.Length(min=1, max=200),
                                metadata={"title": "纠纷类型", "description": "本县的矛盾纠纷分类"})
    tiers = fields.List(fields.Nested(Tier), load_default=lambda: [dict(t) for t in DEFAULT_TIERS],
                        validate=validate.Length(min=1, max=8),
                        metadata={"title": "逐级调处层级",
                                  "description": "由下到上：村调委会、包片领导/驻村干部、乡镇中心、县"})
    screening = fields.List(fields.Nested(Cadence), load_default=list, validate=validate.Length(max=10),
                            metadata={"title": "排查报送周期",
                                      "description": "哪些层级的单位须报送排查情况、多久一次（每周、每半月或每月）；"
                                                     "不设则不检查"})
    monthly_due_day = fields.Integer(load_default=20, validate=validate.Range(min=1, max=28),
                                     metadata={"title": "月报截止日", "description": "每月报送的截止日（如每月20日前）"})
    weekly_due_weekday = fields.Integer(load_default=7, validate=validate.Range(min=1, max=7),
                                        metadata={"title": "周报截止星期", "description": "1 星期一 … 7 星期日，当日24时前"})
    emergency_minutes = fields.Integer(load_default=20, validate=validate.Range(min=1, max=1440),
                                       metadata={"title": "突发事件报告时限（分钟）",
                                                 "description": "事发后须在此时限内报告，迟报即标记"})
    mass_threshold = fields.Integer(load_default=5, validate=validate.Range(min=2, max=100000),
                                    metadata={"title": "群体性纠纷人数",
                                              "description": "涉及人数达到此数即标记为可能引发群体性事件"})
    # The copies of a written agreement: one for each party and this many for the committee's
    # file. The policy texts (seeds) do not state the number, so it is the county's setting; the
    # default is the module's behaviour so far (one kept). Every party counts, at least two.
    agreement_file_copies = fields.Integer(load_default=1, validate=validate.Range(min=1, max=5),
                                           metadata={"title": "调解协议书调委会留存份数",
                                                     "description": "调解协议书份数＝当事人人数（每人一份，至少两份）＋调委会留存份数"})

    @validates("dispute_types")
    def _unique_types(self, value, **kw):
        keys = [t.get("key") for t in value if isinstance(t, dict)]
        if len(set(keys)) != len(keys):
            raise ValidationError("纠纷类型代码不能重复")

    @validates("tiers")
    def _unique_tiers(self, value, **kw):
        keys = [t.get("key") for t in value if isinstance(t, dict)]
        if len(set(keys)) != len(keys):
            raise ValidationError("层级代码不能重复")

    @validates("screening")
    def _one_cadence_per_level(self, value, **kw):
        levels = [c.get("level") for c in value if isinstance(c, dict)]
        if len(set(levels)) != len(levels):
            raise ValidationError("同一层级只能设一个报送周期")
