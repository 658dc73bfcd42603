"""Rounds (巡逻记录, PAT-2): start on a route, check in at its points, end with the results.

Compliance is points visited / points planned, in per cent; a check-in is on time inside the
route's planned window of the round's day, late after it. A round whose compliance is under the
county's threshold (``compliance_threshold``) is flagged when it ends.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from core.sdk import PHOTO_KINDS, Conflict, Invalid, NotFound, get_or_404, keep_file, module_settings, record, utcnow

from .models import PatrolCheckIn, PatrolRound
from .permissions import PATROL, READ
from .routes import SHANGHAI, route_or_404, route_points, window

RESULTS = {"caught": "抓获嫌疑人", "stopped": "制止违法犯罪", "hazards": "发现隐患",
           "disputes": "发现纠纷", "helped": "帮助群众"}


def round_or_404(ctx, round_id: int, perm: str = READ) -> PatrolRound:
    return get_or_404(ctx.session, ctx.grants, PatrolRound, round_id, perm)


def start(ctx, route_id: int) -> PatrolRound:
    """Start a round of a route the caller may patrol; its window is the route's of today (Beijing)."""
    s = ctx.session
    route = route_or_404(ctx, route_id, PATROL)
    now = utcnow()
    day = now.astimezone(SHANGHAI).date()
    a, b = window(day, route.window_start, route.window_end)
    if now < a - dt.timedelta(hours=12):  # a night window that began yesterday (00:30 of a 22:00–02:00 route)
        a, b = window(day - dt.timedelta(days=1), route.window_start, route.window_end)
    planned = len(route_points(s, route.id))
    if planned == 0:
        raise Conflict("route_empty", "该路线没有巡逻点")
    r = PatrolRound(org_unit_id=route.org_unit_id, route_id=route.id, started_by=ctx.user.id, started_at=now,
                    window_start_at=a, window_end_at=b, planned=planned)
    s.add(r)
    s.flush()
    return r


def check_in(ctx, rnd: PatrolRound, data: dict) -> PatrolCheckIn:
    """Check in at one of the route's points, once each, while the round is open."""
    s = ctx.session
    if rnd.ended_at is not None:
        raise Conflict("round_ended", "本次巡逻已结束，不能再打卡")
    if data["point_id"] not in {p.id for p in route_points(s, rnd.route_id)}:
        raise Invalid("point_id", "not_on_route", "该巡逻点不在本次巡逻的路线上")
    if (data.get("latitude") is None) != (data.get("longitude") is None):
        raise Invalid("longitude", "coordinates_incomplete", "经度和纬度须同时填写")
    if s.scalar(select(PatrolCheckIn.id).where(PatrolCheckIn.round_id == rnd.id,
                                               PatrolCheckIn.point_id == data["point_id"])):
        raise Conflict("already_checked_in", "本次巡逻已在该点打过卡")
    at = utcnow()
    c = PatrolCheckIn(round_id=rnd.id, point_id=data["point_id"], at=at,
                      on_time=rnd.window_start_at <= at <= rnd.window_end_at,
                      latitude=data.get("latitude"), longitude=data.get("longitude"), note=data.get("note"), by=ctx.user.id)
    s.add(c)
    s.flush()
    tally(s, rnd)
    return c


def check_in_or_404(ctx, check_in_id: int, perm: str = READ) -> PatrolCheckIn:
    """A check-in of a round the caller may ``perm`` (404 otherwise, as for none)."""
    c = ctx.session.scalar(select(PatrolCheckIn).where(PatrolCheckIn.id == check_in_id))
    if c is None:
        raise NotFound()
    round_or_404(ctx, c.round_id, perm)
    return c


def attach_photo(ctx, c: PatrolCheckIn, upload) -> PatrolCheckIn:
    """The photo taken at the point (an image, judged by its content); a new one replaces it."""
    stored = keep_file(ctx.session, c, "photo", upload, PHOTO_KINDS,
                       "打卡照片只能是图片（JPEG/PNG/GIF/WebP），按文件内容判断", field="photo")
    record(ctx.session, "patrol.check_in_photo", "patrol_check_in", c.id, {"filename": stored.filename})
    return c


def tally(session, rnd: PatrolRound) -> None:
    """Visited, on time, late and compliance from the round's check-ins."""
    visited, on_time = session.execute(
        select(func.count(PatrolCheckIn.id), func.count(PatrolCheckIn.id).filter(PatrolCheckIn.on_time.is_(True)))
        .where(PatrolCheckIn.round_id == rnd.id)).one()
    rnd.visited, rnd.on_time, rnd.late = visited, on_time, visited - on_time
    rnd.compliance = round(100.0 * visited / rnd.planned, 1) if rnd.planned else 0.0


def end(ctx, rnd: PatrolRound, data: dict) -> PatrolRound:
    """End the round with its results; flag it under the county's compliance threshold."""
    if rnd.ended_at is not None:
        raise Conflict("round_ended", "本次巡逻已结束")
    tally(ctx.session, rnd)
    threshold = module_settings(ctx.session, "patrol")["compliance_threshold"]
    rnd.ended_at, rnd.threshold = utcnow(), threshold
    rnd.flagged = (rnd.compliance or 0.0) < threshold
    for key in RESULTS:
        setattr(rnd, key, data.get(key) or 0)
    rnd.note = data.get("note")
    return rnd


def check_ins(session, rnd: PatrolRound) -> list[PatrolCheckIn]:
    return list(session.scalars(select(PatrolCheckIn).where(PatrolCheckIn.round_id == rnd.id).order_by(PatrolCheckIn.at)))

