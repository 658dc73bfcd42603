"""The timeline of a case: every act, with its actor and time, and the plugins told of it."""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from core.authz import Grants
from core.cases.models import Case, CaseEvent
from core.context import Actor, acting_as, current_actor, current_request_id
from core.db import utcnow
from core.models import User
from core.runtime import pingan


@dataclass
class Work:
    """Everything an act on cases needs: the session, the plugins, the county's enabled
    modules and who acts (a user with grants, or the system when ``user`` is None)."""

    session: Session
    host: object                     # core.plugins.PluginHost
    enabled: dict
    grants: Grants = field(default_factory=lambda: Grants(None))
    user: User | None = None

    @property
    def types(self) -> dict:
        return self.host.case_types_for(self.enabled)  # type: ignore[attr-defined]

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None


@contextlib.contextmanager
def unattributed(w: Work) -> Iterator[Work]:
    """``w``'s act recorded as the platform's (系统): no user on the case it registers or on its
    timeline — an anonymous report (a patrol clue) its handlers must not trace to the reporter.
    The caller checks the reporter's scope first: a Work without a user skips the engine's."""
    with acting_as(Actor(None, "system:anonymous"), current_request_id()):
        yield dataclasses.replace(w, user=None)


def request_work() -> Work:
    """The :class:`Work` of the current web request (its session, county, user and grants)."""
    from core.request import current
    ctx = current()
    return Work(ctx.session, pingan().plugins, ctx.plugins, ctx.grants, ctx.user)


def add(w: Work, case: Case, kind: str, note: str | None = None, data: dict | None = None,
        from_state: str | None = None, to_state: str | None = None, unit_id: int | None = None,
        at: dt.datetime | None = None) -> CaseEvent:
    event = build(w, case, kind, note, data, from_state, to_state, unit_id, at)
    w.session.add(event)
    w.session.flush()
    w.host.case_event(w.session, w.enabled, case, event)  # type: ignore[attr-defined]
    return event


def build(w: Work, case: Case, kind: str, note: str | None = None, data: dict | None = None,
          from_state: str | None = None, to_state: str | None = None, unit_id: int | None = None,
          at: dt.datetime | None = None) -> CaseEvent:
    """The event row :func:`add` records (not added to the session): also what a bulk
    registration (``core.cases.bulk``) adds, many at a time, so both write the same row."""
    actor = current_actor()
    data = dict(data or {})
    if w.user is not None and getattr(w.user, "org_unit_id", None) and "by_unit_id" not in data:
        data["by_unit_id"] = w.user.org_unit_id  # the unit the actor acted for, then (documents state it)
    return CaseEvent(case_id=case.id, kind=kind, at=at or utcnow(), actor_id=w.user_id or actor.user_id,
                     actor_label=actor.label[:100], note=note, data=data, from_state=from_state,
                     to_state=to_state, org_unit_id=unit_id)


def actor_names(session, events) -> dict[int, str]:
    """Who acted, as people read it: each event's actor id → the user's display name (one query)."""
    from sqlalchemy import select

    from core.models import User
    ids = {e.actor_id for e in events if e.actor_id}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())


def actor_title(event, names: dict[int, str]) -> str:
    """The display name of the user who acted; “系统” for the platform's own jobs and commands."""
    if event.actor_id and event.actor_id in names:
        return names[event.actor_id]
    label = event.actor_label or ""
    return "系统" if label.startswith(("system:", "cli:")) else label
