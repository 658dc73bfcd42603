"""Per-county settings of the scoring module (``[plugins.scoring.settings]`` in tenant.toml, or
the module's settings form). The rubrics themselves are versioned records of their own
(``/scoring/rubrics``); these are the county's rules around them."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

TIE_RULES = {"shared": "同分同名次，其后名次顺延（1、1、3）", "dense": "同分同名次，其后名次连续（1、1、2）"}


class Rung(Schema):
    """One rung of a title ladder (seed 003 "333"): without ``after``, a unit earns ``title`` in the
    year it completes ``times`` years in a row qualified in the annual assessment (not vetoed, at
    least ``min_score``); with ``after``, when it has earned that title ``times`` times in a row
    (each award of ``after`` counts, whatever the years between). Each award starts the count again."""
    class Meta:
        unknown = RAISE
    title = fields.String(required=True, validate=validate.Length(min=1, max=40), metadata={"title": "称号"})
    level = fields.String(required=True, validate=validate.Length(min=1, max=32),
                          metadata={"title": "组织层级", "choices_from": "org_levels"})
    after = fields.String(load_default="", validate=validate.Length(max=40),
                          metadata={"title": "下一级称号", "description": "空：年度考核合格"})
    min_score = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=10000),
                             metadata={"title": "合格分数线", "description": "年度考核不低于此分且未被一票否决即为合格"})
    times = fields.Integer(load_default=3, validate=validate.Range(min=1, max=20), metadata={"title": "连续年数"})


class Target(Schema):
    """A creation target (SCO-6): the share of a level's units that should reach the county's
    "平安" status — qualified in the year's published annual assessment — by a year."""
    class Meta:
        unknown = RAISE
    level = fields.String(required=True, validate=validate.Length(min=1, max=32),
                          metadata={"title": "组织层级", "choices_from": "org_levels"})
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100), metadata={"title": "年度"})
    percent = fields.Float(required=True, validate=validate.Range(min=0, max=100), metadata={"title": "达标比例（%）"})
    min_score = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=10000),
                             metadata={"title": "合格分数线", "description": "年度考核不低于此分且未被一票否决即为达标"})


PERIOD_KINDS = {"quarter": "季度", "half": "半年", "year": "年度"}


class Reward(Schema):
    """A reward by rank (seed 003: “市财政每年拨付50万左右专项资金对每季度排名靠前的区镇进行奖励”: the amount
    per rank is the county's): the units of ``level`` ranked ``rank_from``–``rank_to`` in a period
    of ``kind``, not vetoed, get ``amount`` yuan each."""
    class Meta:
        unknown = RAISE
    level = fields.String(required=True, validate=validate.Length(min=1, max=32),
                          metadata={"title": "组织层级", "choices_from": "org_levels"})
    kind = fields.String(required=True, validate=validate.OneOf(list(PERIOD_KINDS), labels=list(PERIOD_KINDS.values())),
                         metadata={"title": "考核期"})
    rank_from = fields.Integer(required=True, validate=validate.Range(min=1, max=1000), metadata={"title": "自第几名"})
    rank_to = fields.Integer(required=True, validate=validate.Range(min=1, max=1000), metadata={"title": "至第几名"})
    amount = fields.Integer(required=True, validate=validate.Range(min=0, max=100_000_000),
                            metadata={"title": "每个单位奖励（元）"})

    @validates_schema
    def _order(self, data, **kw):
        if data.get("rank_from") and data.get("rank_to") and data["rank_from"] > data["rank_to"]:
            raise ValidationError("“至第几名”不能小于“自第几名”", "rank_to")


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
    ladders = fields.List(fields.Nested(Rung), load_default=list, validate=validate.Length(max=20),
                          metadata={"title": "称号晋级",
                                    "description": "如：连续三年合格评为示范村，连续三次获评示范村授予长安法治村"})
    creation_targets = fields.List(fields.Nested(Target), load_default=list, validate=validate.Length(max=100),
                                   metadata={"title": "创建目标",
                                             "description": "各层级单位每年达到平安创建标准的比例目标，如第二年乡镇40%、村50%"})
    repeat_veto_advice = fields.String(
        load_default="对其主要领导、主管领导或直接责任人给予降职、就地免职或实行引咎辞职",
        validate=validate.Length(min=1, max=200),
        metadata={"title": "连续两年被一票否决的处理建议", "description": "年度考核连续两年被一票否决的单位，排名中提示此建议"})
    rewards = fields.List(fields.Nested(Reward), load_default=list, validate=validate.Length(max=100),
                          metadata={"title": "按名次奖励",
                                    "description": "如：乡镇季度竞赛第1名奖励若干元；被一票否决的单位不奖励"})
    appeal_days = fields.Integer(load_default=7, validate=validate.Range(min=1, max=90),
                                 metadata={"title": "申诉期（日）", "description": "开放申诉后，被考核单位可在此期限内对考核项提出申诉"})

    @validates("rewards")
    def _rewards_apart(self, value, **kw):
        problem = _overlap(value)
        if problem:
            raise ValidationError(problem)


def _overlap(rewards: list[dict]) -> str | None:
    seen: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for r in rewards:
        spans = seen.setdefault((r["level"], r["kind"]), [])
        if any(r["rank_from"] <= b and a <= r["rank_to"] for a, b in spans):
            return f"同一层级、同一考核期的名次区间重叠（第{r['rank_from']}至{r['rank_to']}名）"
        spans.append((r["rank_from"], r["rank_to"]))
    return None

