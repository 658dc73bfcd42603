"""/admin/audit — the county's audit log for its admin, newest first (issue 15, item 9).

Every entry is shown in words (``core.audit_labels``): the time in Beijing time (``local``, the
UI's one format), who — the user's name and unit, or what ran (系统、命令行) — the act and the
object in Chinese, and the change as "字段：旧值 → 新值" with ids shown as the names they point
at. Personal data never shows (ID numbers, phones … are "已修改"), fields without a label are
only counted; ``/api/audit`` keeps answering the entries exactly as stored.

Filters are real controls: a date range, a select of the county's users (or 系统), the acts and
object types by their Chinese names; pages go back and forth by entry id. Reading needs
``core.audit.read`` on the county's root unit (403 otherwise, as every county-wide section);
a filter naming a user of another county, or none, answers 404 like any object out of scope.
"""
from __future__ import annotations

import datetime as dt
import re
import weakref

from flask import render_template, request
from markupsafe import Markup, escape
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased

from core import bounds
from core.api.audit_log import COUNTY_WIDE, READ
from core.audit import MASK, AuditEntry
from core.audit_labels import CODE, CODE_FIELDS, REFERENCES, ROW_ACTIONS, Vocabulary, hidden, sensitive
from core.authz import require_county_wide
from core.bounds import parse_int
from core.cases.engine import CHANNEL_TITLES
from core.cases.models import Case
from core.db import TenantModel
from core.errors import NotFound
from core.i18n import pick
from core.models import MemberUnit, OrgLevel, OrgUnit, Person, Role, User
from core.request import current, requires
from core.timefmt import local
from core.web.admin import bp, section
from core.web.cases import EVENT_TITLES
from core.workdays import SHANGHAI

section(70, "web_admin.audit", READ, "审计日志", "Audit log", county_wide=True)
PAGE = 50
MAX_LINES = 12  # change lines shown per entry; the rest are counted
SYSTEM = "system"  # the actor select's value for everything not done by a county user
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
ALIASES = {"case_record": ("case_record", "case"), "case": ("case_record", "case")}  # one type, two names in the log

_VOCABULARIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # plugin host → its Vocabulary


def vocabulary() -> Vocabulary:
    """The core's and every installed plugin's words (built once per plugin host)."""
    from core.runtime import pingan
    host = pingan().plugins
    found = _VOCABULARIES.get(host)
    if found is None:
        found = _VOCABULARIES[host] = Vocabulary(
            {n: c.audit_labels for n, c in host.plugins.items()},
            {n: (c.info.get("title"), c.info.get("title_en") or c.info.get("title")) for n, c in host.plugins.items()})
    return found


# --- filters --------------------------------------------------------------------------------------

def _day(raw: str, field: str, errors: dict) -> dt.datetime | None:
    if not raw:
        return None
    try:
        d = dt.date.fromisoformat(raw)
    except ValueError:
        errors[field] = "日期格式应为 2026-01-31"
        return None
    if bounds.problem(d):  # year 1 or 9999 (issue 14)
        errors[field] = bounds.MESSAGE_TIME
        return None
    return dt.datetime(d.year, d.month, d.day, tzinfo=SHANGHAI)


def _actor_filter(session, raw: str):
    """The actor select's value as a condition: 系统 (no user), a user of this county by id (or
    by user name, as older links have it). Anything else is not in scope: 404."""
    if raw == SYSTEM:
        return AuditEntry.actor_id.is_(None)
    uid = parse_int(raw, lo=1)
    query = select(User.id).where(User.id == uid) if uid is not None else \
        select(User.id).where(User.username == raw[:64])
    found = session.scalar(query)  # the county's users only (tenant-scoped like every read)
    if found is None:
        raise NotFound()
    return AuditEntry.actor_id == found


def _login_companion():
    """The row change a log-in writes with its ``login`` entry, as a condition on AuditEntry.

    Why a log-in showed as two rows: ``auth.login`` records the event (``login``, with the
    address) and sets the account's ``last_login_at`` (and resets ``failed_logins`` …); every
    flushed row change is audited by itself (``core.audit._note_flush``), so the same commit
    adds an ``update`` of the ``app_user`` right after the ``login`` entry. Both stay in the log
    — every write is audited and the chain is not touched — and the viewer shows them as one:
    the update is folded into its log-in row (its fields listed there, ``last_login_at`` being
    the row's own time). It is recognised exactly, with no guessing across commits: the
    neighbouring entry (id ± 1) is a ``login`` of the same account, by the same actor, written
    at the same instant (the entries of one commit share ``at``; two commits never do).

    Why show one rather than record one: recording one would mean leaving the account's
    ``last_login_at``/``failed_logins`` write out of the row audit (a write without its entry)
    or moving it into the event by hand in ``auth.login`` (a second way of auditing rows, with
    its own gaps); the log stays complete and uniform, and only the reader's view is merged.
    """
    login = aliased(AuditEntry)
    return and_(AuditEntry.action == "update", AuditEntry.object_type == "app_user", exists().where(
        login.tenant_id == AuditEntry.tenant_id, or_(login.id == AuditEntry.id - 1, login.id == AuditEntry.id + 1),
        login.action == "login", login.object_type == "app_user", login.object_id == AuditEntry.object_id,
        login.actor_id == AuditEntry.actor_id, login.at == AuditEntry.at))


def _companions(session, logins: list[AuditEntry]) -> dict[int, AuditEntry]:
    """login entry id → its folded row change (see ``_login_companion``)."""
    if not logins:
        return {}
    ids = {i for e in logins for i in (e.id - 1, e.id + 1)}
    rows = session.scalars(select(AuditEntry).where(AuditEntry.id.in_(ids), AuditEntry.action == "update",
                                                    AuditEntry.object_type == "app_user")).all()
    out = {}
    for e in logins:
        for row in rows:
            if abs(row.id - e.id) == 1 and row.object_id == e.object_id and row.actor_id == e.actor_id \
                    and row.at == e.at:
                out[e.id] = row
    return out


# --- words for ids and codes ----------------------------------------------------------------------

def _models() -> dict[str, type]:
    return {m.class_.__tablename__: m.class_ for m in TenantModel.registry.mappers
            if getattr(m.class_, "__tablename__", None)}


NAME_COLUMNS = ("number", "display_name", "name", "title", "filename", "leader_name", "recipient", "subject", "day",
                "year", "plugin")


class Names:
    """Names of the rows the page's entries point at, read in one query per table."""

    def __init__(self, session) -> None:
        self.session = session
        self.wanted: dict[str, set[int]] = {}
        self.found: dict[tuple[str, int], str] = {}
        self.models = _models()

    def want(self, table: str, value) -> None:
        if table == "case":
            table = "case_record"
        if isinstance(value, str):
            value = parse_int(value, lo=1)
        if isinstance(value, int) and not isinstance(value, bool) and table in self.models \
                and issubclass(self.models[table], TenantModel):  # the county's own rows only
            self.wanted.setdefault(table, set()).add(value)

    def load(self) -> None:
        simple = {"org_unit": (OrgUnit, OrgUnit.name), "app_user": (User, User.display_name),
                  "person": (Person, Person.name), "case_record": (Case, Case.number),
                  "role": (Role, Role.name), "member_unit": (MemberUnit, MemberUnit.name)}
        later: dict[str, set[int]] = {}
        for table, ids in self.wanted.items():
            model = self.models[table]
            if table in simple:
                cls, column = simple[table]
                for i, name in self.session.execute(select(cls.id, column).where(cls.id.in_(ids))):
                    self.found[(table, i)] = str(name)
                continue
            columns = {c.key for c in model.__mapper__.column_attrs}
            own = next((c for c in NAME_COLUMNS if c in columns), None)
            ref = next((c for c in ("case_id", "person_id", "org_unit_id") if c in columns), None)
            if own is None and ref is None:
                continue
            column = getattr(model, own or ref)
            for i, name in self.session.execute(select(model.id, column).where(model.id.in_(ids))):
                if own:
                    self.found[(table, i)] = str(name)
                elif name is not None:
                    later.setdefault(REFERENCES[ref], set()).add(name)
                    self.found[(table, i)] = (REFERENCES[ref], name)
        for table, ids in later.items():  # a row named by what it belongs to (a case's task: the case)
            cls, column = simple[table]
            names = dict(self.session.execute(select(cls.id, column).where(cls.id.in_(ids))).all())
            for key, value in list(self.found.items()):
                if isinstance(value, tuple) and value[0] == table:
                    self.found[key] = str(names.get(value[1], "")) or None
        self.found = {k: v for k, v in self.found.items() if isinstance(v, str) and v}

    def get(self, table: str, value) -> str | None:
        if table == "case":
            table = "case_record"
        if isinstance(value, str):
            value = parse_int(value, lo=1)
        return self.found.get((table, value))


def _span(text: str, cls: str | None = None, title: str | None = None) -> Markup:
    attrs = (f' class="{cls}"' if cls else "") + (f' title="{escape(title)}"' if title else "")
    return Markup(f"<span{attrs}>{escape(text)}</span>") if attrs else escape(text)


class Describer:
    """One audit entry in words (an HTML-safe line per change)."""

    def __init__(self, session, vocab: Vocabulary, names: Names) -> None:
        from core.runtime import pingan
        host = pingan().plugins
        self.session, self.vocab, self.names = session, vocab, names
        self.case_types = {k: pick(t.title, t.title_en) for k, t in host.case_types.items()}
        self.states = {s.key: pick(s.title, s.title_en) for t in host.case_types.values() for s in t.states}
        self.plugins = {n: pick(c.info.get("title"), c.info.get("title_en")) for n, c in host.plugins.items()}
        self.permissions = {p.code: pick(p.title, p.title_en) for p, _ in host.permissions.all()}
        self.acts = {**{k: pick(*v) for k, v in EVENT_TITLES.items()},
                     **{k: (v if isinstance(v, str) else pick(*v)) for t in host.case_types.values()
                        for k, v in t.event_titles.items()},
                     **{t.name: pick(t.title, t.title_en) for ct in host.case_types.values() for t in ct.transitions}}
        self.flags = {k: (v if isinstance(v, str) else pick(*v)) for t in host.case_types.values()
                      for k, v in t.flag_titles.items()}
        self.person_roles = {k: (v if isinstance(v, str) else pick(*v)) for t in host.case_types.values()
                             for k, v in t.person_roles.items()}
        self.rules = {r.key: pick(r.title, r.title_en) for t in host.case_types.values()
                      for r in (*t.deadlines, *t.task_limits)}
        self.levels = dict(session.execute(select(OrgLevel.key, OrgLevel.name)).all())
        self.roles = dict(session.execute(select(Role.key, Role.name)).all())

    def _table_of(self, entry, name: str) -> str | None:
        if name == "parent_id" and entry.object_type == "org_unit":
            return "org_unit"  # elsewhere a parent is of another kind (an OAuth token's …)
        return REFERENCES.get(f"{entry.action}.{name}") or REFERENCES.get(name)

    def want(self, entry) -> None:
        """Note the ids an entry names (its object, the ids among its changes)."""
        self.names.want(entry.object_type, entry.object_id)
        for name, value in (entry.changes or {}).items():
            table = self._table_of(entry, name)
            if table:
                for v in (value if isinstance(value, list) else [value]):
                    self.names.want(table, v)

    def value(self, entry, name: str, value) -> Markup:
        if value is None or value == "":
            return _span(pick("（空）", "(none)"), "muted")
        if isinstance(value, bool):
            return escape(pick("是", "yes") if value else pick("否", "no"))
        table = self._table_of(entry, name)
        if table and not isinstance(value, (list, dict)):
            found = self.names.get(table, value)
            return _span(found, "typed") if found else escape(pick(f"（编号 {value}）", f"(no. {value})"))
        if isinstance(value, (int, float)):
            return escape(str(value))
        if isinstance(value, list):
            return Markup("、").join(self.value(entry, name, v) for v in value) if value else \
                _span(pick("（空）", "(none)"), "muted")
        if isinstance(value, dict):
            parts = [(self.vocab.field(entry.action, entry.object_type, k, pick), k, v) for k, v in value.items()]
            if parts and all(label for label, _, _ in parts) and not any(sensitive(k) for k in value):
                return Markup("；").join(Markup(f"{escape(label)}：") + self.value(entry, k, v) for label, k, v in parts)
            return escape(pick(f"（{len(value)} 项内容）", f"({len(value)} items)"))
        text = str(value)
        if ISO_TIME.match(text):
            try:
                return escape(local(dt.datetime.fromisoformat(text)))
            except ValueError:
                pass
        word = self._code_word(entry, name, text)
        if word:
            return _span(word, title=text)
        if CODE.match(text) and name in CODE_FIELDS:
            return _span(text, "code")  # a stored code nobody gave a word for: shown as it is
        return _span(text if len(text) <= 120 else text[:119] + "…", "typed")  # what someone typed

    def _code_word(self, entry, name: str, code: str) -> str | None:
        word = self.vocab.value(entry.action, entry.object_type, name, code, pick)
        if word:
            return word
        if name == "level":
            return self.levels.get(code)
        if name == "case_type":
            return self.case_types.get(code)
        if name in ("state", "from_state", "to_state") and entry.object_type in ("case_record", "case", "case_event"):
            return self.states.get(code)
        if name == "kind" and entry.object_type == "case_event":
            return self.acts.get(code)
        if name == "flag" and entry.object_type == "case_flag":
            return self.flags.get(code)
        if name in ("field", "fields"):  # which fields were seen or back-dated: by their names
            return self.vocab.field(entry.action, entry.object_type, code, pick)
        if name == "rule" and entry.object_type == "case_deadline":
            return self.rules.get(code)
        if name == "role" and entry.object_type in ("case_person", "intake_person"):
            return self.person_roles.get(code)
        if name == "plugin":
            return self.plugins.get(code)
        if name in ("permission", "permissions"):
            return self.permissions.get(code)
        if name == "channel" and entry.object_type in ("case_record", "intake"):
            return CHANNEL_TITLES.get(code)
        if name == "role" and entry.action == "widen_account":
            return self.roles.get(code)
        return None

    def changes(self, entry) -> tuple[list[Markup], int]:
        """(lines "字段：旧 → 新", how many other fields) of an entry."""
        row = entry.action in ROW_ACTIONS
        items = list((entry.changes or {}).items())
        lines, others = [], 0
        for name, change in items:
            if hidden(name):
                continue
            label = self.vocab.field(entry.action, entry.object_type, name, pick)
            if label is None:
                others += 1
                continue
            pair = row or (name == "status" and isinstance(change, list) and len(change) == 2)
            before, after = (change if pair and isinstance(change, list) and len(change) == 2 else (None, change))
            if sensitive(name) or MASK in (before, after):  # personal data: never a value
                word = {"create": pick("已填写", "set"), "delete": pick("已删除", "removed")}.get(
                    entry.action, pick("已修改", "changed"))
                lines.append(Markup(f"{escape(label)}：") + _span(word, "masked"))
            elif pair and entry.action == "update":
                lines.append(Markup(f"{escape(label)}：") + self.value(entry, name, before)
                             + Markup(' <span aria-label="{}">→</span> '.format(escape(pick("改为", "to"))))
                             + self.value(entry, name, after))
            else:
                shown = before if pair and entry.action == "delete" else after
                if pair and shown is None:
                    continue
                lines.append(Markup(f"{escape(label)}：") + self.value(entry, name, shown))
        if len(lines) > MAX_LINES:
            others += len(lines) - MAX_LINES
            lines = lines[:MAX_LINES]
        return lines, others

    def object_name(self, entry) -> Markup | None:
        if entry.object_type == "tenant":
            return None  # the county itself
        found = self.names.get(entry.object_type, entry.object_id)
        if not found:  # a deleted row: its name is in the entry
            for column in NAME_COLUMNS:
                pair = (entry.changes or {}).get(column)
                if isinstance(pair, list) and len(pair) == 2 and entry.action in ROW_ACTIONS:
                    found = pair[0] if pair[0] is not None else pair[1]
                    break
        if found and entry.object_type == "tenant_plugin":
            return escape(self.plugins.get(found) or found)
        if found:
            return _span(str(found), "typed")
        if entry.object_id:
            return escape(pick(f"（编号 {entry.object_id}）", f"(no. {entry.object_id})"))
        return None


# --- who -------------------------------------------------------------------------------------------

SYSTEM_JOBS = {"sweep": ("超期巡检", "overdue sweep"), "recompute": ("期限重算", "limits recomputed"),
               "idempotency_purge": ("清理重复提交记录", "purge")}
CLI = {"tenant-load": ("载入县配置", "county loaded"), "user-create": ("创建用户", "user created"),
       "operator-create": ("开通县", "county opened"), "jobs-retry": ("重试后台任务", "jobs retried")}


def _actors(session, entries, vocab: Vocabulary) -> dict[int, Markup]:
    """entry id → who, in words: a county user's name and unit, else what acted."""
    ids = {e.actor_id for e in entries if e.actor_id}
    users = {}
    if ids:
        users = {i: (name, unit) for i, name, unit in session.execute(
            select(User.id, User.display_name, OrgUnit.name).join(OrgUnit, OrgUnit.id == User.org_unit_id)
            .where(User.id.in_(ids)))}
    out = {}
    for e in entries:
        label = e.actor or ""
        kind, _, rest = label.partition(":")
        if e.actor_id in users:
            name, unit = users[e.actor_id]
            who = _span(name, "typed") + Markup(" ") + _span(unit, "typed muted small")
            if kind == "client":
                who += escape(pick("（经第三方应用）", " (through an app)"))
        elif kind == "user":
            who = escape(pick("平台运营人员", "Platform operator")) if e.actor_id else escape(pick("用户", "User"))
            who += Markup(" ") + _span(rest, "typed small")
        elif kind == "system" or label == "system":
            plugin, _, job = rest.partition(".")
            if plugin == "core":
                what = pick(*SYSTEM_JOBS.get(job, ("定时任务", "scheduled job")))
            elif plugin in vocab.titles:
                what = pick(f"{vocab.titles[plugin][0]}定时任务", f"{vocab.titles[plugin][1]} job")
            elif plugin == "calendar":
                what = pick("节假日变更后重算期限", "limits recomputed after a calendar change")
            elif plugin == "outbox":
                what = pick("后台发送", "background delivery")
            else:
                what = pick("后台处理", "background work")
            who = escape(pick(f"系统（{what}）", f"System ({what})"))
        elif kind == "cli":
            what = pick(*CLI.get(rest, ("维护命令", "maintenance")))
            who = escape(pick(f"服务器命令行（{what}）", f"Server command ({what})"))
        elif kind == "client":
            who = escape(pick("第三方应用", "App")) + Markup(" ") + _span(rest, "typed small")
        elif label == "anonymous":
            who = escape(pick("未登录的访问者", "Anonymous"))
        else:
            who = escape(pick("其他程序", "Other program"))
        out[e.id] = who
    return out


# --- the page --------------------------------------------------------------------------------------

def _user_options(session) -> list[dict]:
    """The actor select: the county's users by unit (the unit's place in the tree), then name."""
    rows = session.execute(select(User.id, User.display_name, OrgUnit.name)
                           .join(OrgUnit, OrgUnit.id == User.org_unit_id)
                           .order_by(OrgUnit.path, User.display_name, User.id)).all()
    groups: list[dict] = []
    for uid, name, unit in rows:
        if not groups or groups[-1]["unit"] != unit:
            groups.append({"unit": unit, "users": []})
        groups[-1]["users"].append({"id": str(uid), "name": name})
    return groups


@bp.route("/audit")
@requires(READ)
def audit():
    ctx = current()
    require_county_wide(ctx.session, ctx.grants, READ, COUNTY_WIDE)
    vocab = vocabulary()
    values = {k: request.args.get(k, "").strip()[:100] for k in ("actor", "action", "object_type", "object_id",
                                                                    "since", "until")}
    errors: dict[str, str] = {}
    stmt = select(AuditEntry).where(~_login_companion())
    if values["actor"]:
        stmt = stmt.where(_actor_filter(ctx.session, values["actor"]))
    if values["action"]:
        stmt = stmt.where(AuditEntry.action == values["action"][:64])
    if values["object_type"]:
        stmt = stmt.where(AuditEntry.object_type.in_(ALIASES.get(values["object_type"], (values["object_type"][:64],))))
    if values["object_id"]:
        stmt = stmt.where(AuditEntry.object_id == values["object_id"][:64])
    since = _day(values["since"], "since", errors)
    until = _day(values["until"], "until", errors)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until + dt.timedelta(days=1))  # the last day included
    if since and until and until < since:
        errors["until"] = "截止日期不能早于起始日期"
    before = parse_int(request.args.get("before"), lo=1)
    after = parse_int(request.args.get("after"), lo=1)
    entries: list[AuditEntry] = []
    older = newer = False
    if not errors:
        if after is not None and before is None:  # a newer page: read upwards, show newest first
            found = ctx.session.scalars(stmt.where(AuditEntry.id > after).order_by(AuditEntry.id).limit(PAGE + 1)).all()
            newer, entries = len(found) > PAGE, list(reversed(found[:PAGE]))
            older = True
        else:
            page = stmt.where(AuditEntry.id < before) if before is not None else stmt
            found = ctx.session.scalars(page.order_by(AuditEntry.id.desc()).limit(PAGE + 1)).all()
            older, entries = len(found) > PAGE, list(found[:PAGE])
            newer = before is not None and ctx.session.scalar(
                stmt.where(AuditEntry.id >= before).with_only_columns(AuditEntry.id).limit(1)) is not None
    folded = _companions(ctx.session, [e for e in entries if e.action == "login"])
    names = Names(ctx.session)
    describe = Describer(ctx.session, vocab, names)
    for e in entries + list(folded.values()):
        describe.want(e)
    names.load()
    who = _actors(ctx.session, entries, vocab)
    rows = []
    for e in entries:
        lines, others = describe.changes(e)
        if e.id in folded:  # the log-in's own row change (failed count reset …), as "字段：旧 → 新"
            more, more_others = describe.changes(folded[e.id])
            lines, others = lines + more, others + more_others
        rows.append({"id": e.id, "at": local(e.at), "iso": e.at.isoformat(), "who": who[e.id],
                     "action": vocab.action(e.action, e.object_type, pick), "code": e.action,
                     "object_type": vocab.object_type(e.object_type, pick), "object": describe.object_name(e),
                     "lines": lines, "others": others, "folded": e.id in folded})
    filters = {k: v for k, v in values.items() if v}
    return render_template(
        "admin/audit.html", rows=rows, values=values, errors=errors, filters=filters,
        newer_args={**filters, "after": entries[0].id} if newer and entries else None,
        older_args={**filters, "before": entries[-1].id} if older and entries else None,
        all_objects_args={k: v for k, v in filters.items() if k != "object_id"},
        first_args=filters if before is not None or after is not None else None,
        users=_user_options(ctx.session), system=SYSTEM,
        actions=vocab.known_actions(pick), object_types=vocab.known_object_types(pick)), 422 if errors else 200
