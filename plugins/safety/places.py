"""Places to inspect (SAF-1): the extra fields a place type declares, validated as a schema."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from core.sdk import Invalid, OrgUnit, get_or_404

from .models import Place
from .permissions import MANAGE


def type_fields(settings: dict, place_type: str) -> list[dict]:
    """The extra fields declared for ``place_type`` (settings ``place_fields``), in order."""
    return [f for f in settings.get("place_fields") or [] if f.get("place_type") == place_type]


def _field(spec: dict) -> fields.Field:
    kw = {"required": bool(spec.get("required")), "metadata": {"title": spec["title"]}}
    kind = spec["kind"]
    if kind == "number":
        return fields.Float(validate=validate.Range(min=0, max=1e12), **kw)
    if kind == "date":
        return fields.Date(**kw)
    if kind == "yes_no":
        return fields.Boolean(**kw)
    if kind == "choice":
        return fields.String(validate=validate.OneOf(spec.get("choices") or []), **kw)
    return fields.String(validate=validate.Length(min=1, max=200), **kw)


def extra_schema(settings: dict, place_type: str) -> type[Schema]:
    """The marshmallow schema of a place type's extra fields (unknown keys refused)."""
    attrs = {f["key"]: _field(f) for f in type_fields(settings, place_type)}
    attrs["Meta"] = type("Meta", (), {"unknown": RAISE})
    return type(f"SafetyPlaceExtra_{place_type}", (Schema,), attrs)


def validate_extra(settings: dict, place_type: str, raw: dict | None) -> dict:
    """The extra fields loaded and JSON-ready; 422 naming the first field at fault."""
    try:
        loaded = extra_schema(settings, place_type)().load(raw or {})
    except ValidationError as exc:
        key = sorted(exc.messages)[0]
        titles = {f["key"]: f["title"] for f in type_fields(settings, place_type)}
        if key not in titles:
            raise Invalid(f"extra.{key}", "unknown_field", "该场所类型没有这一登记项目") from None
        raise Invalid(f"extra.{key}", "invalid_extra", f"{titles[key]}：{_first(exc.messages[key])}") from None
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in loaded.items()}


def _first(messages) -> str:
    text = messages[0] if isinstance(messages, list) and messages else str(messages)
    return {"Missing data for required field.": "必填", "Not a valid number.": "须为数字",
            "Not a valid date.": "日期格式不正确", "Not a valid boolean.": "须为是或否",
            "Must be one of:": "不是可选的值"}.get(text, "不是可选的值" if text.startswith("Must be one of")
                                               else "超出范围" if text.startswith("Must be greater") else "格式不正确")


def create(ctx, data: dict) -> Place:
    """Register a place on a unit in the caller's ``safety.manage`` scope."""
    settings = ctx.plugins["safety"]
    get_or_404(ctx.session, ctx.grants, OrgUnit, data["org_unit_id"], MANAGE)
    if data["place_type"] not in {t["key"] for t in settings["place_types"]}:
        raise Invalid("place_type", "unknown_place_type", "请从列表中选择场所类型")
    if (data.get("latitude") is None) != (data.get("longitude") is None):
        raise Invalid("longitude" if data.get("latitude") is not None else "latitude", "coordinates_incomplete",
                      "经度和纬度须同时填写")
    extra = validate_extra(settings, data["place_type"], data.get("extra"))
    place = Place(org_unit_id=data["org_unit_id"], place_type=data["place_type"], name=data["name"],
                  address=data.get("address") or "", responsible_person=data["responsible_person"],
                  latitude=data.get("latitude"), longitude=data.get("longitude"), extra=extra,
                  created_by_id=ctx.user.id if ctx.user else None)
    ctx.session.add(place)
    ctx.session.flush()
    return place


def titles(settings: dict) -> dict[str, str]:
    return {t["key"]: t["title"] for t in settings.get("place_types") or []}


def extra_display(settings: dict, place: Place) -> list[tuple[str, str]]:
    """The extra fields as (title, value in words), for pages and the ledger."""
    out = []
    for f in type_fields(settings, place.place_type):
        v = (place.extra or {}).get(f["key"])
        if v is None:
            continue
        if f["kind"] == "yes_no":
            v = "是" if v else "否"
        elif f["kind"] == "number" and float(v).is_integer():
            v = int(v)
        out.append((f["title"], str(v)))
    return out
