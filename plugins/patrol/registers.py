"""The module's registers: teams (PAT-1) and patrol points (PAT-2, PAT-5). The core serves
their API, pages, export and audit words (docs/plugin_registers.md); the kinds and lines of
defence are the county's taxonomies, chosen from its settings, never typed."""
from __future__ import annotations

from marshmallow import fields, validate
from sqlalchemy import select

from core.sdk import Invalid, OrgUnit, Register, module_settings

from .models import PatrolPoint, PatrolTeam
from .permissions import MANAGE, READ


def _settings(session) -> dict:
    return module_settings(session, "patrol") or {}


def team_kind_choices(work) -> list[tuple[str, str]]:
    return [(k["key"], k["title"]) for k in _settings(work.session).get("team_kinds", [])]


def line_choices(work) -> list[tuple[str, str]]:
    return [(k["key"], k["title"]) for k in _settings(work.session).get("lines_of_defence", [])]


def _check_team(ctx, team: PatrolTeam, data: dict) -> None:
    """The kind is one of the county's, and a kind bound to a level only on a unit of that level."""
    kind = next((k for k in ctx.plugins["patrol"]["team_kinds"] if k["key"] == data["kind"]), None)
    if kind is None:
        raise Invalid("kind", "unknown_kind", "请选择本县设定的队伍类别")
    if kind.get("level"):
        level = ctx.session.scalar(select(OrgUnit.level).where(OrgUnit.id == data["org_unit_id"]))
        if level != kind["level"]:
            raise Invalid("org_unit_id", "wrong_level", f"“{kind['title']}”只能建在规定层级的单位")
    team.kind_title = kind["title"]


def _check_point(ctx, point: PatrolPoint, data: dict) -> None:
    line = next((k for k in ctx.plugins["patrol"]["lines_of_defence"] if k["key"] == data["line"]), None)
    if line is None:
        raise Invalid("line", "unknown_line", "请选择本县设定的治安防线")
    if (data.get("latitude") is None) != (data.get("longitude") is None):
        raise Invalid("longitude", "coordinates_incomplete", "经度和纬度须同时填写")
    point.line_title = line["title"]


TEAMS = Register(
    name="teams", title=("巡防队伍", "Patrol teams"), model=PatrolTeam, read=READ, write=MANAGE,
    fields={"name": fields.String(required=True, validate=validate.Length(min=1, max=60), metadata={"title": "队伍名称"}),
            "kind": fields.String(required=True, validate=validate.Length(min=1, max=32),
                                  metadata={"title": "队伍类别", "choices_from": team_kind_choices}),
            "equipment": fields.String(load_default=None, validate=validate.Length(max=200),
                                       metadata={"title": "配发装备"})},
    columns=(("org_unit", ("所属单位", "Unit")), ("name", ("队伍名称", "Name")), ("kind_title", ("队伍类别", "Kind")),
             ("equipment", ("配发装备", "Equipment")), ("status", ("状态", "Status")),
             ("created_at", ("组建登记时间", "Recorded at"))),
    close_title=("撤销队伍", "Disband"), on_create=_check_team, menu_order=60)

POINTS = Register(
    name="points", title=("巡逻点", "Patrol points"), model=PatrolPoint, read=READ, write=MANAGE,
    fields={"name": fields.String(required=True, validate=validate.Length(min=1, max=60), metadata={"title": "巡逻点名称"}),
            "line": fields.String(required=True, validate=validate.Length(min=1, max=32),
                                  metadata={"title": "治安防线", "choices_from": line_choices}),
            "latitude": fields.Float(load_default=None, validate=validate.Range(min=-90, max=90),
                                     metadata={"title": "纬度"}),
            "longitude": fields.Float(load_default=None, validate=validate.Range(min=-180, max=180),
                                      metadata={"title": "经度"})},
    columns=(("org_unit", ("所属单位", "Unit")), ("name", ("巡逻点名称", "Name")), ("line_title", ("治安防线", "Line")),
             ("latitude", ("纬度", "Latitude")), ("longitude", ("经度", "Longitude")), ("status", ("状态", "Status"))),
    close_title=("停用", "Retire"), on_create=_check_point, menu_order=61)
