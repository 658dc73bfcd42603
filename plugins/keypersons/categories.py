"""The categories of key persons (重点人员) and each one's typed fields.

The categories are those of issue 20 and POLICY-RULES JNT-4 (seed 000 doc 5: 暂住人口,
高危人口, 刑释解教人员; seed 003: 社区服刑人员又犯罪); the fields of the released prisoners'
and community-corrections registers are the ones the issue names (offence, sentence,
release date, risk assessment, hand-over date, placement, help, re-offence; category,
start/end, correction team, absconding with cause and fix, rewards and penalties). The
other categories keep a free note: their fields are the county's to describe, never
invented here. A county switches categories on in the module's settings.

The category of a person is sensitive (PIPL Art. 28): it is stored encrypted with a blind
index, and never written into a URL, a page title, a log line or a job payload.
"""
from __future__ import annotations

from dataclasses import dataclass

from marshmallow import RAISE, Schema, fields, validate

from core.sdk import blind_index

TEXT = validate.Length(max=500)


class _Fields(Schema):
    class Meta:
        unknown = RAISE


class ReleasedFields(_Fields):
    """刑满释放人员."""
    offence = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={"title": "罪名"})
    sentence = fields.String(load_default="", validate=validate.Length(max=50), metadata={"title": "刑期"})
    release_date = fields.Date(required=True, metadata={"title": "释放日期"})
    risk_assessment = fields.String(load_default="", validate=TEXT, metadata={"title": "风险评估"})
    handover_date = fields.Date(load_default=None, allow_none=True, metadata={"title": "衔接日期"})
    placed = fields.Boolean(load_default=False, metadata={"title": "已安置"})
    placement = fields.String(load_default="", validate=TEXT, metadata={"title": "安置情况"})
    helped = fields.Boolean(load_default=False, metadata={"title": "已落实帮教"})
    help = fields.String(load_default="", validate=TEXT, metadata={"title": "帮教情况"})
    reoffended = fields.Boolean(load_default=False, metadata={"title": "重新犯罪"})


class CorrectionsFields(_Fields):
    """社区矫正对象."""
    correction_category = fields.String(required=True, validate=validate.Length(min=1, max=50),
                                        metadata={"title": "矫正类别"})
    start_date = fields.Date(required=True, metadata={"title": "矫正起始日期"})
    end_date = fields.Date(required=True, metadata={"title": "矫正终止日期"})
    team = fields.String(load_default="", validate=TEXT, metadata={"title": "矫正小组"})
    absconding = fields.String(load_default="none", metadata={"title": "脱管漏管"},
                               validate=validate.OneOf(["none", "absconded", "missed"], labels=["无", "脱管", "漏管"]))
    absconding_cause = fields.String(load_default="", validate=TEXT, metadata={"title": "脱管漏管原因"})
    absconding_fix = fields.String(load_default="", validate=TEXT, metadata={"title": "纠正措施"})
    rewards_penalties = fields.String(load_default="", validate=TEXT, metadata={"title": "奖惩情况"})
    reoffended = fields.Boolean(load_default=False, metadata={"title": "又犯罪"})


class NoteFields(_Fields):
    """A category whose register the county describes in words."""
    note = fields.String(load_default="", validate=TEXT, metadata={"title": "情况说明"})


@dataclass(frozen=True)
class Category:
    key: str
    title: str
    schema: type[Schema]

    @property
    def bidx(self) -> str:
        """The blind index stored for this category (the category itself is encrypted)."""
        return blind_index(f"keypersons.category:{self.key}")


CATEGORIES = {c.key: c for c in (
    Category("released", "刑满释放人员", ReleasedFields),
    Category("corrections", "社区矫正对象", CorrectionsFields),
    Category("drug", "吸毒人员", NoteFields),
    Category("concern", "重点关注人员", NoteFields),   # the county names it (settings: concern_title)
    Category("youth", "重点青少年", NoteFields),
    Category("floating", "流动人口", NoteFields),
)}
RISK_LEVELS = {"high": "高", "medium": "中", "low": "低"}


def title_of(key: str, settings: dict) -> str:
    """The category's title as the county calls it."""
    if key == "concern" and settings.get("concern_title"):
        return settings["concern_title"]
    return CATEGORIES[key].title


def enabled(settings: dict) -> list[Category]:
    return [CATEGORIES[k] for k in settings.get("categories", ()) if k in CATEGORIES]


def field_titles(key: str) -> list[tuple[str, str]]:
    """(name, Chinese title) of a category's fields, in their declared order."""
    return [(name, f.metadata.get("title", name)) for name, f in CATEGORIES[key].schema().fields.items()]


def choice_label(key: str, name: str, value) -> str:
    """A stored value as a page shows it: a choice by its label, yes/no in Chinese."""
    field = CATEGORIES[key].schema().fields.get(name)
    if isinstance(value, bool):
        return "是" if value else "否"
    if value is None:
        return ""
    for v in getattr(field, "validators", ()):
        if isinstance(v, validate.OneOf) and v.labels:
            return dict(zip(v.choices, v.labels)).get(value, str(value))
    return str(value)
