"""Per-county settings of the village affairs module (``[plugins.village.settings]`` in
tenant.toml, or the module's settings form).

Quorums of the meetings that vote on a village project come from the law, cited here; a county
may only tighten them: the choices of each quorum setting start at the statutory one, so a
looser value is refused by validation (422, nothing saved).

- 《中华人民共和国村民委员会组织法》第二十二条: a villagers' meeting needs more than half of
  the villagers aged 18 and over, or at least two thirds of the households' representatives;
  its decisions need more than half of those present.
- 同法第二十六条: a villagers' representatives' meeting needs at least two thirds of its
  members; its decisions need more than half of those present.

Seed 001 doc 5 (汤汪乡 "五事"): a project without at least 80 % approval is not carried out;
"两票" satisfaction under 90 % → rectification within a time limit; the group instructors'
"四个一" (one party member, one ordinary villager, one household in difficulty, one enterprise).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from marshmallow import RAISE, Schema, fields, validate

LAW = "《中华人民共和国村民委员会组织法》"


@dataclass(frozen=True)
class Quorum:
    """A share of the members: ``strict`` means "more than" (过半数), else "at least" (以上)."""
    share: Fraction
    strict: bool
    title: str

    def met(self, present: int, members: int) -> bool:
        return present > self.share * members if self.strict else present >= self.share * members

    def needed(self, members: int) -> int:
        """The fewest present that meets it."""
        n = self.share * members
        whole = int(n)
        return whole + 1 if self.strict or whole < n else whole


QUORUMS = {
    "more_than_half": Quorum(Fraction(1, 2), True, "过半数"),
    "three_fifths": Quorum(Fraction(3, 5), False, "五分之三以上"),
    "two_thirds": Quorum(Fraction(2, 3), False, "三分之二以上"),
    "three_quarters": Quorum(Fraction(3, 4), False, "四分之三以上"),
    "four_fifths": Quorum(Fraction(4, 5), False, "五分之四以上"),
}
ORDER = list(QUORUMS)  # loosest first

# the meetings that vote on a project: who the members are, the statutory quorum and its source
BODIES = {
    "villagers": ("村民会议（本村十八周岁以上村民）", "本村十八周岁以上村民人数", "more_than_half", f"{LAW}第二十二条"),
    "households": ("村民会议（户代表）", "本村户数", "two_thirds", f"{LAW}第二十二条"),
    "representatives": ("村民代表会议", "村民代表会议组成人员数", "two_thirds", f"{LAW}第二十六条"),
}
SETTING_OF = {"villagers": "villagers_quorum", "households": "households_quorum",
              "representatives": "representatives_quorum"}

CONTACT_KINDS = {"party_member": "党员", "villager": "普通群众", "hardship_household": "困难家庭",
                 "enterprise": "企业"}
PERIODS = {"monthly": "每月", "quarterly": "每季度", "yearly": "每年"}


def _quorum_field(body: str) -> fields.String:
    title, members, floor, source = BODIES[body]
    allowed = ORDER[ORDER.index(floor):]
    return fields.String(
        load_default=floor, validate=validate.OneOf(allowed, labels=[QUORUMS[k].title for k in allowed],
                                                    error=f"不得低于法定人数（{source}：{QUORUMS[floor].title}）"),
        metadata={"title": f"{title}到会人数", "description": f"到会人数占{members}的比例；法定为{QUORUMS[floor].title}"
                                                          f"（{source}），本县只能从严"})


class VillageSettings(Schema):
    class Meta:
        unknown = RAISE

    approval_pct = fields.Integer(
        load_default=80, validate=validate.Range(min=51, max=100, error="须在51%至100%之间（法定为到会人员过半数通过）"),
        metadata={"title": "项目表决通过比例（%）",
                  "description": "赞成票占到会人员的比例达到此值，项目方可实施（汤汪乡做法：80%）；"
                                 "法定为到会人员过半数，本县只能从严"})
    villagers_quorum = _quorum_field("villagers")
    households_quorum = _quorum_field("households")
    representatives_quorum = _quorum_field("representatives")
    satisfaction_pct = fields.Integer(
        load_default=90, validate=validate.Range(min=1, max=100),
        metadata={"title": "两票评议满意率门槛（%）",
                  "description": "村民票、党员票满意率任一低于此值，即责成村两委限期整改（汤汪乡做法：90%）"})
    basic_counts_as_satisfied = fields.Boolean(
        load_default=True, metadata={"title": "“基本满意”计入满意率",
                                     "description": "种子文件未规定，由本县决定"})
    contact_quota = fields.Dict(
        keys=fields.String(validate=validate.OneOf(list(CONTACT_KINDS), labels=list(CONTACT_KINDS.values()))),
        values=fields.Integer(validate=validate.Range(min=0, max=100)),
        load_default=lambda: {k: 1 for k in CONTACT_KINDS},
        metadata={"title": "村民小组指导员联系定额（“四个一”）",
                  "description": "每个考核周期内每名指导员应联系的对象数"})
    contact_period = fields.String(
        load_default="monthly", validate=validate.OneOf(list(PERIODS), labels=list(PERIODS.values())),
        metadata={"title": "联系定额考核周期", "description": "种子文件未规定周期，由本县设定"})
    opinion_code_days = fields.Integer(
        load_default=30, validate=validate.Range(min=1, max=366),
        metadata={"title": "群众意见验证码有效期（日）", "description": "采集点发放的一次性验证码自发放之日起的有效天数"})
    publish_within_days = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=365),
        metadata={"title": "公开时限（日）",
                  "description": "表决、进度、完工后多少日内须公开；留空则只记录公开日期，不判定是否按时"})


def quorum(settings: dict, body: str) -> Quorum:
    return QUORUMS[settings.get(SETTING_OF[body]) or BODIES[body][2]]
