"""A year of demo activity for ``pingan demo``: every built-in module on, and cases in every state.

``pingan demo`` (never ``pingan tenant load``, never the tests' ``load_tenant``) calls
:func:`switch_on_modules` and :func:`generate` once, right after the demo county is created.
The core owns the generic part; each module plays its own work through the hook
``pingan_demo_activity(demo)`` (docs/plugin_hooks.md), as a third-party module would:

- the built-in modules (the plugins of the platform's own ``plugins`` package) are switched on
  through ``core.modules.save`` — the service behind ``/api/modules`` and ``/admin/modules`` —
  as the county admin, audited like any switch; a module may adjust its settings for the
  demo from its hook (:meth:`DemoActivity.configure`, the same audited service);
- every enabled module implementing the hook gets a :class:`DemoActivity` with its own seeded
  ``random.Random``, its share of the volume, the year's span, the county's units, accounts
  and residents, and plans its acts: ``demo.act(when, username, func)``. The core adds the
  matters registered at the window that never became cases (``core.cases.intake``: answered
  on the spot, referred elsewhere, left for the sorting meeting) and offers the core's own
  acts (registration, transitions, 督办 and 催办, extensions) as methods of ``demo``;
- the core then plays every planned act of every module in time order. Each act runs at its
  own moment: the clock is moved there with ``time_machine`` (the engine, like a user, acts
  "now"; ``core.cases.backdating`` is for a user typing in an earlier decision, which would
  mark every act 补录), as the account the module named, inside a request context of the
  county (the modules read their settings and the user's grants from it), in a savepoint of
  its own, one transaction per simulated week. An act the services refuse is skipped and
  logged (``strict``: raised); the later acts of a case whose registration was refused are
  skipped.

Deterministic: the core's ``random.Random`` and each module's are seeded from one seed (a
module's from the seed and its name, so modules do not disturb each other's draws); the same
seed and end time give the same data. People are fictional (``core.demo``: names from a list,
ID numbers with region code 99). Acts fall on Monday to Friday by the plain week: the
generator never asks the holiday calendar, so a year ``chinese-calendar`` does not cover is no
problem (the engine counts such a year provisionally, docs/calendar.md).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import select

from core.runtime import pingan
from core.workdays import SHANGHAI

log = logging.getLogger("pingan.demo")

ADMIN = "county.admin"       # switches the modules on; works the townships that have no account of their own
GRID_WORKER = "grid.worker"  # reports from the grid (网格上报)
DEFAULT_CASES = 200
HOOK = "pingan_demo_activity"

INTAKE_ONLY = [("resolved", "咨询低保申请条件", "当场解答低保申请条件和所需材料"),
               ("resolved", "咨询户口迁移手续", "当场告知办理流程"),
               ("referred", "反映医保报销问题", "引导至县医保局窗口办理"),
               ("referred", "反映子女入学问题", "引导至县教育局"),
               ("pending", "反映村道路灯损坏", None), ("pending", "反映邻村采砂影响河堤", None)]


def builtin_modules(host) -> list[str]:
    """The built-in modules: the plugins shipped in the platform's own ``plugins`` package."""
    return sorted(name for name, plugin in host.pm.list_name_plugin()
                  if getattr(plugin, "__name__", "").startswith("plugins."))


def switch_on_modules(state, tenant_id: int, username: str = ADMIN,
                      settings: dict[str, dict] | None = None) -> list[str]:
    """Switch every built-in module on for the county, as ``username`` through ``core.modules``
    (audited). A module already on is left as it is; ``settings``: a module's settings when it
    has none yet (default: its defaults). Returns the modules switched on now."""
    from core import modules
    settings = settings or {}
    done = []
    with state.db.transaction(tenant_id) as s, _as_user(s, username) as grants:
        for name in builtin_modules(state.plugins):
            row = modules.row_of(s, name)
            if row is not None and row.enabled:
                continue
            modules.save(s, grants, state.plugins, name, True, None if row else settings.get(name))
            done.append(name)
        s.flush()
    return done


@contextlib.contextmanager
def _as_user(session, username: str):
    """Act as ``username`` (their grants) outside a request: the CLI's switches."""
    from core.authz import load_grants
    from core.context import Actor, acting_as
    from core.models import User
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise ValueError(f"no user {username!r} in the county")
    with acting_as(Actor(user.id, f"user:{user.username}")):
        yield load_grants(session, user.id)


# --- what the modules are given -----------------------------------------------------------

@dataclass
class DemoCase:
    """A case a module plans: where it arose, when it is registered, the module's own notes
    (``data``), and its id once the registering act made it (None while not, or if refused)."""

    village: str          # code of the unit where it arose (a village, or a grid)
    at: dt.datetime       # registration
    data: dict = field(default_factory=dict)
    case_id: int | None = None


@dataclass
class _Act:
    when: dt.datetime
    seq: int
    demo: "DemoActivity"
    username: str
    func: Callable[[], Any]
    case: DemoCase | None       # skipped when this case was never registered
    registers: DemoCase | None  # this act registers this case (its id is forgotten if refused)
    name: str


@dataclass
class Summary:
    cases: Counter = field(default_factory=Counter)    # (case type, state) → n
    intakes: int = 0
    supervisions: int = 0
    acts: int = 0
    counts: Counter = field(default_factory=Counter)   # what the modules counted (``demo.count``)
    skipped: list = field(default_factory=list)         # acts the services refused (should stay empty)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def __getattr__(self, name: str):
        """``summary.<key>``: what the modules counted under ``key`` (0 if nothing)."""
        if name.startswith("_"):
            raise AttributeError(name)
        return self.__dict__.get("counts", Counter())[name]

    def line(self) -> str:
        n = sum(self.cases.values())
        extra = "".join(f"{v} {k.replace('_', ' ')}, " for k, v in sorted(self.counts.items()))
        return (f"{n} cases, {self.intakes} window registrations, {self.supervisions} supervisions, "
                f"{extra}{self.acts} acts in {self.seconds:.1f}s ({self.cpu_seconds:.1f}s CPU)")


def _work_hour(day: dt.date, rnd: random.Random) -> dt.datetime:
    """A moment of a working day's office hours (Beijing time) on ``day`` or the Monday after."""
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    minute = rnd.randrange(8 * 60 + 30, 17 * 60 + 30)
    return dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=SHANGHAI)


class _County:
    """What the generator knows of the county: units, accounts, residents; and, while the acts
    are played, the session and request context they run in."""

    def __init__(self, s, state, tenant_id: int) -> None:
        from core.models import OrgUnit, Person, User
        self.state, self.host, self.tenant_id = state, state.plugins, tenant_id
        self.enabled = self.host.enabled(s, tenant_id)
        self.summary = Summary()
        self.users = {u.username: u for u in s.scalars(select(User))}
        all_units = list(s.scalars(select(OrgUnit).where(OrgUnit.code.is_not(None)).order_by(OrgUnit.path)))
        self.units = {u.code: u.id for u in all_units}
        self.codes = {u.id: u.code for u in all_units}
        self.levels = {u.id: u.level for u in all_units}
        self.paths = {u.code: u.path for u in all_units}
        self.unit_names = {u.code: u.name for u in all_units}
        self.root = all_units[0].code
        self.villages = sorted(u.code for u in all_units if u.level == "village")
        self.townships = [u.code for u in all_units if u.level == "township"]
        self.township_admins: dict[str, str] = {}
        for u in sorted(self.users.values(), key=lambda u: u.username):
            code = self.codes.get(u.org_unit_id)
            if code and self.levels[u.org_unit_id] == "township":
                self.township_admins.setdefault(code, u.username)
        self.people: dict[str, list[int]] = {}
        for pid, uid in s.execute(select(Person.id, Person.org_unit_id).order_by(Person.id)):
            if uid in self.codes:
                self.people.setdefault(self.codes[uid], []).append(pid)
        worker = self.users.get(GRID_WORKER)
        self.grid = self.codes.get(worker.org_unit_id) if worker is not None else None
        self.s = self.ctx = None  # while playing
        self.grants: dict[str, object] = {}


class DemoActivity:
    """What ``pingan_demo_activity(demo)`` gets: one module's view of the demo county's year.

    While the hook runs, the module plans: it draws from ``random`` (its own, seeded), lays
    cases out in the year (``start`` … ``end``, ``registered_at``, ``later``, ``steps``,
    ``lay_out``), picks places and people (``villages``, ``townships``, ``grid``,
    ``township_of``, ``village_of``, ``handler``, ``people``) and plans each act with
    :meth:`act`. The core then plays all modules' acts in time order; inside an act, ``session``,
    ``user`` and :meth:`work` are the acting user's, and the core's acts on cases are methods
    (:meth:`register`, :meth:`register_at_window`, :meth:`transition`, :meth:`case_of`,
    :meth:`request_extension`, :meth:`decide_extension`; 督办 with :meth:`plan_supervision`).
    """

    tz = SHANGHAI
    admin = ADMIN

    def __init__(self, county: _County, plugin: str | None, rnd: random.Random, end: dt.datetime,
                 volume: int, every_state: bool, acts: list) -> None:
        self._county, self.plugin, self.random = county, plugin, rnd
        self.end, self.start = end, end - dt.timedelta(days=365)
        self.volume, self.every_state = volume, every_state
        self._acts = acts
        self.settings: dict = dict(county.enabled.get(plugin) or {}) if plugin else {}

    # --- the county ----------------------------------------------------------------------

    @property
    def villages(self) -> list[str]:
        """The codes of the county's villages."""
        return self._county.villages

    @property
    def townships(self) -> list[str]:
        """The codes of the county's townships, in tree order."""
        return self._county.townships

    @property
    def grid(self) -> str | None:
        """The code of the grid worker's grid (None when the county has no such account)."""
        return self._county.grid

    @property
    def grid_worker(self) -> str | None:
        """The grid worker's user name, or None."""
        return GRID_WORKER if self._county.grid else None

    def unit_id(self, code: str) -> int:
        return self._county.units[code]

    def unit_name(self, code: str) -> str:
        return self._county.unit_names[code]

    def units_under(self, code: str) -> list[int]:
        """The ids of the unit ``code`` and every unit below it."""
        path = self._county.paths[code]
        return [self._county.units[c] for c, p in self._county.paths.items() if p.startswith(path)]

    def _ancestor(self, code: str, level: str) -> str | None:
        c = self._county
        for uid in reversed([int(x) for x in c.paths[code].strip("/").split("/") if x]):
            if c.levels.get(uid) == level:
                return c.codes[uid]
        return None

    def township_of(self, code: str) -> str:
        """The code of ``code``'s township (the county's, above the townships)."""
        return self._ancestor(code, "township") or self._county.root

    def village_of(self, code: str) -> str:
        return self._ancestor(code, "village") or code

    def handler(self, code: str) -> str:
        """Who works a case that arose at ``code``: its township's account, else the county admin."""
        return self._county.township_admins.get(self.township_of(code), ADMIN)

    def people(self, code: str) -> list[int]:
        """The ids of the residents on record at the unit ``code``."""
        return self._county.people.get(code, [])

    def new_person(self, code: str, role: str) -> dict:
        """A fictional resident of ``code`` (region code 99), as a case's ``persons`` entry."""
        from core.demo import GIVEN, SURNAMES, fake_id_number
        rnd = self.random
        return {"name": rnd.choice(SURNAMES) + rnd.choice(GIVEN), "id_number": fake_id_number(rnd),
                "phone": f"139{rnd.randrange(0, 10**8):08d}",
                "address": f"{self.unit_name(code)}{rnd.randrange(1, 99)}号",
                "org_unit_id": self.unit_id(code), "role": role}

    # --- time ----------------------------------------------------------------------------

    def work_hour(self, day: dt.date) -> dt.datetime:
        """A moment of office hours on ``day`` (or the Monday after), Beijing time."""
        return _work_hour(day, self.random)

    def later(self, when: dt.datetime, lo: float, hi: float) -> dt.datetime:
        """Office hours ``lo`` to ``hi`` days after ``when`` (at least 20 minutes after)."""
        day = (when + dt.timedelta(days=self.random.uniform(lo, hi))).astimezone(SHANGHAI).date()
        return max(self.work_hour(day), when + dt.timedelta(minutes=20))

    def registered_at(self, age_lo: float = 0, age_hi: float = 360) -> dt.datetime:
        """Office hours ``age_lo`` to ``age_hi`` days before the end."""
        age = self.random.uniform(age_lo, age_hi)
        when = self.work_hour((self.end - dt.timedelta(days=age)).astimezone(SHANGHAI).date())
        return min(when, self.end - dt.timedelta(minutes=30))

    def steps(self, at: dt.datetime, path: list) -> list[tuple[dt.datetime, str]]:
        """``path``: ``(name, lo, hi)`` steps, each ``lo`` to ``hi`` days after the one before
        (the first after ``at``) → ``(when, name)``."""
        out, when = [], at
        for name, lo, hi in path:
            when = self.later(when, lo, hi)
            out.append((when, name))
        return out

    def lay_out(self, path: list, still_open: bool = False,
                at: dt.datetime | None = None) -> tuple[dt.datetime, list] | None:
        """A registration time and :meth:`steps` for a case that goes along ``path``, all
        within the year: a long path starts early, a case with no step is recent, and a case
        ``still_open`` moved its last step within the last three weeks (open work is mostly
        recent; overdue work is laid out on purpose with :meth:`steps`). Drawn again when it
        does not fit; None after 20 draws."""
        for _ in range(20):
            span = sum(hi for _, _, hi in path) + 2
            start = at or (self.registered_at(0, 12) if not path else self.registered_at(min(span, 350), 360))
            steps = self.steps(start, path)
            if still_open and steps:
                wanted = self.end - dt.timedelta(days=self.random.uniform(1, 20))
                shift = dt.timedelta(weeks=(wanted - steps[-1][0]).days // 7)  # whole weeks: weekdays stay
                start += shift
                steps = [(when + shift, name) for when, name in steps]
            if start >= self.start and all(when < self.end - dt.timedelta(minutes=5) for when, _ in steps):
                return start, steps
            at = None
        return None

    # --- planning ------------------------------------------------------------------------

    def new_case(self, village: str, at: dt.datetime, **data) -> DemoCase:
        return DemoCase(village, at, data)

    def act(self, when: dt.datetime, username: str, func: Callable[..., Any], *args,
            case: DemoCase | None = None, registers: DemoCase | None = None, **kwargs) -> None:
        """Plan ``func(*args, **kwargs)`` to run at ``when`` as ``username``. ``registers``: the
        act makes this case (it sets ``case.case_id``; forgotten again if the act is refused);
        ``case``: the act works on this case, and is skipped when its registration was refused."""
        name = getattr(func, "__name__", "act")
        self._acts.append(_Act(when, len(self._acts), self, username,
                               functools.partial(func, *args, **kwargs), case, registers, name))

    def configure(self, **changes) -> None:
        """Change the module's settings in the demo county (validated, saved through the module
        catalog as the county admin, audited like a change at ``/admin/modules``)."""
        from core import modules
        wanted = {**self.settings, **changes}
        if wanted == self.settings:
            return
        state = self._county.state
        with state.db.transaction(self._county.tenant_id) as s, _as_user(s, ADMIN) as grants:
            row = modules.save(s, grants, state.plugins, self.plugin, None, wanted)
            s.flush()
            self.settings = dict(row.settings)

    def count(self, key: str, n: int = 1) -> None:
        """Add ``n`` to the module's count ``key`` in the summary (``summary.<key>``)."""
        self._county.summary.counts[key] += n

    # --- acting (inside a planned act) ---------------------------------------------------

    @property
    def session(self):
        return self._county.s

    @property
    def user(self):
        """The acting user (``username``, ``display_name``, ``org_unit_id``)."""
        return self._county.ctx.user

    @property
    def window(self) -> int:
        """The unit where the acting user registers a matter: their own."""
        return self.user.org_unit_id

    def now(self) -> dt.datetime:
        return dt.datetime.now(SHANGHAI)

    def work(self):
        """The ``Work`` of the acting user (what the engine's acts and the SDK's take)."""
        from core.cases.timeline import Work
        c = self._county
        return Work(c.s, c.host, c.ctx.plugins, c.ctx.grants, c.ctx.user)

    def case_of(self, case: DemoCase):
        """``(case row, case type)`` of a planned case."""
        from core.cases.models import Case
        row = self.session.scalar(select(Case).where(Case.id == case.case_id))
        return row, self._county.host.case_types[row.case_type]

    def register(self, case_type: str, raw: dict):
        """Register a case directly (``core.cases.engine.register``) → the case row."""
        from core.cases import engine
        return engine.register(self.work(), self._county.host.case_types[case_type], raw)

    def register_at_window(self, raw: dict):
        """Register a matter at the window (``core.cases.intake``) → the intake (``case_id``
        when ``raw`` names a ``case_type``)."""
        from core.cases import intake
        return intake.register(self.work(), raw)

    def transition(self, case: DemoCase, name: str, raw: dict | None = None):
        from core.cases import engine
        row, ctype = self.case_of(case)
        return engine.transition(self.work(), row, ctype, name, raw or {})

    def request_extension(self, case: DemoCase, rule: str, days: int, reason: str) -> None:
        """Ask to extend the case's running time limit ``rule`` (if it has one)."""
        from core.cases import engine
        from core.cases.models import CaseDeadline
        row, ctype = self.case_of(case)
        d = self.session.scalar(select(CaseDeadline).where(CaseDeadline.case_id == row.id, CaseDeadline.rule == rule,
                                                           CaseDeadline.state == "running"))
        if d is not None:
            engine.request_extension(self.work(), row, ctype, d.id, days, reason)

    def decide_extension(self, case: DemoCase, approve: bool, note: str) -> None:
        """Decide the case's pending extension (never one's own request)."""
        from core.cases import engine
        from core.cases.models import CaseExtension
        row, ctype = self.case_of(case)
        ext = self.session.scalar(select(CaseExtension).where(CaseExtension.case_id == row.id,
                                                              CaseExtension.state == "pending"))
        if ext is not None and ext.requested_by != self.user.id:
            engine.decide_extension(self.work(), row, ctype, ext, approve, note)

    def plan_supervision(self, case: DemoCase, opened: dt.datetime, closes: dt.datetime | None) -> None:
        """Maybe (3 in 10) plan a 督办 or 催办 (some listed 挂牌) by the county while the case is
        in hand — after ``opened``, before ``closes`` — and mostly its answer by the handler."""
        rnd = self.random
        if rnd.random() >= 0.3:
            return
        when = self.later(opened, 2, 12)
        if (closes is not None and when >= closes - dt.timedelta(hours=2)) or when >= self.end - dt.timedelta(hours=1):
            return
        level = "listed" if rnd.random() < 0.3 else "normal"
        kind = "urge" if rnd.random() < 0.25 else "supervise"
        self.act(when, ADMIN, self._supervise, case, kind, level, case=case)
        answer = self.later(when, 1, 3)
        if rnd.random() < 0.7 and answer < self.end - dt.timedelta(minutes=30) and (closes is None or answer < closes):
            self.act(answer, self.handler(case.village), self._answer_supervision, case, case=case)

    def _supervise(self, case: DemoCase, kind: str, level: str) -> None:
        from core.cases import supervision
        row, ctype = self.case_of(case)
        if ctype.state(row.state).closed or self.handler(case.village) == ADMIN:
            return  # nothing to supervise, or nobody below the county to answer it
        sup = supervision.issue(self.work(), row, ctype, {
            "kind": kind, "level": level, "response_required": True,
            "instruction": "请加快办理进度，按期办结并报告办理情况" if kind == "supervise"
            else "该事项临近办理期限，请抓紧办理"})
        case.data["supervision_id"] = sup.id

    def _answer_supervision(self, case: DemoCase) -> None:
        from core.cases import supervision
        from core.cases.models import Supervision
        row, ctype = self.case_of(case)
        sup = self.session.scalar(select(Supervision).where(Supervision.id == case.data.get("supervision_id")))
        if sup is not None and sup.state == "open":
            supervision.reply(self.work(), row, ctype, sup, "已按督办要求组织专人办理，预计本周内办结")


# --- the core's own share: matters that never became cases -------------------------------

def _plan_window_matters(demo: DemoActivity, n_cases: int) -> None:
    """Matters registered at the window that did not become cases: answered on the spot,
    referred elsewhere, or left for the sorting meeting (core intake)."""
    for outcome, subject, note in INTAKE_ONLY * max(1, n_cases // 60):
        at = demo.registered_at(0, 6) if outcome == "pending" else demo.registered_at(1, 360)
        village = demo.random.choice(demo.villages)
        demo.act(at, demo.handler(village), _register_matter, demo, village, outcome, subject, note)


def _register_matter(demo: DemoActivity, village: str, outcome: str, subject: str, note: str | None) -> None:
    first = {"outcome": outcome, "note": note}
    if outcome == "referred":
        first["referred_to"] = note.removeprefix("引导至").removesuffix("窗口办理")
    demo.register_at_window({
        "channel": demo.random.choice(["visit", "call"]), "org_unit_id": demo.window,
        "arose_unit_id": demo.unit_id(village), "subject": subject,
        "content": f"{demo.unit_name(village)}村民{subject[2:]}", "first_inquiry": first,
        "persons": [demo.new_person(village, "requester")]})


# --- the year ------------------------------------------------------------------------------

def generate(app, tenant_id: int, end: dt.datetime | None = None, cases: int = DEFAULT_CASES, seed: int = 2026,
             strict: bool = False, every_state: bool = True) -> Summary:
    """Play a year of activity ending at ``end`` (default: now) into the county. The county
    should have its modules on (:func:`switch_on_modules`) and the demo accounts.

    ``cases``: about how many, shared among the enabled modules that implement
    ``pingan_demo_activity`` (each lays out at least two in every state of its case types and a
    few overdue on purpose, unless ``every_state`` is off); ``strict``: an act the services
    refuse raises (tests) instead of being skipped and logged (``Summary.skipped``)."""
    end = (end or dt.datetime.now(dt.timezone.utc)).astimezone(SHANGHAI)
    state = pingan(app)
    host = state.plugins
    with state.db.transaction(tenant_id) as s:
        county = _County(s, state, tenant_id)
    acts: list[_Act] = []
    # the modules' shares, in name order (the order of the hook's implementations is not ours)
    implementers = {impl.plugin_name for impl in getattr(host.pm.hook, HOOK).get_hookimpls()}
    modules = [name for name in sorted(county.enabled) if name in implementers]
    for i, name in enumerate(modules):
        volume = cases // len(modules) + (1 if i < cases % len(modules) else 0)
        demo = DemoActivity(county, name, random.Random(f"{seed}/{name}"), end, volume, every_state, acts)
        host.call_for(name, HOOK, demo=demo)
    _plan_window_matters(DemoActivity(county, None, random.Random(seed), end, cases, every_state, acts), cases)
    return _play(app, state, county, acts, end, strict)


def _play(app, state, county: _County, acts: list[_Act], end: dt.datetime, strict: bool) -> Summary:
    """Run the planned acts in time order, each as its user at its moment."""
    import time_machine
    from flask import g

    from core.authz import load_grants
    from core.context import Actor, acting_as
    from core.db import bind_tenant
    from core.errors import PinganError
    from core.models import Tenant, TenantDomain
    from core.request import RequestContext
    summary = county.summary
    started, cpu = time.perf_counter(), time.process_time()
    acts.sort(key=lambda a: (a.when, a.seq))
    tid = county.tenant_id
    with bind_tenant(tid), state.db.Session() as s:
        county.s = s
        tenant = s.scalar(select(Tenant).where(Tenant.id == tid))
        host_name = s.scalar(select(TenantDomain.host).where(TenantDomain.tenant_id == tid).limit(1))
        plugins = state.plugins.enabled(s, tid)  # as the modules configured themselves
        s.commit()
        with app.test_request_context("/", base_url=f"http://{host_name or 'localhost'}"), \
                time_machine.travel(acts[0].when if acts else end, tick=False) as clock:
            ctx = county.ctx = g.pingan = RequestContext(tenant=tenant, session=s, plugins=plugins)
            week = None
            for a in acts:
                if week is not None and a.when.isocalendar()[:2] != week:
                    s.commit()  # one transaction per simulated week
                week = a.when.isocalendar()[:2]
                if a.case is not None and a.case.case_id is None:
                    continue  # its case's registration was refused
                clock.move_to(a.when)
                user = county.users[a.username]
                if a.username not in county.grants:
                    county.grants[a.username] = load_grants(s, user.id)
                ctx.user, ctx.grants = user, county.grants[a.username]
                try:
                    with acting_as(Actor(user.id, f"user:{a.username}")), s.begin_nested():
                        a.func()
                    summary.acts += 1
                except PinganError as exc:
                    if a.registers is not None:
                        a.registers.case_id = None
                    if strict:
                        raise
                    summary.skipped.append((a.when.isoformat(), a.demo.plugin or "core", a.name, exc.code))
                    log.warning("demo act %s of %s at %s refused: %s %s", a.name, a.demo.plugin or "core",
                                a.when, exc.code, exc.message)
            s.commit()
        _count(s, summary)
    summary.seconds = time.perf_counter() - started
    summary.cpu_seconds = time.process_time() - cpu
    return summary


def _count(s, summary: Summary) -> None:
    from core.cases.models import Case, Intake, Supervision
    for ctype, st in s.execute(select(Case.case_type, Case.state)):
        summary.cases[(ctype, st)] += 1
    summary.intakes = len(s.scalars(select(Intake.id)).all())
    summary.supervisions = len(s.scalars(select(Supervision.id)).all())
