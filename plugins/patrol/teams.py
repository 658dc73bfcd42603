"""Team members (PAT-1): people of the core's person register or users, from joining to leaving."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select

from core.sdk import Conflict, Invalid, NotFound, OrgUnit, Person, get_or_404, user_cards

from .models import PatrolMember, PatrolTeam
from .permissions import MANAGE, READ

ROLES = {"leader": "队长", "member": "队员"}


def team_or_404(ctx, team_id: int, perm: str = READ) -> PatrolTeam:
    return get_or_404(ctx.session, ctx.grants, PatrolTeam, team_id, perm)


def member_or_404(ctx, member_id: int, perm: str = READ) -> PatrolMember:
    """A member whose team the caller may see (404 for anything else)."""
    m = ctx.session.scalar(select(PatrolMember).where(PatrolMember.id == member_id))
    if m is None:
        raise NotFound()
    team_or_404(ctx, m.team_id, perm)
    return m


def add(ctx, team: PatrolTeam, data: dict) -> PatrolMember:
    """Add a person of the register (``person_id``), a user (``user_id``), or a person with their
    account (both), each of the caller's scope."""
    s = ctx.session
    if team.closed_at is not None:
        raise Conflict("team_closed", "该队伍已撤销，不能再加入队员")
    if not data.get("person_id") and not data.get("user_id"):
        raise Invalid("person_id", "person_or_user_required", "请选择一名人员或一名系统用户")
    same = []
    if data.get("person_id"):
        person = s.scalar(select(Person).where(Person.id == data["person_id"]))
        if person is None or not _covers(ctx, MANAGE, person.org_unit_id):
            raise NotFound("person_not_found", "人员不存在或不在您的管辖范围内",
                           {"json": {"person_id": ["人员不存在或不在您的管辖范围内"]}})
        same.append(PatrolMember.person_id == person.id)
    if data.get("user_id"):  # a user alone, or the account of the register's person (who checks in)
        user = user_cards(s, [data["user_id"]]).get(data["user_id"])
        if user is None or not user.active or not _covers(ctx, MANAGE, user.org_unit_id):
            raise NotFound("user_not_found", "用户不存在或不在您的管辖范围内",
                           {"json": {"user_id": ["用户不存在或不在您的管辖范围内"]}})
        same.append(PatrolMember.user_id == user.id)
    if s.scalar(select(PatrolMember.id).where(PatrolMember.team_id == team.id, or_(*same),
                                              PatrolMember.left_on.is_(None))):
        raise Conflict("already_member", "此人已是本队队员")
    m = PatrolMember(team_id=team.id, person_id=data.get("person_id"), user_id=data.get("user_id"),
                     role=data.get("role") or "member", joined_on=data["joined_on"])
    s.add(m)
    s.flush()
    return m


def leave(ctx, member: PatrolMember, left_on: dt.date) -> PatrolMember:
    if member.left_on is not None:
        raise Conflict("already_left", f"该队员已于 {member.left_on:%Y-%m-%d} 离队")
    if left_on < member.joined_on:
        raise Invalid("left_on", "before_joining", "离队日期不能早于入队日期")
    member.left_on = left_on
    return member


def _covers(ctx, perm: str, unit_id: int) -> bool:
    path = ctx.session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id))
    return path is not None and ctx.grants.covers(perm, path)


def names(session, members) -> dict[int, str]:
    """Each member's name (the person's, or the user's display name), by member id."""
    pids = {m.person_id for m in members if m.person_id}
    people = dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(pids))).all()) if pids else {}
    users = user_cards(session, {m.user_id for m in members if m.user_id})
    return {m.id: people.get(m.person_id, "") if m.person_id else
            (users[m.user_id].display_name if m.user_id in users else "") for m in members}
