"""What a plugin declares about its case type (returned from ``pingan_case_types``).

A case type is plain data, checked when the app starts (:func:`CaseType.check`)::

    CaseType(
        key="petition", title="信访件", number_format="信〔{year}〕{seq:05d}",
        states=(State("registered", "已登记"), State("accepted", "已受理"),
                State("closed", "已办结", closed=True)),
        initial="registered",
        transitions=(Transition("accept", "受理", ("registered",), "accepted",
                                permission="petition.case.handle"),
                     Transition("close", "办结", ("accepted",), "closed",
                                permission="petition.case.handle", input=CloseInput)),
        deadlines=(DeadlineRule("accept", "受理告知", 15, "calendar_days", start="registered",
                                stop=("accept",), source="《信访工作条例》第二十三条",
                                statutory=True),),
    )

Events that start and stop deadlines are timeline kinds: ``registered``, ``diverted``,
``assigned``, ``handed_back`` (a returned task's case goes back to the unit that diverted
it) … and the name of every transition.
"""
from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.workdays import DAY_UNITS, UNITS

KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# Timeline kinds the core itself records (transitions add their own names).
CORE_EVENTS = ("registered", "diverted", "assigned", "task_done", "task_returned", "handed_back", "task_cancelled",
               "urged", "supervised", "replied", "escalated", "extension_requested", "extended",
               "task_acknowledged", "task_ack_overdue", "followed_up", "person_added", "person_removed",
               "extension_rejected", "commented", "attached", "attachment_removed", "reminded",
               "overdue", "flagged", "unflagged", "reported_up", "recomputed")


@dataclass(frozen=True)
class State:
    key: str
    title: str
    title_en: str = ""
    closed: bool = False  # a case in this state is finished (counts as closed, no reminders)


@dataclass(frozen=True)
class Transition:
    """One allowed move: from any of ``from_states`` to ``to``, for holders of ``permission``.

    ``input`` is a marshmallow schema the request body must satisfy (its fields are stored
    on the timeline event); ``after(session, case, data)`` runs inside the same transaction
    once the move is made (a plugin writes its own tables there). ``lead_only`` moves —
    every move into a closed state is one — may only be made by the lead handling unit
    when the case has been diverted.
    """

    name: str
    title: str
    from_states: tuple[str, ...]
    to: str
    permission: str
    title_en: str = ""
    input: Any = None
    after: Callable[..., None] | None = None
    lead_only: bool = False
    # (session, case, data) before the state changes: may refuse the act (raise an error)
    # or store the act's fields that a time limit starting at it reads (``DeadlineRule.applies``)
    before: Callable[..., None] | None = None
    # a date field of ``input`` (e.g. ``accepted_on``): the day the act was decided, when it is
    # recorded later; the limits the act starts and stops run from that day (bounds, reason and
    # audit: ``core.cases.backdating``). The input should also offer ``backdate_reason``.
    dated: str = ""


@dataclass(frozen=True)
class DeadlineRule:
    """A time limit: starts at event ``start``, runs ``amount`` ``unit``, stops at ``stop``.

    ``source`` names the legal or policy source shown with the due time. A ``statutory``
    limit may only be tightened by a county's override, never loosened. While the case is
    in one of ``pause_states`` the clock stands still (e.g. a hearing, not counted).
    Extensions need approval; ``max_extensions`` of at most ``max_extension`` units each.

    Local rules (PET-1: "a letter is forwarded within 3 days, a visit the same day"):
    ``applies(session, case) -> bool`` limits a rule to some cases (by channel, by a
    plugin's own field); ``tightens`` names the statutory rule it may never be looser than
    (checked when the county sets its amount); ``enabled=False`` leaves it off until a
    county switches it on with its own amount. An amount of 0 days means "the same day".

    A ``window`` is a period within which someone *may* act (an objection window: "within 5
    working days a unit may object that the matter is not its own"), not a limit on the
    handling: it is shown with its end, basis and source like any limit, but it never makes
    the case due or overdue and is never reminded of (stored in state ``window``, not
    ``running``); when it ends it is ``stopped`` with ``met`` left empty (nothing to meet).
    """

    key: str
    title: str
    amount: int
    unit: str
    start: str
    stop: tuple[str, ...]
    source: str = ""
    statutory: bool = False
    pause_states: tuple[str, ...] = ()
    max_extensions: int = 0
    max_extension: int = 0
    title_en: str = ""
    applies: Callable[..., bool] | None = field(default=None, compare=False)
    tightens: str = ""
    enabled: bool = True
    window: bool = False


@dataclass(frozen=True)
class LedgerColumn:
    """An extra column of the type's ledger (台账): ``value(session, cases) -> {case_id: value}``."""

    key: str
    title: str
    value: Callable[..., dict]
    title_en: str = ""


@dataclass(frozen=True)
class CaseType:
    key: str
    title: str
    states: tuple[State, ...]
    initial: str
    transitions: tuple[Transition, ...]
    title_en: str = ""
    deadlines: tuple[DeadlineRule, ...] = ()
    # limits started on every task a diversion creates (``start="diverted"``), each on its task:
    # stopped when the task is reported, returned or withdrawn, or at an event in its ``stop``
    # (e.g. the unit accepting the matter); declared, not county settings
    task_limits: tuple[DeadlineRule, ...] = ()
    number_format: str = "{year}-{seq:06d}"
    read_permission: str = "core.case.read"
    create_permission: str = "core.case.register"
    pii_permission: str = "core.person.pii.read"  # to see its people's ID numbers and phones unmasked
    details_schema: Any = None   # marshmallow schema of the plugin's own fields at registration
    on_register: Callable[..., None] | None = None  # (session, case, details) → writes plugin tables
    details: Callable[..., dict] | None = None      # (session, case) → the plugin's fields, for display
    ledger_columns: tuple[LedgerColumn, ...] = ()
    web_panel: Callable[..., Any] | None = None  # (work, case, errors, values) → the module's part of the case page (HTML)
    person_roles: dict = field(default_factory=dict)  # a person's role on a case → its title (申请人 …)
    event_titles: dict = field(default_factory=dict)  # the module's own timeline kinds → (title, title_en)
    flag_titles: dict = field(default_factory=dict)   # the flags the module sets → (title, title_en)
    plugin: str = field(default="", compare=False)   # filled in by the plugin host

    def state(self, key: str) -> State:
        for s in self.states:
            if s.key == key:
                return s
        raise KeyError(key)

    def transition(self, name: str) -> Transition | None:
        return next((t for t in self.transitions if t.name == name), None)

    def closed_states(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.states if s.closed)

    def rule(self, key: str) -> DeadlineRule | None:
        return next((r for r in self.deadlines if r.key == key), None)

    def check(self, plugin: str, permissions) -> None:
        """Refuse a malformed declaration at start-up, naming what is wrong."""
        where = f"case type {self.key!r} of plugin {plugin!r}"
        if not (self.key == plugin or self.key.startswith(plugin + ".")):
            raise ValueError(f"{where}: the key must be {plugin!r} or start with '{plugin}.'")
        keys = [s.key for s in self.states]
        if len(set(keys)) != len(keys) or not all(KEY.match(k) for k in keys):
            raise ValueError(f"{where}: state keys must be unique lower_snake_case")
        if self.initial not in keys or self.state(self.initial).closed:
            raise ValueError(f"{where}: the initial state must be a declared, open state")
        names = [t.name for t in self.transitions]
        if len(set(names)) != len(names):
            raise ValueError(f"{where}: transition names must be unique")
        for t in self.transitions:
            if not KEY.match(t.name) or t.name in CORE_EVENTS:
                raise ValueError(f"{where}: transition name {t.name!r} is not allowed")
            if t.to not in keys or not t.from_states or any(s not in keys for s in t.from_states):
                raise ValueError(f"{where}: transition {t.name!r} names an undeclared state")
            if t.permission not in permissions:
                raise ValueError(f"{where}: transition {t.name!r} needs undeclared permission {t.permission!r}")
            if t.dated and (t.input is None or not _is_date_field(t.input, t.dated)):
                raise ValueError(f"{where}: transition {t.name!r} is dated by {t.dated!r}, not a date field of its input")
        for perm in (self.read_permission, self.create_permission, self.pii_permission):
            if perm not in permissions:
                raise ValueError(f"{where}: undeclared permission {perm!r}")
        events = set(CORE_EVENTS) | set(names)
        for r in self.deadlines:
            if r.unit not in UNITS or r.amount < (0 if r.unit in DAY_UNITS else 1):
                raise ValueError(f"{where}: deadline {r.key!r} needs a positive amount in one of {UNITS}")
            if r.tightens and not (self.rule(r.tightens) and self.rule(r.tightens).statutory and not r.statutory):
                raise ValueError(f"{where}: deadline {r.key!r} tightens {r.tightens!r}, which is not a statutory rule")
            if r.start not in events or any(e not in events for e in r.stop):
                raise ValueError(f"{where}: deadline {r.key!r} starts or stops on an unknown event")
            if any(s not in keys for s in r.pause_states):
                raise ValueError(f"{where}: deadline {r.key!r} pauses in an undeclared state")
        rule_keys = [r.key for r in self.deadlines] + [r.key for r in self.task_limits]
        if len(set(rule_keys)) != len(rule_keys) or "task" in rule_keys:
            raise ValueError(f"{where}: deadline keys must be unique (and not 'task')")
        for r in self.task_limits:
            if r.unit not in UNITS or r.amount < (0 if r.unit in DAY_UNITS else 1):
                raise ValueError(f"{where}: task limit {r.key!r} needs a positive amount in one of {UNITS}")
            if r.start != "diverted" or any(e not in events for e in r.stop) or r.pause_states or r.tightens:
                raise ValueError(f"{where}: task limit {r.key!r} starts at 'diverted', stops on known events, "
                                 "and neither pauses nor tightens")
        for flag, title in self.flag_titles.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", flag) or not (
                    isinstance(title, str) or (isinstance(title, tuple) and len(title) == 2
                                               and all(isinstance(x, str) for x in title))):
                raise ValueError(f"{where}: flag_titles needs flag keys (a-z, 0-9, _) → (title, title_en)")
        check_number_format(self.number_format)


def _is_date_field(schema_cls, name: str) -> bool:
    from marshmallow import fields
    field = schema_cls().fields.get(name)
    return isinstance(field, fields.Date) and not isinstance(field, fields.DateTime)


def check_number_format(fmt: str) -> None:
    """A number format may use ``{year}`` and ``{seq}`` (with a format spec) and nothing else."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(fmt) if name is not None}
    except ValueError as exc:
        raise ValueError(f"编号格式有误：{exc}") from None
    if "seq" not in names or not names <= {"year", "seq"}:
        raise ValueError("编号格式只能使用 {year} 和 {seq}，且必须包含 {seq}")
    try:
        sample = fmt.format(year=2026, seq=1)
    except (ValueError, KeyError, IndexError) as exc:
        raise ValueError(f"编号格式有误：{exc}") from None
    if len(sample) > 40:
        raise ValueError("编号格式生成的编号超过 40 个字符")
