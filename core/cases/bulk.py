"""Registering many cases at once (a ledger import of 100,000 rows, issue 24 item 6).

``core.cases.engine.register`` registers one case in some 40 statements: its number under a
row lock, an id fetched per row, a flush per row, the limits computed per case and one audit
entry per row written at commit. :class:`Registrar` writes the same rows — the case, its
"registered" event, the limits that start at registration, the county's tally, the module's
own rows (``CaseType.on_register``) and the modules' reactions to the event
(``pingan_case_event``) — for a chunk of cases at a time:

- **numbers** for the whole chunk with one counter update (``value = value + n``), still
  consecutive and under the counter's row lock;
- **ids** reserved for the chunk's cases, events and limits in one round trip
  (:func:`core.db.reserve_ids`), and the rows built as plain rows and inserted with one
  statement per table (Core, not a unit-of-work flush per object); the cases then join the
  session as stored rows (:func:`_stored`), so what a module's ``on_register`` changes on them
  is an UPDATE, as after ``register``'s flush. The "registered" event is one row copied per
  case; event objects are made only when an enabled module implements ``pingan_case_event``.
  The module's own rows (what ``on_register`` added) are taken out of the session and
  inserted the same way; rows added later (by ``pingan_case_event``, a conditional limit)
  go through the ORM, their ids reserved once per flush (a listener);
- **limits** computed once per rule: every case of the act starts at the same moment, so
  ``core.workdays.deadline`` gives the same due time for each;
- **tallies** moved once per unit at the end (``core.cases.tally``), not once per case;
- **audit**: the rows are not noted one entry each (``core.audit.summarised``); the caller
  records the act as one entry naming what it wrote (:meth:`Registrar.summary`).

What a chunk writes is then dropped from the session, so memory does not grow with the
number of cases. Everything happens in the caller's transaction: all cases or none.

Only what a ledger row carries is supported (title, content, channel, unit, details); a
case with persons, flags, an intake or a back-dated receipt goes through ``engine.register``.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter

from marshmallow import ValidationError
from sqlalchemy import bindparam, cast, event, func, insert, inspect as sa_inspect, literal_column, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, make_transient_to_detached

from core import bounds
from core.cases import deadlines, search, settings as case_settings, tally, timeline
from core.cases.models import Case, CaseCounter, CaseDeadline, CaseEvent
from core.cases.timeline import Work
from core.cases.types import CaseType
from core.db import BINARY_ARRAYS, TenantModel, current_tenant_id, insert_ignore, reserve_ids, utcnow
from core.errors import Invalid, NotFound, PinganError, Unprocessable
from core.models import OrgUnit
from core.workdays import SHANGHAI, deadline

UNSUPPORTED = ("persons", "flags", "intake_id", "received_at")


class RowFailed(Exception):
    """Row ``index`` of the chunk (0-based) could not be registered; ``error`` says why."""

    def __init__(self, index: int, error: PinganError) -> None:
        super().__init__(error.message)
        self.index, self.error = index, error


_COLUMNS: dict = {}


def _stored(model: type, row: dict):
    """An object of ``model`` for ``row`` just inserted, as a flush leaves it (detached, nothing
    pending), built without the constructor: the constructor's attribute events and
    ``make_transient_to_detached`` of an object built the usual way cost ~30 µs a row against
    ~8 here, on every case and event of an import (py-spy of a 100,000-row import)."""
    obj = sa_inspect(model).class_manager.new_instance()
    obj.__dict__.update(row)
    make_transient_to_detached(obj)
    return obj


def _columns(table) -> tuple[list[str], list[tuple]]:
    """A table's column keys, and (key, default) of those with a Python-side default (not ``id``)."""
    if table not in _COLUMNS:
        _COLUMNS[table] = ([c.key for c in table.columns],
                           [(c.key, c.default) for c in table.columns if c.default is not None and c.key != "id"])
    return _COLUMNS[table]


class Registrar:
    """Registers cases of one type chunk by chunk in the session's transaction, as the
    ``w``'s user, all at the moment ``at`` (the act's time)."""

    def __init__(self, w: Work, ctype: CaseType, at: dt.datetime | None = None) -> None:
        s = w.session
        self.w, self.ctype, self.at = w, ctype, at or utcnow()
        self._citus: bool | None = None  # on a Citus coordinator (see _insert_rows), asked once
        self.conf = case_settings.for_type(s, ctype)
        self.year = self.at.astimezone(SHANGHAI).year
        self.schema = ctype.details_schema() if ctype.details_schema is not None else None
        self.starts = [r for r in self.conf.rules if r.start == "registered"]
        cal = case_settings.calendar(s) if self.starts else None
        self.due = {r.key: deadline(self.at, r.amount, r.unit, cal) for r in self.starts}
        self.conditional = any(r.applies is not None for r in self.starts)  # applies(case): per case
        running = [(deadlines.utc(self.due[r.key].due_at), self.due[r.key].provisional)
                   for r in self.starts if not r.window]
        self.first_due = min(running) if running else (None, False)  # deadlines.refresh's answer
        self.tally: Counter = Counter()           # (org_unit_id, state) → cases
        self.sample: dict[tuple, Case] = {}       # a case of each tally key (what tally.count reads)
        self.created: Counter = Counter()         # table → rows inserted
        self.ranges: list[list[int]] = []         # the cases' ids, as [first, last] runs
        self.numbers: list[str] = []              # the first and the last number
        self.count = 0
        event.listen(s, "before_flush", self._assign_ids)

    def close(self) -> None:
        """Stop assigning ids in the session (it may go on to other work)."""
        event.remove(self.w.session, "before_flush", self._assign_ids)

    # --- one chunk ----------------------------------------------------------------------------

    def add(self, rows: list[dict]) -> list[Case]:
        """Register ``rows`` (``title``, ``content``, ``channel``, ``org_unit_id``, ``details``):
        one case each, numbered in order. Raises :class:`RowFailed` naming the first row refused."""
        if not rows:
            return []
        s, ctype, at = self.w.session, self.ctype, self.at
        for data in rows:
            extra = [k for k in UNSUPPORTED if data.get(k)]
            if extra:
                raise ValueError(f"bulk registration does not take {extra}: use engine.register")
        self._check_units(rows)
        details = [self._details(i, data) for i, data in enumerate(rows)]
        numbers = self._take_numbers(len(rows))
        fixed = self.starts if not self.conditional else []  # limits known before the case exists
        ids = iter(reserve_ids(s, len(rows) * (2 + len(fixed))))
        common = self._values(Case(case_type=ctype.key, year=self.year, state=ctype.initial, intake_id=None,
                                   created_by=self.w.user_id, created_at=at, received_at=at))
        if fixed:  # as deadlines.refresh will say once they started: no UPDATE after the INSERT
            common["due_at"], common["due_provisional"] = self.first_due
        case_rows = [{**common, "id": next(ids), "number": number, "title": data["title"],
                      "content": data.get("content") or "", "channel": data.get("channel"),
                      "org_unit_id": data["org_unit_id"],
                      "search_grams": search.grams(number, data["title"], data.get("content"))}
                     for data, number in zip(rows, numbers)]
        self._insert_rows(Case.__table__, case_rows)
        cases = [_stored(Case, row) for row in case_rows]  # the session knows them as stored rows
        s.add_all(cases)
        for case in cases:
            key = (case.org_unit_id, case.state)
            self.tally[key] += 1
            self.sample.setdefault(key, case)
        if ctype.on_register is not None:
            for i, (case, d) in enumerate(zip(cases, details)):
                try:
                    ctype.on_register(s, case, d)
                except PinganError as exc:
                    raise RowFailed(i, exc) from None
            self._insert_pending()
        # the "registered" events: one row built, copied per case (what differs: id, case, unit,
        # state); event objects only for the modules that hear them (pingan_case_event)
        first = cases[0]
        template = self._values(timeline.build(self.w, first, "registered", at=at, to_state=first.state,
                                               unit_id=first.org_unit_id, data={"received_at": at.isoformat()}))
        events = [{**template, "id": next(ids), "case_id": case.id, "org_unit_id": case.org_unit_id,
                   "to_state": case.state} for case in cases]
        self._insert_rows(CaseEvent.__table__, events)
        if self.w.host.hears_case_events(self.w.enabled):  # type: ignore[attr-defined]
            for i, (case, row) in enumerate(zip(cases, events)):
                ev = _stored(CaseEvent, {**row, "data": dict(row["data"])})
                try:
                    self.w.host.case_event(s, self.w.enabled, case, ev)  # type: ignore[attr-defined]
                except PinganError as exc:
                    raise RowFailed(i, exc) from None
        if fixed:  # the same row for every case but its id and case: made once, copied
            templates = [self._values(deadlines.rule_row(cases[0], rule, at, self.due[rule.key]))
                         for rule in fixed]
            self._insert_rows(CaseDeadline.__table__, [{**t, "id": next(ids), "case_id": case.id}
                                                       for case in cases for t in templates])
        else:
            for case in cases:
                self._start_limits(case)
        s.flush()  # the module's rows, and what it or a limit changed on the cases
        self._note(cases, numbers)
        s.expunge_all()  # written: nothing of the chunk stays in memory
        return cases

    def _insert(self, objs: list) -> None:
        """INSERT the rows of ``objs`` (new ORM objects of one model, ids set) in one statement,
        their columns' defaults filled in as a flush would; the session then holds them as loaded
        rows, so what a module changes on them later is an UPDATE."""
        self._insert_rows(type(objs[0]).__table__, [self._values(obj) for obj in objs])
        for obj in objs:
            make_transient_to_detached(obj)
        self.w.session.add_all(objs)

    def _insert_pending(self) -> None:
        """The module's new rows (what ``on_register`` added) in one INSERT per table too, instead
        of the flush's execute per row; they join the session as stored rows. Only plain rows
        (a model without relationships); any other waits for the flush."""
        s = self.w.session
        by_model: dict[type, list] = {}
        for obj in list(s.new):
            if isinstance(obj, TenantModel) and not sa_inspect(type(obj)).relationships:
                by_model.setdefault(type(obj), []).append(obj)
        order = {t: i for i, t in enumerate(TenantModel.metadata.sorted_tables)}  # parents first
        with s.no_autoflush:  # reserving ids must not flush them the ORM way first
            for _model, objs in sorted(by_model.items(), key=lambda kv: order.get(kv[0].__table__, 0)):
                for o in objs:
                    s.expunge(o)
                need = [o for o in objs if o.id is None]
                for o, i in zip(need, reserve_ids(s, len(need)) if need else ()):
                    o.id = i
                self._insert(objs)

    def _values(self, obj) -> dict:
        """The row of a new ORM object, its tenant and its columns' defaults filled in (on the
        object too) as a flush would. Read from the object's ``__dict__``: a new object holds
        every value set on it there, and the ORM's attribute machinery per column was 14 % of
        an import's writing (py-spy)."""
        keys, defaults = _columns(type(obj).__table__)
        obj.tenant_id = current_tenant_id()
        held = obj.__dict__
        for key, default in defaults:
            if held.get(key) is None:
                setattr(obj, key, default.arg if default.is_scalar else default.arg(None))
        return {key: held.get(key) for key in keys}

    def _on_citus(self) -> bool:
        if self._citus is None:
            from core import citus
            self._citus = citus.installed(self.w.session.connection())
        return self._citus

    def _insert_rows(self, table, rows: list[dict]) -> None:
        """INSERT ``rows`` in one statement. PostgreSQL: ``INSERT … SELECT * FROM unnest(<one
        array per column>)`` — a short statement whatever the number of rows (a multi-row VALUES
        of 1,000 rows binds 20,000 parameters, and psycopg spent 0.3 s parsing each such
        statement); COPY is no option under row-level security. SQLite, and a Citus coordinator
        (which runs an ``INSERT … SELECT`` from a function by COPY into the shards, refused under
        row-level security): one executemany (on Citus each row routed to the county's shard)."""
        s = self.w.session
        # a column left empty in every row that the database fills itself: leave it to it
        cols = [c for c in table.columns if c.server_default is None or any(r[c.key] is not None for r in rows)]
        if s.get_bind().dialect.name == "postgresql" and not self._on_citus():
            arrays = [cast(bindparam(f"v_{c.key}", [r[c.key] for r in rows], type_=ARRAY(c.type)), ARRAY(c.type))
                      for c in cols]
            s.execute(insert(table).from_select([c.key for c in cols],
                                                select(literal_column("*")).select_from(func.unnest(*arrays)))
                      .execution_options(**{BINARY_ARRAYS: True}))
        else:
            s.execute(insert(table), [{c.key: r[c.key] for c in cols} for r in rows])
        self.created[table.name] += len(rows)

    def _check_units(self, rows: list[dict]) -> None:
        """Every unit still active and within the user's grant (as ``register`` checks each)."""
        ids = {d["org_unit_id"] for d in rows}
        found = {u.id: u for u in self.w.session.execute(
            select(OrgUnit.id, OrgUnit.path, OrgUnit.status).where(OrgUnit.id.in_(ids)))}
        for i, data in enumerate(rows):
            unit = found.get(data["org_unit_id"])
            if unit is None or unit.status != "active":
                raise RowFailed(i, Invalid("org_unit_id", "unknown_unit", "单位不存在或已撤销"))
            if self.w.user is not None and not self.w.grants.covers(self.ctype.create_permission, unit.path):
                raise RowFailed(i, NotFound("unit_not_found", "单位不存在或不在您的管辖范围内，不能在该单位登记事项"))

    def _details(self, i: int, data: dict) -> dict:
        if self.schema is None:
            if data.get("details"):
                raise RowFailed(i, Invalid("details", "unexpected_details", "该事项类型没有详情字段"))
            return {}
        try:
            details = self.schema.load(data.get("details") or {})
        except ValidationError as exc:
            raise RowFailed(i, Unprocessable("invalid_details", "事项详情填写有误",
                                             {"json": {"details": exc.messages}})) from None
        try:
            bounds.check(details, prefix="details.")
        except PinganError as exc:
            raise RowFailed(i, exc) from None
        return details

    def _take_numbers(self, n: int) -> list[str]:
        """``n`` consecutive numbers: the counter moves by ``n`` in one statement (its row lock
        held to the commit, as ``engine.next_number`` holds it for one)."""
        s, key = self.w.session, self.ctype.key
        insert_ignore(s, CaseCounter, {"case_type": key, "year": self.year, "value": 0}, ["case_type", "year"])
        last = s.execute(update(CaseCounter).where(CaseCounter.case_type == key, CaseCounter.year == self.year)
                         .values(value=CaseCounter.value + n).returning(CaseCounter.value)
                         .execution_options(synchronize_session=False)).scalar_one()
        return [self.conf.number_format.format(year=self.year, seq=v) for v in range(last - n + 1, last + 1)]

    def _start_limits(self, case: Case) -> None:
        """The limits that start at registration (``deadlines.on_event`` for a new case: none runs
        yet, so none stops), each from the due time computed once; then ``case.due_at``."""
        s, started = self.w.session, []
        for rule in self.starts:
            if rule.applies is None or rule.applies(s, case):
                row = deadlines.rule_row(case, rule, self.at, self.due[rule.key])
                s.add(row)
                started.append(row)
        if started and self.conditional:  # as deadlines.refresh after on_event
            dues = [(d.due_at, d.provisional) for d in started if d.state == "running"]
            case.due_at, case.due_provisional = min(dues) if dues else (None, False)

    def _note(self, cases: list[Case], numbers: list[str]) -> None:
        for case in cases:
            if self.ranges and self.ranges[-1][1] + 1 == case.id:
                self.ranges[-1][1] = case.id
            else:
                self.ranges.append([case.id, case.id])
        self.numbers = [self.numbers[0] if self.numbers else numbers[0], numbers[-1]]
        self.count += len(cases)

    def _assign_ids(self, session: Session, flush_context, instances) -> None:
        """Ids for every new row of the flush in one round trip (instead of one ``nextval`` each)."""
        new = [o for o in session.new if isinstance(o, TenantModel)]
        for o in new:
            self.created[o.__tablename__] += 1
        need = [o for o in new if o.id is None]
        if need:
            for o, i in zip(need, reserve_ids(session, len(need))):
                o.id = i

    # --- the end ------------------------------------------------------------------------------

    def finish(self) -> dict:
        """Add the tallies and return :meth:`summary`. Every case of the act has the same type
        and registration time, so one sample case per (unit, state) with its count moves the
        tallies (``core.cases.tally.count_cases``: ``tally.count`` for many cases) as the
        cases one by one would."""
        s = self.w.session
        tally.count_cases(s, [(self.sample[key], {key[1]: n}) for key, n in sorted(self.tally.items())])
        self.tally.clear()
        self.sample.clear()
        self.close()
        return self.summary()

    def summary(self) -> dict:
        """What the act wrote, for its one audit entry: how many cases of which type, their numbers
        and ids, and the rows per table."""
        return {"case_type": self.ctype.key, "cases": self.count, "numbers": self.numbers,
                "case_ids": self.ranges[:1000], "rows": dict(sorted(self.created.items())),
                "at": self.at.isoformat()}
