"""Cameras (雪亮工程, PAT-6): the register, inspections, and repair tickets on the case engine.

An inspection that finds a fault (label, housing, cables or picture) marks the camera faulty and
raises a repair ticket — a ``patrol.repair`` case whose limit (rule ``repair``) is the county's
setting of that case type — so the core's sweep makes it overdue and the core's supervision
(督办) follows it like any case. Repairing closes the ticket and puts the camera back to working.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.sdk import (Case, CaseType, Conflict, DeadlineRule, Invalid, Register, State, Transition, get_or_404, register_case,
                      request_work)

from .models import PatrolCamera, PatrolInspection
from .permissions import CAMERA_INSPECT, CAMERA_MANAGE, READ

REPAIR = "patrol.repair"
STATES = {"working": "正常", "faulty": "故障", "offline": "离线", "removed": "已拆除"}
CHECKS = {"label_ok": "标识", "housing_ok": "外壳", "cables_ok": "线缆", "picture_ok": "画面"}


def _check_camera(ctx, camera: PatrolCamera, data: dict) -> None:
    if (data.get("latitude") is None) != (data.get("longitude") is None):
        raise Invalid("longitude", "coordinates_incomplete", "经度和纬度须同时填写")


CAMERAS = Register(
    name="cameras", title=("监控探头", "Cameras"), model=PatrolCamera, read=READ, write=CAMERA_MANAGE,
    fields={"code": fields.String(load_default=None, validate=validate.Regexp(r"^\d{20}$", error="设备编码为20位数字"),
                                  metadata={"title": "设备编码（GB/T 28181）"}),
            "place": fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={"title": "安装位置"}),
            "camera_type": fields.String(load_default=None, validate=validate.Length(max=30), metadata={"title": "类型"}),
            "owner": fields.String(load_default=None, validate=validate.Length(max=60), metadata={"title": "产权单位"}),
            "installed_on": fields.Date(load_default=None, metadata={"title": "安装日期"}),
            "state": fields.String(load_default="working", validate=validate.OneOf(list(STATES), labels=list(STATES.values())),
                                   metadata={"title": "状态"}),
            "latitude": fields.Float(load_default=None, validate=validate.Range(min=-90, max=90), metadata={"title": "纬度"}),
            "longitude": fields.Float(load_default=None, validate=validate.Range(min=-180, max=180),
                                      metadata={"title": "经度"})},
    filters=("state",),
    columns=(("org_unit", ("所属单位", "Unit")), ("place", ("安装位置", "Place")), ("code", ("设备编码", "Code")),
             ("camera_type", ("类型", "Type")), ("owner", ("产权单位", "Owner")), ("state", ("状态", "State")),
             ("installed_on", ("安装日期", "Installed"))),
    close_title=("拆除", "Remove"), on_create=_check_camera, menu_order=63)


def inspect(ctx, camera: PatrolCamera, data: dict) -> PatrolInspection:
    """Record an inspection; a fault marks the camera faulty and raises a repair ticket."""
    if camera.closed_at is not None:
        raise Conflict("camera_removed", "该探头已拆除")
    row = PatrolInspection(camera_id=camera.id, by=ctx.user.id, note=data.get("note"),
                           **{k: data[k] for k in CHECKS})
    ctx.session.add(row)
    faults = [title for k, title in CHECKS.items() if not data[k]]
    if faults:
        camera.state = "faulty"
        open_ticket = ctx.session.scalar(select(PatrolInspection.ticket_case_id).where(
            PatrolInspection.camera_id == camera.id, PatrolInspection.ticket_case_id.is_not(None))
            .order_by(PatrolInspection.id.desc()).limit(1))
        case = None
        if open_ticket is not None:  # one open ticket per camera
            case = ctx.session.scalar(select(Case).where(Case.id == open_ticket, Case.state == "open"))
        if case is None:
            w = request_work()
            case = register_case(w, w.types[REPAIR], {
                "title": f"监控维修：{camera.place}", "org_unit_id": camera.org_unit_id, "channel": "other",
                "content": f"巡检发现{'、'.join(faults)}异常。{data.get('note') or ''}".strip()})
        row.ticket_case_id = case.id
    ctx.session.flush()
    return row


class RepairedInput(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=500), metadata={"title": "维修情况"})


def _camera_of(session, case) -> PatrolCamera | None:
    camera_id = session.scalar(select(PatrolInspection.camera_id).where(PatrolInspection.ticket_case_id == case.id)
                               .limit(1))
    return session.scalar(select(PatrolCamera).where(PatrolCamera.id == camera_id)) if camera_id else None


def after_repaired(session, case, data: dict) -> None:
    camera = _camera_of(session, case)
    if camera is not None and camera.closed_at is None:
        camera.state = "working"


REPAIR_TICKET = CaseType(
    key=REPAIR, title="监控维修工单", title_en="Camera repair ticket", number_format="修〔{year}〕{seq:05d}",
    states=(State("open", "待维修", "Open"), State("repaired", "已修复", "Repaired", closed=True)),
    initial="open",
    transitions=(Transition("repair", "已修复", ("open",), "repaired", CAMERA_MANAGE, "Repaired", input=RepairedInput,
                            after=after_repaired),),
    deadlines=(DeadlineRule("repair", "维修时限", 7, "calendar_days", start="registered", stop=("repair",),
                            source="本县规定"),),
    read_permission=READ, create_permission=CAMERA_INSPECT,
)


def camera_or_404(ctx, camera_id: int, perm: str = READ) -> PatrolCamera:
    return get_or_404(ctx.session, ctx.grants, PatrolCamera, camera_id, perm)
