"""Per-county settings of the petition module (``[plugins.petition.settings]`` in tenant.toml,
or ``PUT /api/modules/petition``). Time limits are the case type's settings
(``[cases."petition.case"]``, docs/cases.md): statutory ones may only be tightened, local
ones (PET-1) are switched on with the county's own amounts.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from .quotas import KINDS
from .reports import COLUMNS as REPORT_COLUMNS

KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,31}$", error="分类代码须为小写字母、数字和下划线")

# A starting taxonomy; each county replaces it with its own (``categories``).
DEFAULT_CATEGORIES = [
    {"key": "land", "title": "土地"}, {"key": "labour", "title": "劳动"},
    {"key": "social_security", "title": "社会保障"}, {"key": "environment", "title": "环境"},
    {"key": "housing", "title": "住房"}, {"key": "other", "title": "其他"},
]


class Category(Schema):
    class Meta:
        unknown = RAISE
    key = fields.String(required=True, validate=KEY, metadata={"title": "分类代码"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=40), metadata={"title": "分类名称"})


PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def _network(value: str) -> None:
    import ipaddress
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValidationError("不是有效的网络地址段，如 10.0.0.0/8") from None


class ReportColumn(Schema):
    class Meta:
        unknown = RAISE
    key = fields.String(required=True, validate=validate.OneOf([k for k, _ in REPORT_COLUMNS],
                                                               labels=[t for _, t in REPORT_COLUMNS]),
                        metadata={"title": "数字", "description": "月报列出的数字（受理数、办结数、按期率……）"})
    title = fields.String(validate=validate.Length(min=1, max=20),
                          metadata={"title": "列名", "description": "本县台账的列名；不填则用该数字的名称"})


class PetitionSettings(Schema):
    class Meta:
        unknown = RAISE

    collective_threshold = fields.Integer(
        load_default=5, validate=validate.Range(min=2, max=1000),
        metadata={"title": "集体访人数", "description": "来访人数达到此数即标记为集体访"})
    categories = fields.List(
        fields.Nested(Category), load_default=lambda: [dict(c) for c in DEFAULT_CATEGORIES],
        validate=validate.Length(min=1, max=200),
        metadata={"title": "信访分类", "description": "本县的信访事项分类"})
    repeat_window_days = fields.Integer(
        load_default=365, validate=validate.Range(min=1, max=3650),
        metadata={"title": "重复信访识别期限（日）", "description": "同一信访人、同一分类在此期限内再次信访视为重信重访"})

    quota_period = fields.String(
        load_default="year", validate=validate.OneOf(["year", "quarter", "month"], labels=["年度", "季度", "月度"]),
        metadata={"title": "上访指标期间", "description": "上访指标按年度、季度或月度计算"})
    default_quotas = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=32), metadata={"choices_from": "org_levels"}),
        values=fields.Dict(keys=fields.String(validate=validate.OneOf(list(KINDS), labels=list(KINDS.values()))),
                           values=fields.Integer(validate=validate.Range(min=0, max=100000))),
        load_default=dict,
        metadata={"title": "各层级默认上访指标", "key_title": "组织层级",
                  "description": "按组织层级设定每期指标：越级访合计、到县、赴市、赴省、进京、非正常访，不填的不设指标；"
                                 "单位可另设"})
    accountable_roles = fields.List(
        fields.String(validate=validate.Length(min=1, max=32), metadata={"choices_from": "network_roles"}),
        load_default=lambda: ["area_leader", "stationed_cadre"],
        metadata={"title": "问责对象岗位", "description": "突破指标或出现非正常访时问责的网格岗位（默认包片领导、驻村干部）"})
    status_rate_limit = fields.Integer(
        load_default=20, validate=validate.Range(min=1, max=1000),
        metadata={"title": "进度查询频率上限（次/分钟/地址）", "description": "信访人凭查询码查询进度的频率限制"})

    receipt_code_hours = fields.Integer(
        load_default=2, validate=validate.Range(min=1, max=72),
        metadata={"title": "回执显示查询码的时限（小时）",
                  "description": "登记后此时限内，登记人首次打印的回执印有查询码；此后（或由他人打印）须有补打权限"})

    internal_networks = fields.List(
        fields.String(validate=_network), load_default=lambda: list(PRIVATE_NETWORKS),
        validate=validate.Length(max=100),
        metadata={"title": "县内网络地址段", "description": "县乡村各级单位办公网络的地址段（如 10.0.0.0/8）；从这些地址"
                  "提交的信访人评价记为“县内网络”并标记待核实，不计入满意率。默认为各私有地址段"})

    report_columns = fields.List(
        fields.Nested(ReportColumn), load_default=list, validate=validate.Length(max=len(REPORT_COLUMNS)),
        metadata={"title": "月报台账列", "description": "月报（含 Excel）列出哪些数字、顺序和列名；不设则全部列出"})

    @validates("report_columns")
    def _columns_once(self, value, **kw):
        keys = [c.get("key") for c in value if isinstance(c, dict)]  # an invalid item has already failed
        if len(set(keys)) != len(keys):
            raise ValidationError("同一列不能出现两次")

    @validates("categories")
    def _unique(self, value, **kw):
        keys = [c.get("key") for c in value if isinstance(c, dict)]  # an invalid item has already failed
        if len(set(keys)) != len(keys):
            raise ValidationError("分类代码不能重复")
