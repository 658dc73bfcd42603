"""Notifications: the in-app inbox (待办 and messages), e-mail, and plugin channels (SMS …).

:func:`notify` writes one inbox entry per user in the caller's transaction; its ``key``
makes a repeated call (a retried job) a no-op. For each channel that can reach the user —
e-mail when ``PINGAN_SMTP_URL`` is set and the user has an address, and every channel a
plugin enabled for the county contributes through ``pingan_notification_channels`` — a
delivery is scheduled through the outbox, so nothing is sent for a transaction that rolls
back. Sending itself is outside the database: a delivery is marked sent after the channel
accepted it, so a worker killed in between may send that one message twice (at least once).
"""
from __future__ import annotations

import contextlib
import logging
import smtplib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core import outbox
from core.db import insert_ignore, insert_ignore_many, utcnow
from core.models import Notification, NotificationDelivery, User

log = logging.getLogger("pingan.notifications")


@dataclass(frozen=True)
class NotificationChannel:
    """A way out for notifications, contributed by a plugin (``pingan_notification_channels``).

    ``send(message)`` gets a dict: ``user_id``, ``display_name``, ``phone`` (plain, for SMS;
    handle with care), ``title``, ``body``, ``case_id``; it raises to report a failure.
    """

    key: str
    title: str
    send: Callable[[dict], None]


def users_of_unit(session: Session, unit_id: int, member_staff: bool = False) -> list[int]:
    """Active users who work in ``unit_id`` (the people a unit's to-dos go to) — not the staff of
    a member unit seated there, who act for their member unit only (ORG-3; ``core.cases.dispatch``),
    unless ``member_staff`` (anyone working there: e.g. whom a task may be assigned to)."""
    stmt = select(User.id).where(User.org_unit_id == unit_id, User.status == "active")
    if not member_staff:
        stmt = stmt.where(User.member_unit_id.is_(None))
    return list(session.scalars(stmt))


class UserCard(NamedTuple):
    """What a module may know of an account: its name and unit (never its login or secrets)."""

    id: int
    display_name: str
    org_unit_id: int
    active: bool


def user_cards(session: Session, user_ids: Iterable[int]) -> dict[int, UserCard]:
    """The county's accounts ``user_ids`` by id (missing ones left out): a module's way to name a
    user it keeps an id of (a patrol member, who checked in) without the ``User`` model."""
    ids = {int(i) for i in user_ids}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.display_name, User.org_unit_id, User.status)
                           .where(User.id.in_(ids))).all()
    return {r[0]: UserCard(r[0], r[1], r[2], r[3] == "active") for r in rows}


class Note(NamedTuple):
    """One call of :func:`notify`, for :func:`notify_many`."""

    user_ids: Iterable[int]
    key: str
    title: str
    body: str = ""
    kind: str = "message"
    case_id: int | None = None


_CHANNELS = "pingan_plugin_channels"  # Session.info: the county's plugin channels, read once


@contextlib.contextmanager
def channels_known(session: Session, channels: list[str]) -> Iterator[None]:
    """Inside, :func:`notify` takes ``channels`` as the county's plugin channels instead of
    reading the module switches on every call — for a job that notifies many times in one
    transaction (the sweep's chunk of reminders, and the plugins' hooks its events call)."""
    session.info[_CHANNELS] = channels
    try:
        yield
    finally:
        session.info.pop(_CHANNELS, None)


def notify(session: Session, user_ids: Iterable[int], key: str, title: str, body: str = "",
           kind: str = "message", case_id: int | None = None, channels: list[str] | None = None) -> int:
    """Put a message or to-do in each user's inbox once per ``key``; returns how many were new.

    ``channels``: the county's plugin channels (:func:`plugin_channels`) when the caller read
    them already (else those of :func:`channels_known`, else they are read now)."""
    return notify_many(session, [Note(user_ids, key, title, body, kind, case_id)], channels)


def notify_many(session: Session, notes: Iterable[Note], channels: list[str] | None = None) -> int:
    """:func:`notify` for many at once: with no channel to schedule deliveries for (no SMTP, no
    plugin channel), every inbox entry of every note in one multi-row INSERT … ON CONFLICT DO
    NOTHING. Returns how many entries were new."""
    from core.jobs import running
    state = running(optional=True)
    if channels is None:
        channels = session.info.get(_CHANNELS)
    extra = _plugin_channels(session, state) if channels is None else channels
    now = utcnow()
    rows = [{"user_id": user_id, "key": f"{n.key}:u{user_id}"[:200], "kind": n.kind, "title": n.title[:200],
             "body": n.body, "case_id": n.case_id, "created_at": now}
            for n in notes for user_id in sorted(set(n.user_ids))]
    if not extra and not (state is not None and state.config.smtp_url):
        # the inbox only (no channel to schedule): every entry in one statement
        return len(insert_ignore_many(session, Notification, rows, ["key"], Notification.id))
    new = 0
    for row in rows:
        user_id = row["user_id"]
        inserted = insert_ignore_many(session, Notification, [row], ["key"], Notification.id)  # its id too
        if not inserted:
            continue
        new += 1
        note_id = inserted[0]
        for channel in _email_channel(session, state, user_id) + extra:
            if insert_ignore(session, NotificationDelivery, {"notification_id": note_id, "channel": channel,
                                                             "state": "pending", "attempts": 0},
                             ["notification_id", "channel"]):
                outbox.add(session, "core.notifications.deliver", key=f"deliver:{note_id}:{channel}",
                           notification_id=note_id, channel=channel)
    return new


def close_todos(session: Session, *, key: str | None = None, case_id: int | None = None) -> int:
    """The work a to-do asked for is done: mark read the open to-dos made with ``key`` (every
    user's) or, with ``case_id``, all of that case's — so an inbox never keeps asking for what
    has been answered (issue 15, item 8). Returns how many were closed."""
    stmt = update(Notification).where(Notification.kind == "todo", Notification.read_at.is_(None))
    if key is not None:
        stmt = stmt.where(Notification.key.startswith(f"{key}:u", autoescape=True))
    elif case_id is not None:
        stmt = stmt.where(Notification.case_id == case_id)
    else:
        raise ValueError("close_todos needs a key or a case")
    return session.execute(stmt.values(read_at=utcnow()).execution_options(synchronize_session=False)).rowcount


MAX_BATCH = 200  # a batch of ids in one request (the inbox's page is far smaller)


def mark_read(session: Session, user_id: int, ids: Iterable[int]) -> list[int]:
    """Mark read the user's own notifications among ``ids`` (the inbox's "标为已读" on several
    at once); returns the ids that were theirs. Another user's id, or one that exists nowhere,
    is simply not among them — never told apart. Row by row through the ORM, as the single
    mark-read, so each change is in the audit chain as it is."""
    wanted = sorted({int(i) for i in ids})[:MAX_BATCH]
    if not wanted:
        return []
    rows = session.scalars(select(Notification).where(Notification.user_id == user_id,
                                                      Notification.id.in_(wanted))).all()
    now = utcnow()
    for note in rows:
        note.read_at = note.read_at or now
    return sorted(n.id for n in rows)


def plugin_channels(session: Session) -> list[str]:
    """The channels of the plugins the bound county enabled (SMS …), for ``notify(channels=…)``."""
    from core.jobs import running
    return _plugin_channels(session, running(optional=True))


def _plugin_channels(session: Session, state) -> list[str]:
    """Channels of the plugins the county enabled (read once per call of ``notify``)."""
    if state is None:
        return []
    from core.db import current_tenant_id
    enabled = state.plugins.enabled(session, current_tenant_id())
    return [c.key for plugin in enabled for c in state.plugins.plugins[plugin].channels]


def _email_channel(session: Session, state, user_id: int) -> list[str]:
    if state is not None and state.config.smtp_url \
            and session.scalar(select(User.email).where(User.id == user_id)):
        return ["email"]
    return []


def deliver(session: Session, notification_id: int, channel: str) -> None:
    """Outbox job: send one notification through one channel."""
    from core.jobs import worker_state
    state = worker_state()
    delivery = session.scalar(select(NotificationDelivery).where(
        NotificationDelivery.notification_id == notification_id, NotificationDelivery.channel == channel))
    note = session.scalar(select(Notification).where(Notification.id == notification_id))
    if delivery is None or note is None or delivery.state == "sent":
        return
    user = session.scalar(select(User).where(User.id == note.user_id))
    delivery.attempts += 1
    if channel == "email":
        if not (state.config.smtp_url and user and user.email):
            delivery.state = "skipped"
            return
        send_email(state.config, user.email, note.title, note.body)
    else:
        found = next((c for p in state.plugins.plugins.values() for c in p.channels if c.key == channel), None)
        if found is None or user is None:
            delivery.state = "skipped"
            return
        found.send({"user_id": user.id, "display_name": user.display_name, "phone": user.phone,
                    "title": note.title, "body": note.body, "case_id": note.case_id})
    delivery.state, delivery.sent_at = "sent", utcnow()


def send_email(config, to: str, subject: str, body: str) -> None:
    url = urlsplit(config.smtp_url)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = config.mail_from, to, subject
    msg.set_content(body or subject)
    cls = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    with cls(url.hostname, url.port or (465 if url.scheme == "smtps" else 587), timeout=30) as smtp:
        if url.scheme == "smtp" and smtp.has_extn("starttls"):
            smtp.starttls()
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        smtp.send_message(msg)


def unread_counts(session: Session, user_id: int) -> dict:
    rows = session.execute(select(Notification.kind, func.count()).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)).group_by(Notification.kind)).all()
    counts = {"todo": 0, "message": 0}
    counts.update({k: n for k, n in rows})
    return counts
