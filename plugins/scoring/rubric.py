"""A rubric: categories of items with points, each item scored from an indicator by a rule,
entered by an assessor (manual), or checked yes/no (check). Validation names the field at
fault; the rules turn an indicator's figure into points and say how in words."""
from __future__ import annotations

import secrets

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

SOURCES = {"indicator": "指标自动计分", "manual": "人工评分", "check": "检查项（是/否）"}
RULES = {"deduct": "每发生一次扣分，扣至最低分为止", "bands": "按数值分档计分",
         "threshold": "达到标准得满分，否则不得分", "share": "按完成目标的比例计分"}
DIRECTIONS = {"at_most": "不超过标准值", "at_least": "不低于标准值"}
# an indicator with nothing to measure in the period (a rate of decisions when none fell due)
NO_DATA = {"full": "得满分", "zero": "不得分"}
KINDS = {"quarter": "季度", "half": "半年", "year": "年度"}
ITEM_KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,15}$", error="代码须为小写字母、数字和下划线")


def new_key() -> str:
    return "i" + secrets.token_hex(3)


class Band(Schema):
    """One band: a figure in [low, high) earns ``points`` (no high: and above)."""
    class Meta:
        unknown = RAISE
    low = fields.Float(required=True, validate=validate.Range(min=-1e9, max=1e9), metadata={"title": "下限（含）"})
    high = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-1e9, max=1e9),
                        metadata={"title": "上限（不含）"})
    points = fields.Float(required=True, validate=validate.Range(min=-1e6, max=1e6), metadata={"title": "得分"})


class Item(Schema):
    class Meta:
        unknown = RAISE
    key = fields.String(load_default=None, allow_none=True, validate=ITEM_KEY)
    category = fields.String(required=True, validate=validate.Length(min=1, max=40), metadata={"title": "类别"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={"title": "考核项目"})
    points = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=10000), metadata={"title": "分值"})
    source = fields.String(required=True, validate=validate.OneOf(list(SOURCES)), metadata={"title": "计分方式"})
    indicator = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100),
                              metadata={"title": "指标"})
    rule = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(list(RULES)),
                         metadata={"title": "计分规则"})
    per_event = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10000),
                             metadata={"title": "每次扣分"})
    floor = fields.Float(load_default=0.0, allow_none=True, validate=validate.Range(min=-10000, max=10000),
                         metadata={"title": "最低得分"})
    threshold = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-1e9, max=1e9),
                             metadata={"title": "标准值"})
    direction = fields.String(load_default="at_most", validate=validate.OneOf(list(DIRECTIONS)),
                              metadata={"title": "达标方向"})
    target = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=1e9),
                          metadata={"title": "目标值"})
    no_data = fields.String(load_default="full", dump_default="full", validate=validate.OneOf(list(NO_DATA)),
                            metadata={"title": "本期无数据时"})
    bands = fields.List(fields.Nested(Band), load_default=list, validate=validate.Length(max=20),
                        metadata={"title": "分档"})
    veto = fields.Boolean(load_default=False, metadata={"title": "一票否决项"})


class RubricInput(Schema):
    """A rubric version as saved: the level assessed, the year, the title and the items. The
    indicators known and the county's settings are given by the caller (``check``)."""
    class Meta:
        unknown = RAISE
    level = fields.String(required=True, validate=validate.Length(min=1, max=32), metadata={"title": "考核对象层级"})
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100), metadata={"title": "年度"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={"title": "细则名称"})
    items = fields.List(fields.Nested(Item), required=True, validate=validate.Length(min=1, max=200),
                        metadata={"title": "考核项目"})

    @validates_schema
    def _keys_unique(self, data, **kw):
        keys = [i.get("key") for i in data.get("items", []) if i.get("key")]
        if len(set(keys)) != len(keys):
            raise ValidationError("考核项目代码重复", "items")


def _item_errors(item: dict, indicators: dict) -> dict[str, list[str]]:
    """What is wrong with one item, by field."""
    err: dict[str, list[str]] = {}
    src, rule = item["source"], item.get("rule")
    if src == "indicator":
        if not item.get("indicator"):
            err["indicator"] = ["请选择指标"]
        elif item["indicator"] not in indicators:
            err["indicator"] = ["未知指标，或该指标所属模块未启用"]
        if item.get("veto"):
            if item.get("threshold") is None:
                err["threshold"] = ["一票否决项须填标准值：指标达到此数即否决"]
            return err
        if rule is None:
            err["rule"] = ["请选择计分规则"]
        elif rule == "deduct" and item.get("per_event") is None:
            err["per_event"] = ["请填写每次扣分"]
        elif rule == "threshold" and item.get("threshold") is None:
            err["threshold"] = ["请填写标准值"]
        elif rule == "share" and not item.get("target"):
            err["target"] = ["请填写大于0的目标值"]
        elif rule == "bands":
            err.update(_band_errors(item.get("bands") or []))
    elif src == "manual" and item.get("veto"):
        err["veto"] = ["人工评分项不能设为一票否决，请用检查项或指标项"]
    return err


def _band_errors(bands: list[dict]) -> dict:
    if not bands:
        return {"bands": ["请至少填写一档"]}
    out: dict = {}
    for i, b in enumerate(bands):
        hi = b.get("high")
        if hi is not None and hi <= b["low"]:
            out.setdefault("bands", {}).setdefault(i, {})["high"] = ["上限须大于下限"]
            continue
        for j, other in enumerate(bands[:i]):
            ohi = other.get("high")
            if (ohi is None or b["low"] < ohi) and (hi is None or other["low"] < hi):
                out.setdefault("bands", {}).setdefault(i, {})["low"] = [f"与第{j + 1}档的区间重叠"]
                break
    return out


def check(data: dict, indicators: dict, settings: dict) -> dict:
    """Errors of a loaded rubric against the county's indicators and settings, by field (empty: fine)."""
    errors: dict = {}
    for n, item in enumerate(data["items"]):
        e = _item_errors(item, indicators)
        if e:
            errors.setdefault("items", {})[n] = e
    if settings.get("total_must_match"):
        total = sum(i["points"] for i in data["items"] if not i.get("veto"))
        want = settings.get("total_points", 100.0)
        if abs(total - want) > 1e-6:
            errors.setdefault("items", {}).setdefault("_total", [f"各计分项分值合计{fmt(total)}分，须为满分{fmt(want)}分"])
    return errors


def normalise(data: dict) -> dict:
    """Keys for new items; a veto item carries no points."""
    for item in data["items"]:
        item["key"] = item.get("key") or new_key()
        if item.get("veto"):
            item["points"] = 0.0
    return data


def fmt(x: float | None) -> str:
    if x is None:
        return "—"
    return str(int(x)) if float(x).is_integer() else f"{x:.2f}".rstrip("0")


# --- the rules --------------------------------------------------------------------------------

def indicator_points(item: dict, figure: float) -> tuple[float, str]:
    """Points an indicator item earns for ``figure`` and the rule that made them, in words."""
    full, rule = item["points"], item.get("rule")
    if rule == "deduct":
        per, floor = item.get("per_event") or 0.0, item.get("floor") or 0.0
        pts = max(floor, full - per * figure)
        return pts, f"满分{fmt(full)}分，每次扣{fmt(per)}分，最低{fmt(floor)}分：{fmt(full)} − {fmt(per)} × {fmt(figure)} → {fmt(pts)}分"
    if rule == "bands":
        for b in item.get("bands") or []:
            if figure >= b["low"] and (b.get("high") is None or figure < b["high"]):
                upper = "以上" if b.get("high") is None else f"至{fmt(b['high'])}（不含）"
                return b["points"], f"数值{fmt(figure)}落在{fmt(b['low'])}{upper}一档，得{fmt(b['points'])}分"
        return 0.0, f"数值{fmt(figure)}不在任何一档，得0分"
    if rule == "threshold":
        t = item.get("threshold") or 0.0
        met = figure <= t if item.get("direction", "at_most") == "at_most" else figure >= t
        word = "不超过" if item.get("direction", "at_most") == "at_most" else "不低于"
        return (full if met else 0.0), f"标准：{word}{fmt(t)}；实际{fmt(figure)}，{'达标' if met else '未达标'}，得{fmt(full if met else 0.0)}分"
    if rule == "share":
        target = item.get("target") or 1.0
        pts = round(full * min(1.0, max(0.0, figure / target)), 2)
        return pts, f"目标{fmt(target)}，完成{fmt(figure)}，得满分{fmt(full)}分的{fmt(round(min(1.0, max(0.0, figure / target)) * 100, 1))}%：{fmt(pts)}分"
    return 0.0, "未设计分规则"


def no_data_points(item: dict, indicator_title: str) -> tuple[float, str]:
    """Points of an indicator item whose indicator had nothing to measure in the period, and why."""
    full = item["points"]
    pts = full if item.get("no_data", "full") == "full" else 0.0
    return pts, f"本期没有可计算“{indicator_title}”的数据，按细则无数据时{NO_DATA[item.get('no_data', 'full')]}：{fmt(pts)}分"


def vetoes(item: dict, figure: float | None, passed: bool | None) -> bool:
    """Whether a veto item fires: an indicator at or above its threshold, a check answered no."""
    if not item.get("veto"):
        return False
    if item["source"] == "indicator":
        return figure is not None and figure >= (item.get("threshold") or 0.0)
    return passed is False
