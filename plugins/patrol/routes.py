"""Routes (ordered points in a planned window) and the duty roster (PAT-2).

A roster entry puts one team member on a route for a shift of a day. The same person (the same
person of the register, or the same user) may not be on two shifts that overlap, on any route of
any team: the entry is refused with both names (409 ``duty_overlap``).
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select

from core.sdk import Conflict, Invalid, NotFound, OrgUnit, get_or_404, within

from .models import PatrolDuty, PatrolMember, PatrolPoint, PatrolRoute, PatrolRoutePoint, PatrolTeam
from .permissions import MANAGE, READ
from .teams import member_or_404, names

SHANGHAI = ZoneInfo("Asia/Shanghai")


def window(day: dt.date, start: dt.time, end: dt.time) -> tuple[dt.datetime, dt.datetime]:
    """A daily window on ``day`` as two moments (Beijing time); an end not after the start is the next day's."""
    a = dt.datetime.combine(day, start, SHANGHAI)
    b = dt.datetime.combine(day if end > start else day + dt.timedelta(days=1), end, SHANGHAI)
    return a, b


def route_or_404(ctx, route_id: int, perm: str = READ) -> PatrolRoute:
    return get_or_404(ctx.session, ctx.grants, PatrolRoute, route_id, perm)


def route_points(session, route_id: int) -> list[PatrolPoint]:
    return list(session.scalars(select(PatrolPoint).join(
        PatrolRoutePoint, (PatrolRoutePoint.point_id == PatrolPoint.id) & (PatrolRoutePoint.tenant_id == PatrolPoint.tenant_id))
        .where(PatrolRoutePoint.route_id == route_id).order_by(PatrolRoutePoint.position)))


def create_route(ctx, data: dict) -> PatrolRoute:
    """A route of a unit the caller manages, its points (in order) open points of that unit's subtree."""
    s = ctx.session
    unit = get_or_404(s, ctx.grants, OrgUnit, data["org_unit_id"], MANAGE)
    if data.get("team_id"):
        team = s.scalar(select(PatrolTeam).where(PatrolTeam.id == data["team_id"]))
        if team is None or not _under(s, team.org_unit_id, unit.path):
            raise NotFound("team_not_found", "队伍不存在或不属于该单位", {"json": {"team_id": ["队伍不存在或不属于该单位"]}})
    ids = data["point_ids"]
    if len(set(ids)) != len(ids):
        raise Invalid("point_ids", "duplicate_point", "同一巡逻点在路线中只能出现一次")
    found = {p.id: p for p in s.scalars(select(PatrolPoint).where(PatrolPoint.id.in_(ids), PatrolPoint.closed_at.is_(None),
                                                                    PatrolPoint.org_unit_id.in_(
                                                                        select(OrgUnit.id).where(within(unit.path)))))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise Invalid("point_ids", "unknown_point", "巡逻点不存在、已停用或不在该单位辖区内")
    if data["window_start"] == data["window_end"]:
        raise Invalid("window_end", "empty_window", "计划时段的开始和结束不能相同")
    route = PatrolRoute(org_unit_id=unit.id, team_id=data.get("team_id"), name=data["name"],
                        window_start=data["window_start"], window_end=data["window_end"], created_by=ctx.user.id)
    s.add(route)
    s.flush()
    s.add_all(PatrolRoutePoint(route_id=route.id, point_id=pid, position=i + 1) for i, pid in enumerate(ids))
    s.flush()
    return route


def _under(session, unit_id: int, path: str) -> bool:
    p = session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id))
    return p is not None and p.startswith(path)


def add_duty(ctx, data: dict) -> PatrolDuty:
    """Put a member on a route for a shift; refuse an overlap with any shift of the same person."""
    s = ctx.session
    route = route_or_404(ctx, data["route_id"], MANAGE)
    member = member_or_404(ctx, data["member_id"], MANAGE)
    if member.left_on is not None and member.left_on < data["duty_date"]:
        raise Invalid("member_id", "member_left", "该队员在值班日期前已离队")
    if member.joined_on > data["duty_date"]:
        raise Invalid("member_id", "member_not_yet", "该队员在值班日期尚未入队")
    if data["shift_start"] == data["shift_end"]:
        raise Invalid("shift_end", "empty_shift", "班次的开始和结束不能相同")
    starts, ends = window(data["duty_date"], data["shift_start"], data["shift_end"])
    same = or_(*([PatrolDuty.person_id == member.person_id] if member.person_id else []),
               *([PatrolDuty.user_id == member.user_id] if member.user_id else []))
    clash = s.scalar(select(PatrolDuty).where(same, PatrolDuty.starts_at < ends, PatrolDuty.ends_at > starts)
                     .order_by(PatrolDuty.starts_at).limit(1))
    if clash is not None:
        raise Conflict("duty_overlap", overlap_message(s, member, clash),
                       {"json": {"member_id": [overlap_message(s, member, clash)]}})
    duty = PatrolDuty(org_unit_id=route.org_unit_id, route_id=route.id, member_id=member.id, person_id=member.person_id,
                      user_id=member.user_id, duty_date=data["duty_date"], shift_start=data["shift_start"],
                      shift_end=data["shift_end"], starts_at=starts, ends_at=ends, created_by=ctx.user.id)
    s.add(duty)
    s.flush()
    return duty


def overlap_message(session, member: PatrolMember, clash: PatrolDuty) -> str:
    """「张三 已排在 2027-03-01 20:00–23:00 的“东湖夜巡线”班次，时间重叠」: who, and the shift it clashes with."""
    name = names(session, [member])[member.id] or "该队员"
    route = session.scalar(select(PatrolRoute.name).where(PatrolRoute.id == clash.route_id)) or ""
    return (f"{name} 已排在 {clash.duty_date:%Y-%m-%d} {clash.shift_start:%H:%M}–{clash.shift_end:%H:%M} "
            f"的“{route}”班次，与本班次时间重叠")


def members_of_routes(session, routes) -> list[PatrolMember]:
    """The current members of the routes' teams (for the roster form)."""
    team_ids = {r.team_id for r in routes if r.team_id}
    if not team_ids:
        return []
    return list(session.scalars(select(PatrolMember).where(PatrolMember.team_id.in_(team_ids),
                                                            or_(PatrolMember.left_on.is_(None),
                                                                PatrolMember.left_on >= dt.datetime.now(SHANGHAI).date()))
                                .order_by(PatrolMember.team_id, PatrolMember.id)))
