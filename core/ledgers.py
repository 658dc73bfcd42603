"""Ledgers (台账, RPT-3): any case list exported to .xlsx, ledgers imported from .xlsx (issue 3).

**Export.** The rows are exactly the cases of the case list with the same filters
(``core.cases.queries.filtered``: what the user may read, then the filters), read in keyset
batches of :data:`BATCH` by id and streamed into an openpyxl *write-only* workbook, so memory
stays flat however long the list. The columns are the county's uniform ledger format for
the type (``ledger_columns`` of its case settings, RPT-3); without a type, the base columns.
Times are Asia/Shanghai. ``year`` limits the ledger to one numbering year (the yearly archive).

**Import.** One case type per file; the headers are the type's import columns
(:func:`import_columns`, also in the template). The file is streamed (:class:`SheetReader`)
and its good rows spooled to an anonymous temporary file, so memory stays flat however long
it is (up to ``PINGAN_IMPORT_MAX_ROWS``; beyond, the job fails with that bound named, code
``too_many_rows``). The first pass checks every row and collects every error as ``{"row":
7, "column": "发生地", "message": "…"}`` (``row`` = the sheet's row number); one error and
nothing is written. The second pass reads the spool back and
registers the rows in chunks of :data:`BATCH` through ``core.cases.bulk`` in ONE transaction
— numbers consecutive, a "registered" event each, the same rows ``engine.register`` writes,
in multi-row INSERTs, the import recorded in the audit log as one entry — and if any row
still fails there, everything is rolled back and that row named. 发生地 takes the unit's code
(``T01D1V1``), its name path below the county (``东湖镇/东湖第一管区/罗塘村``, as the export
writes it) or a name unique in the county.

**Jobs.** Both run in the background as a :class:`~core.models.JobRun`, started through the
transactional outbox in the request's transaction (a rolled-back request starts nothing).
The job acts as the user who started it (their grants as of now, narrowed to what the
request held — a token's scopes) and reports progress (``done``/``total``) in short
transactions of their own, so another request sees the bar move. A finished job is never
run again. The outbox's job only hands the work to the queue (:func:`run_job` says why).

**The database owns a run** (issue 25). A worker that claims a run holds a *lease* on it
(``lease_until``, ``PINGAN_JOB_LEASE_SECONDS``) and renews it while it works: every
progress transaction, and a heartbeat thread between them. ``attempts`` counts the claims
and fences every write of an attempt: progress and the finish apply only while the run is
still ``running`` under that attempt, so an attempt whose run was taken back stops at its
next write, and its import's cases (registered in the transaction of the finish) roll back.
The sweep (:func:`recover`) takes back a running run whose lease ran out (a killed work
horse, a dead worker) and queues it again, and queues again a queued run whose queue entry
is gone (a Redis flush) — never one still waiting in a backlog. After
``PINGAN_JOB_MAX_ATTEMPTS`` interrupted attempts the run fails with a message saying so.
Each kind is idempotent by its run: an import registers every row in one transaction with
its finish; an export writes its file under a key fixed at the first claim, so a second
attempt overwrites it; a recompute counts limits again and changes only what is still due.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import logging
import os
import pickle
import re
import string
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, BinaryIO

from marshmallow import ValidationError, fields as mfields, validate as mvalidate
from sqlalchemy import event, func, or_, select, update
from sqlalchemy.orm import Session

from core import audit, outbox
from core.authz import Grants, load_grants
from core.cases import engine, settings as case_settings
from core.cases.models import Case
from core.cases.queries import filtered
from core.cases.timeline import Work
from core.cases.types import CaseType
from core.context import Actor, acting_as, current_request_id
from core.db import bind_tenant, current_tenant_id, utcnow
from core.errors import PinganError
from core.models import JobRun, OrgUnit, User
from core.orgtree import path_ids
from core.validation_messages import validation_zh
from core.workdays import SHANGHAI

log = logging.getLogger("pingan.ledgers")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BATCH = 1000                          # cases per keyset batch (and per progress tick)
MAX_IMPORT_ROWS = 5000                # data rows per file read whole (read_sheet: the org-unit import)
MAX_IMPORT_BYTES = 10 * 1024 * 1024   # upload size
MAX_UNZIPPED = 100 * 1024 * 1024      # all parts of the workbook unpacked (zip bombs)
MAX_ERRORS = 1000                     # row errors kept on the job
JOB_TIMEOUT = dt.timedelta(hours=1)    # a job running longer is stopped (rq) and recorded failed
STALLED_AFTER = dt.timedelta(hours=1)  # queued or running this long: lost, shown to operators
STORAGE_KIND = "ledgers"

BASE_TITLES = {"number": "编号", "title": "标题", "case_type": "事项类型", "state": "状态",
               "org_unit": "发生地", "handling_unit": "牵头承办单位", "channel": "来源渠道",
               "created_at": "登记时间", "due_at": "办理时限", "closed_at": "办结时间", "content": "内容"}
CHANNEL_TITLES = engine.CHANNEL_TITLES
TIME_COLUMNS = ("created_at", "due_at", "closed_at")
WIDTHS = {"number": 16, "title": 30, "case_type": 12, "state": 10, "org_unit": 28, "handling_unit": 20,
          "channel": 10, "created_at": 17, "due_at": 17, "closed_at": 17, "content": 50}
_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")  # what an .xlsx cannot hold


class JobFailed(Exception):
    """The job cannot complete for a reason the user can act on (shown as the job's message)."""

    def __init__(self, message: str, errors: list[dict] | None = None) -> None:
        super().__init__(message)
        self.message, self.errors = message, errors or []


class FileRejected(PinganError):
    status, code, message = 422, "not_xlsx", "请上传 .xlsx 格式的 Excel 文件"


class FileTooLarge(PinganError):
    status, code, message = 413, "file_too_large", "文件过大"


# --- starting jobs (in the request's transaction) --------------------------------------------

def start_export(w: Work, filters: dict, year: int | None = None) -> JobRun:
    """Queue the export of the case list under ``filters`` (CaseListArgs, already loaded)."""
    ctype = w.types.get(filters["case_type"]) if filters.get("case_type") else None
    filtered(w, filters)  # refuses an unknown type or unit now (422/404), not later in the job
    what = ctype.title if ctype else "全部事项"
    title = f"导出台账：{what}" + (f"（{year} 年度）" if year else "")
    return start_job(w, "ledger_export", title, {"filters": seal(filters), "year": year})


def seal(filters: dict) -> str:
    """The filters, encrypted for the job row: a filter may name a person (keywords, a phone)."""
    from core.crypto import ring

    def tagged(value):
        if isinstance(value, dt.datetime):
            return {"$datetime": value.isoformat()}
        if isinstance(value, dt.date):
            return {"$date": value.isoformat()}
        raise TypeError(f"filter value of type {type(value).__name__}")
    return ring().encrypt(json.dumps(filters, default=tagged, ensure_ascii=False))


def unseal(sealed: str) -> dict:
    from core.crypto import ring

    def untag(obj: dict):
        if set(obj) == {"$datetime"}:
            return dt.datetime.fromisoformat(obj["$datetime"])
        if set(obj) == {"$date"}:
            return dt.date.fromisoformat(obj["$date"])
        return obj
    return json.loads(ring().decrypt(sealed), object_hook=untag)


def start_import(w: Work, ctype: CaseType, upload: BinaryIO, filename: str) -> JobRun:
    """Store the uploaded workbook (size-limited, sniffed) and queue its import."""
    from core.storage import StorageError, storage
    check_xlsx(upload)
    store = storage()
    key = store.new_key(current_tenant_id(), STORAGE_KIND)
    try:
        store.save(key, upload, max_bytes=MAX_IMPORT_BYTES)
    except StorageError:
        store.delete(key)
        raise FileTooLarge(message=f"文件过大（不能超过 {MAX_IMPORT_BYTES // 1024 // 1024} MB）") from None
    name = os.path.basename((filename or "").replace("\\", "/"))[:100] or "台账.xlsx"
    return start_job(w, "ledger_import", f"导入台账：{ctype.title}（{name}）",
                  {"case_type": ctype.key, "source_key": key, "filename": name})


def start_job(w: Work, kind: str, title: str, params: dict) -> JobRun:
    """Queue a long job (a ``RUNNERS`` kind) as the request's user; its page shows the progress."""
    params = {**params, "permissions": sorted(w.grants.by_perm), "request_id": current_request_id()}
    now = utcnow()
    job = JobRun(user_id=w.user_id, kind=kind, title=title[:200], params=params, state="queued",
                 total=0, done=0, errors=[], created_at=now, attempts=0, requeues=0,
                 lease_until=now + lease_time())
    w.session.add(job)
    w.session.flush()
    outbox.add(w.session, "core.ledgers.run_job", key=f"jobrun:{job.id}", job_run_id=job.id)
    return job


def lease_time(config=None) -> dt.timedelta:
    """How long a run stays owned without a sign of life (``PINGAN_JOB_LEASE_SECONDS``)."""
    from core.jobs import running
    return dt.timedelta(seconds=(config or running().config).job_lease_seconds)


def queue_id(tenant_id: int, job_run_id: int) -> str:
    """The queue's id of a run's ``execute``: the same for every delivery of that run."""
    return f"jobrun-{int(tenant_id)}-{int(job_run_id)}"


def percent(job: JobRun) -> int:
    if job.state == "done":
        return 100
    return min(99, job.done * 100 // job.total) if job.total else 0


# --- running jobs ----------------------------------------------------------------------------

def run_job(session: Session, job_run_id: int) -> None:
    """The outbox's entry point (``outbox.add(…, "core.ledgers.run_job", …)``): hand the job to
    the queue once the outbox's transaction commits.

    Why not run it right here: this call holds the outbox's transaction open, and the job
    must write its progress in transactions of its own. On SQLite (one writer; every
    transaction takes the write lock as it begins) those would wait for this one forever,
    and on rq this call runs under rq's default 180 s timeout, which a 5,000-row import
    can exceed. :func:`execute` runs under :data:`JOB_TIMEOUT` instead.
    """
    job = session.scalar(select(JobRun).where(JobRun.id == job_run_id))
    if job is None or job.state != "queued":
        return  # running or finished already: a second delivery
    tenant_id = current_tenant_id()
    event.listen(session, "after_commit", lambda _s: _hand_off(tenant_id, job_run_id), once=True)


def _hand_off(tenant_id: int, job_run_id: int, replace: bool = False) -> None:
    """Queue ``execute`` on the bulk queue, unless it is waiting there already (the sweep
    may have queued a lost run again before its outbox job came round)."""
    from core import jobs
    q = jobs.queue(jobs.running().config)
    qid = queue_id(tenant_id, job_run_id)
    if not replace and q.active([qid], started_within=0):
        return
    # no rq retry: execute records its own failure on the job, and the lease covers a crash
    q.enqueue("core.ledgers.execute", job_id=qid, job_timeout=int(JOB_TIMEOUT.total_seconds()), retry=False,
              bulk=True, replace=replace, tenant_id=tenant_id, job_run_id=job_run_id)


@dataclass
class _Run:
    """One job's context: the worker's database and plugins, and who the job acts as."""

    tenant_id: int
    job_id: int
    kind: str
    params: dict
    user: User
    grants: Grants
    enabled: dict
    db: Any
    host: Any
    attempt: int = 1
    lease: dt.timedelta = dt.timedelta(seconds=60)
    result_key: str | None = None
    total: int = 0
    done: int = 0

    def work(self, session: Session) -> Work:
        return Work(session, self.host, self.enabled, self.grants, self.user)

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """One short transaction: what the progress bar shows."""
        self.done = done
        if total is not None:
            self.total = total
        values: dict = {"done": done, "total": max(self.total, done)}
        if message is not None:
            values["message"] = message
        self.renew(**values)

    def renew(self, **values) -> None:
        """Renew the lease (and write ``values``) if this attempt still owns the run; else
        raise :class:`Superseded` — the sweep took it back and another attempt may run it."""
        now = utcnow()
        with self.db.transaction(self.tenant_id) as s:
            if not s.execute(self.mine().values(heartbeat_at=now, lease_until=now + self.lease, **values)).rowcount:
                raise Superseded()

    def mine(self):
        """An UPDATE of the run that applies only while this attempt owns it (the fence)."""
        return update(JobRun).where(JobRun.id == self.job_id, JobRun.state == "running",
                                    JobRun.attempts == self.attempt)


class Superseded(Exception):
    """This attempt no longer owns its run (its lease ran out and the sweep took it back)."""


class _Heartbeat:
    """Renews the run's lease every third of it while the job works between progress writes."""

    def __init__(self, run: _Run) -> None:
        import threading
        self.run, self.stopped = run, threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"pingan-lease-{run.job_id}", daemon=True)

    def __enter__(self) -> "_Heartbeat":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)

    def _beat(self) -> None:
        every = max(self.run.lease.total_seconds() / 3, 0.05)
        while not self.stopped.wait(every):
            try:
                self.run.renew()
            except Superseded:
                return  # the job's next progress write stops it
            except Exception as exc:  # noqa: BLE001 — the database busy or away: try again
                log.warning("job %s: lease not renewed (%s)", self.run.job_id, exc)


def execute(tenant_id: int, job_run_id: int) -> None:
    """Run one queued export or import job to its end, as the user who started it.

    Only a ``queued`` job runs (the claim is the row lock, the state change and a new
    attempt with its lease), so a second delivery does nothing. Never raises for the job's
    own failure: the job records it.
    """
    from core.jobs import worker_state
    state = worker_state()
    with bind_tenant(tenant_id):
        with state.db.transaction(tenant_id) as s:
            job = s.scalar(select(JobRun).where(JobRun.id == job_run_id).with_for_update())
            if job is None or job.state != "queued":
                return
            user = s.scalar(select(User).where(User.id == job.user_id))
            held = job.params.get("permissions")  # what the starting request held (a token's scopes)
            grants = load_grants(s, job.user_id).restrict(set(held) if held is not None else None)
            now, lease = utcnow(), lease_time(state.config)
            if job.kind == "ledger_export" and not job.result_key:
                from core.storage import storage  # fixed now: a second attempt overwrites the file
                job.result_key = storage(state.config).new_key(tenant_id, STORAGE_KIND)
            job.attempts = (job.attempts or 0) + 1
            run = _Run(tenant_id, job.id, job.kind, dict(job.params), user, grants,
                       state.plugins.enabled(s, tenant_id), state.db, state.plugins,
                       attempt=job.attempts, lease=lease, result_key=job.result_key)
            job.state, job.started_at, job.finished_at = "running", now, None
            job.heartbeat_at, job.lease_until = now, now + lease
            job.done, job.total, job.errors = 0, 0, []
            job.message = "排队完成，开始处理" if job.attempts == 1 else f"重新开始处理（第 {job.attempts} 次尝试）"
            actor = Actor(user.id, f"user:{user.username}")
            with acting_as(actor, run.params.get("request_id")):
                audit.record(s, "job_started", "job_run", job.id,
                             {"kind": job.kind, "title": job.title, "attempt": job.attempts})
        with acting_as(actor, run.params.get("request_id")), _Heartbeat(run):
            try:
                answered = _attempt(run, user)
            except Superseded:
                log.warning("job %s attempt %s: the run was taken back (lease over); this attempt stops",
                            run.job_id, run.attempt)
                return
            if run.kind == "ledger_import" and answered:
                _drop_source(run)  # an operator's retry of an unexpected failure still needs the file


def _attempt(run: _Run, user: User) -> bool:
    """Run the job and record its end; True when the job has its answer (cases, a file or
    the user's errors), False on an unexpected failure. Raises :class:`Superseded`."""
    try:
        if user.status != "active":
            raise JobFailed("发起任务的用户已停用，任务未执行")
        RUNNERS[run.kind](run)
    except Superseded:
        raise
    except JobFailed as exc:
        _finish(run, "failed", exc.message, errors=exc.errors[:MAX_ERRORS])
    except PinganError as exc:  # e.g. a filter's unit deleted since: the user's to fix
        _finish(run, "failed", exc.message)
    except Exception as exc:  # noqa: BLE001 — recorded on the job for the user and the operator
        log.exception("job %s (%s) of tenant %s failed", run.job_id, run.kind, run.tenant_id)
        _finish(run, "failed", f"任务执行出错（{type(exc).__name__}），请联系管理员并告知任务编号 {run.job_id}")
        return False
    return True


def _finish(run: _Run, state: str, message: str, session: Session | None = None, **values) -> None:
    """Mark the job finished (in ``session`` if given: the transaction of its effects), if
    this attempt still owns it; else raise :class:`Superseded` (and ``session`` rolls back)."""
    def apply(s: Session) -> None:
        if not s.execute(run.mine().values(state=state, message=message[:2000], finished_at=utcnow(),
                                           **values)).rowcount:
            raise Superseded()
        audit.record(s, "job_finished", "job_run", run.job_id,
                     {"kind": run.kind, "state": state, "done": values.get("done", run.done),
                      "message": message[:200], "attempt": run.attempt})
    if session is not None:
        apply(session)
    else:
        with run.db.transaction(run.tenant_id) as s:
            apply(s)


def _drop_source(run: _Run) -> None:
    """The uploaded file is not kept once the import has its answer: the cases, or the errors."""
    from core.storage import storage
    storage().delete(run.params["source_key"])


# --- export ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    key: str
    title: str
    extra: Any = None  # the type's LedgerColumn, for columns the plugin computes


def export_columns(session: Session, ctype: CaseType | None) -> list[Column]:
    """The county's ledger format for ``ctype`` (its ``ledger_columns``), or the base columns."""
    if ctype is None:
        return [Column(k, BASE_TITLES[k]) for k in case_settings.LEDGER_BASE_COLUMNS]
    extras = {c.key: c for c in ctype.ledger_columns}
    out = []
    for key in case_settings.for_type(session, ctype).ledger_columns:
        if key in BASE_TITLES:
            out.append(Column(key, BASE_TITLES[key]))
        elif key in extras:  # a column the plugin no longer declares is left out
            out.append(Column(key, extras[key].title, extras[key]))
    return out


class UnitNames:
    """Units' name paths below the county (``东湖镇/东湖第一管区/罗塘村``), loaded per batch."""

    def __init__(self) -> None:
        self.units: dict[int, tuple[str, str, int | None]] = {}  # id → (name, path, parent)

    def load(self, session: Session, ids: Iterable[int | None]) -> None:
        missing = {i for i in ids if i is not None and i not in self.units}
        for _ in range(2):  # the units, then their ancestors
            if not missing:
                return
            rows = session.execute(select(OrgUnit.id, OrgUnit.name, OrgUnit.path, OrgUnit.parent_id)
                                   .where(OrgUnit.id.in_(missing))).all()
            for uid, name, path, parent in rows:
                self.units[uid] = (name, path, parent)
            missing = {a for _, _, path, _ in rows for a in path_ids(path) if a not in self.units}

    def path_name(self, unit_id: int | None) -> str | None:
        if unit_id is None or unit_id not in self.units:
            return None
        ids = path_ids(self.units[unit_id][1])
        names = [self.units[i][0] for i in ids[1:] if i in self.units] or [self.units[unit_id][0]]
        return "/".join(names)


def _local(value: dt.datetime | None) -> dt.datetime | None:
    return value.astimezone(SHANGHAI).replace(tzinfo=None, microsecond=0) if value else None


def ledger_rows(session: Session, types: dict[str, CaseType], columns: list[Column], cases: list[Case],
                names: UnitNames) -> list[list]:
    """The ledger's rows for one batch of cases (one query per extra column, none per case)."""
    names.load(session, [c.org_unit_id for c in cases] + [c.handling_unit_id for c in cases])
    extra = {col.key: col.extra.value(session, cases) for col in columns if col.extra is not None}
    rows = []
    for case in cases:
        ctype = types.get(case.case_type)
        row = []
        for col in columns:
            key = col.key
            if col.extra is not None:
                row.append(extra[key].get(case.id))
            elif key == "case_type":
                row.append(ctype.title if ctype else case.case_type)
            elif key == "state":
                row.append(_state_title(ctype, case.state))
            elif key == "org_unit":
                row.append(names.path_name(case.org_unit_id))
            elif key == "handling_unit":
                row.append(names.path_name(case.handling_unit_id))
            elif key == "channel":
                row.append(CHANNEL_TITLES.get(case.channel or "", case.channel))
            elif key in TIME_COLUMNS:
                row.append(_local(getattr(case, key)))
            else:
                row.append(getattr(case, key))
        rows.append(row)
    return rows


def _state_title(ctype: CaseType | None, state: str) -> str:
    try:
        return ctype.state(state).title if ctype else state
    except KeyError:
        return state


def append_row(ws, row: list) -> list:
    """Append ``row`` to ``ws`` (a write-only or an ordinary openpyxl sheet): THE way every
    .xlsx the platform writes takes a row, core and modules alike (``core.sdk.xlsx_append``).

    Every text cell is stored as text, so user text starting with ``=``, ``+``, ``-`` or ``@``
    (``=HYPERLINK(…)``) is never a formula in Excel or WPS; characters XML cannot hold are
    dropped, text is cut at Excel's 32,767; aware times are written as Beijing time. Returns
    the cells (to style a header row)."""
    cells = _cells(ws, row)
    ws.append(cells)
    return cells


def _cells(ws, row: list) -> list:
    """Cells for a sheet: text stays text (a title "=…" is no formula), times formatted."""
    from openpyxl.cell import WriteOnlyCell
    out = []
    for value in row:
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = _local(value)  # a module's column may hold aware times; Excel has no time zones
        elif value is not None and not isinstance(value, (str, bool, int, float, Decimal, dt.date, dt.time)):
            value = str(value)
        if isinstance(value, str):
            cell = WriteOnlyCell(ws, value=_ILLEGAL.sub("", value)[:32767])
            cell.data_type = "s"
            out.append(cell)
        elif isinstance(value, dt.datetime):
            cell = WriteOnlyCell(ws, value=value)
            cell.number_format = "yyyy-mm-dd hh:mm"
            out.append(cell)
        else:
            out.append(value)
    return out


def _header(ws, titles: list[str]) -> list:
    from openpyxl.styles import Font
    out = _cells(ws, titles)  # a county's own column title is text too
    for cell in out:
        cell.font = Font(bold=True)
    return out


def _export(run: _Run) -> None:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter
    filters, year = unseal(run.params["filters"]), run.params.get("year")
    base = select(Case).where(Case.year == year) if year else None
    with run.db.transaction(run.tenant_id) as s:
        w = run.work(s)
        ctype = None
        if filters.get("case_type"):
            ctype = w.types.get(filters["case_type"])
            if ctype is None:
                raise JobFailed("该事项类型的模块已停用，不能导出")
        types = w.types
        columns = export_columns(s, ctype)
        total = s.scalar(select(func.count()).select_from(filtered(w, filters, base).subquery()))
    run.progress(0, total, "正在导出")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title="台账")
    ws.freeze_panes = "A2"
    for i, col in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = WIDTHS.get(col.key, 14)
    ws.append(_header(ws, [c.title for c in columns]))
    names, last_id, done = UnitNames(), 0, 0
    with tempfile.TemporaryDirectory(prefix="pingan-ledger-") as tmp:
        while True:
            with run.db.transaction(run.tenant_id) as s:
                w = run.work(s)
                batch = list(s.scalars(filtered(w, filters, base).where(Case.id > last_id)
                                       .order_by(Case.id).limit(BATCH)))
                rows = ledger_rows(s, types, columns, batch, names) if batch else []
            for row in rows:
                append_row(ws, row)
            if not batch:
                break
            last_id, done = batch[-1].id, done + len(batch)
            run.progress(done)
            if len(batch) < BATCH:
                break
        path = os.path.join(tmp, "ledger.xlsx")
        wb.save(path)
        key = _store(run, path)
    today = utcnow().astimezone(SHANGHAI).strftime("%Y%m%d")
    name = f"台账-{ctype.title if ctype else '全部事项'}-" + (f"{year}年度-" if year else "") + f"{today}.xlsx"
    _finish(run, "done", f"已导出 {done} 件", done=done, total=done, result_key=key, result_name=name)


def _store(run: _Run, path: str) -> str:
    """Save the file under the run's key (fixed at its first claim: a re-run overwrites it)."""
    from core.storage import storage
    store = storage()
    key = run.result_key or store.new_key(run.tenant_id, STORAGE_KIND)
    with open(path, "rb") as f:
        store.save(key, f)
    return key


# --- import: columns, the template, reading ------------------------------------------------

@dataclass(frozen=True)
class ImportColumn:
    key: str                  # title | org_unit | channel | content | details.<field>
    title: str
    required: bool
    note: str
    choices: dict[str, str] = field(default_factory=dict)  # accepted text → stored value
    field: Any = None         # the details schema's field


_FLAT = (mfields.String, mfields.Integer, mfields.Float, mfields.Decimal, mfields.Boolean, mfields.Date,
         mfields.DateTime, mfields.Time)


CHANNEL_CHOICES = {**{t: k for k, t in CHANNEL_TITLES.items()}, **{k: k for k in CHANNEL_TITLES}}


def import_columns(ctype: CaseType) -> list[ImportColumn]:
    """The columns of an import file of ``ctype``: the base four, then one per details field."""
    cols = [ImportColumn("title", "标题", True, "必填，不超过 200 个字"),
            ImportColumn("org_unit", "发生地", True,
                         "必填：单位编码（如 T01D1V1）、名称路径（如 东湖镇/东湖第一管区/罗塘村）或本县唯一的单位名称"),
            ImportColumn("channel", "来源渠道", False, "可选：" + "、".join(CHANNEL_TITLES.values()),
                         CHANNEL_CHOICES),
            ImportColumn("content", "内容", False, "可选，不超过 20000 个字")]
    if ctype.details_schema is None:
        return cols
    ledger_titles = {c.key: c.title for c in ctype.ledger_columns}
    taken = {c.title for c in cols} | set(BASE_TITLES.values())
    for name, fld in ctype.details_schema().load_fields.items():
        if not isinstance(fld, _FLAT):
            if fld.required:
                raise NotImportable(f"详情字段“{name}”不能用表格填写，该事项类型不支持导入")
            continue
        title = ledger_titles.get(name) or fld.metadata.get("title") or fld.metadata.get("description") or name
        title = str(title)[:40]
        if title in taken:
            title = f"{title}（{name}）"
        taken.add(title)
        choices = _choices(fld)
        note = ("必填" if fld.required else "可选") + (("：" + "、".join(dict.fromkeys(choices))) if choices else "")
        cols.append(ImportColumn(f"details.{fld.data_key or name}", title, fld.required, note, choices, fld))
    return cols


class NotImportable(PinganError):
    status, code, message = 422, "not_importable", "该事项类型不支持表格导入"

    def __init__(self, message: str) -> None:
        super().__init__(message=message)


def _choices(fld) -> dict[str, str]:
    """Accepted texts of an enumerated field: each value, and its label (``OneOf(labels=…)``,
    or the ``"home 上门走访 | phone 电话回访"`` description convention of this code base)."""
    one_of = next((v for v in fld.validators if isinstance(v, mvalidate.OneOf)), None)
    if one_of is None:
        return {}
    values = [str(c) for c in one_of.choices]
    labels = [str(x) for x in (one_of.labels or [])]
    if not labels:
        parts = [p.strip().split(None, 1) for p in str(fld.metadata.get("description", "")).split("|")]
        found = {p[0]: p[1].strip() for p in parts if len(p) == 2}
        labels = [found[v] for v in values] if set(values) <= set(found) else []
    out = dict(zip(labels, values)) if len(labels) == len(values) else {}
    return {**out, **{v: v for v in values}}


def import_limit() -> int:
    """Most data rows of one ledger import (``PINGAN_IMPORT_MAX_ROWS``)."""
    from core.jobs import running
    state = running(optional=True)
    return state.config.import_max_rows if state is not None else 200000


def template(ctype: CaseType) -> bytes:
    """An empty import file: the header row, pick lists for enumerated columns, and a notes sheet."""
    import io
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation
    cols = import_columns(ctype)
    limit = import_limit()
    wb = Workbook()
    ws = wb.active
    ws.title = "台账"
    ws.freeze_panes = "A2"
    for cell in append_row(ws, [col.title for col in cols]):
        cell.font = Font(bold=True)
    for i, col in enumerate(cols, start=1):
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = 30 if col.key in ("org_unit", "title") else 16
        labels = [t for t, v in col.choices.items() if t != v] or list(col.choices)
        if labels and len(",".join(labels)) < 250:
            dv = DataValidation(type="list", formula1='"' + ",".join(labels) + '"', allow_blank=not col.required)
            dv.add(f"{letter}2:{letter}{limit + 1}")
            ws.add_data_validation(dv)
    notes = wb.create_sheet("填写说明")
    append_row(notes, ["列", "说明"])
    for col in cols:
        append_row(notes, [col.title, col.note])
    append_row(notes, [])
    append_row(notes, ["", f"事项类型：{ctype.title}。只读取第一个工作表；第一行为列名；每个文件最多 {limit} 行。"])
    append_row(notes, ["", "任何一行有错误时，整个文件都不会导入，错误会逐行列出。"])
    notes.column_dimensions["A"].width, notes.column_dimensions["B"].width = 16, 90
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def check_xlsx(stream: BinaryIO) -> None:
    """Refuse anything but an .xlsx workbook (a zip holding ``xl/workbook.xml``) of sane size."""
    start = stream.tell()
    try:
        if not zipfile.is_zipfile(stream):
            raise FileRejected()
        stream.seek(start)
        with zipfile.ZipFile(stream) as z:
            infos = z.infolist()
            if "xl/workbook.xml" not in {i.filename for i in infos}:
                raise FileRejected()
            if len(infos) > 10000 or sum(i.file_size for i in infos) > MAX_UNZIPPED:
                raise FileTooLarge(message="文件解压后过大，请拆分后分批导入")
    except (zipfile.BadZipFile, OSError, EOFError):
        raise FileRejected() from None
    finally:
        stream.seek(start)


class SheetReader:
    """The first worksheet of an .xlsx as ``(row number, values)``, streamed with expat.

    What openpyxl's read-only mode gives for values (``data_only``: a formula's saved value),
    about four times faster: openpyxl builds an element tree per cell and an object per
    shared string, which made reading most of a 100,000-row import's time (issue 24). Shared
    strings (plain or rich text, without phonetic runs), inline strings, numbers (``int`` when
    whole, as openpyxl), booleans, errors, ISO dates and numbers in a date format (the cell's
    style: ``datetime``, or ``timedelta`` for a duration format; 1900 or 1904 epoch). A DTD in
    any part is refused (no entity expansion: what defusedxml guards against for openpyxl).
    """

    def __init__(self, stream: BinaryIO) -> None:
        self.zip = zipfile.ZipFile(stream)
        names = set(self.zip.namelist())
        wb = self._tree("xl/workbook.xml")
        sheet = next((e for e in wb.iter() if _tag(e.tag) == "sheet"), None)
        props = next((e for e in wb.iter() if _tag(e.tag) == "workbookPr"), None)
        from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH
        self.epoch = MAC_EPOCH if props is not None and props.get("date1904") in ("1", "true") else WINDOWS_EPOCH
        rels = {}
        if "xl/_rels/workbook.xml.rels" in names:
            for e in self._tree("xl/_rels/workbook.xml.rels").iter():
                if _tag(e.tag) == "Relationship":
                    target = e.get("Target", "")
                    target = target.lstrip("/") if target.startswith("/") else "xl/" + target
                    rels[e.get("Id")] = (e.get("Type", "").rsplit("/", 1)[-1], target)
        rid = next((v for k, v in (sheet.attrib.items() if sheet is not None else ()) if k.endswith("id")), None)
        self.sheet = rels.get(rid, ("", "xl/worksheets/sheet1.xml"))[1]
        if self.sheet not in names:
            raise FileRejected()
        by_type = {kind: target for kind, target in rels.values()}
        self.strings = self._strings(by_type.get("sharedStrings", "xl/sharedStrings.xml"), names)
        self.dates, self.durations = self._date_styles(by_type.get("styles", "xl/styles.xml"), names)
        self.declared: int | None = None

    def close(self) -> None:
        self.zip.close()

    def _parser(self):
        from xml.parsers import expat
        parser = expat.ParserCreate()

        def refuse(*_args):
            raise ValueError("DTD in a workbook part")
        parser.StartDoctypeDeclHandler = refuse
        parser.EntityDeclHandler = refuse
        return parser

    def _tree(self, name: str):
        from defusedxml.ElementTree import fromstring
        return fromstring(self.zip.read(name))

    def _strings(self, name: str, names: set) -> list[str]:
        if name not in names:
            return []
        out: list[str] = []
        parts: list[str] = []
        state = {"t": False, "skip": 0}
        parser = self._parser()

        def start(tag, _attrs):
            tag = _tag(tag)
            if tag == "t" and not state["skip"]:
                state["t"] = True
            elif tag == "rPh":
                state["skip"] += 1

        def end(tag):
            tag = _tag(tag)
            if tag == "t":
                state["t"] = False
            elif tag == "rPh":
                state["skip"] -= 1
            elif tag == "si":
                out.append("".join(parts))
                parts.clear()

        def text(data):
            if state["t"]:
                parts.append(data)
        parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
        parser.buffer_text = True
        with self.zip.open(name) as f:
            parser.ParseFile(f)
        return out

    def _date_styles(self, name: str, names: set) -> tuple[set[int], set[int]]:
        from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
        if name not in names:
            return set(), set()
        tree = self._tree(name)
        custom = {int(e.get("numFmtId")): e.get("formatCode", "") for e in tree.iter() if _tag(e.tag) == "numFmt"}
        xfs = next((e for e in tree.iter() if _tag(e.tag) == "cellXfs"), None)
        dates, durations = set(), set()
        for i, xf in enumerate(x for x in (xfs if xfs is not None else ()) if _tag(x.tag) == "xf"):
            fid = int(xf.get("numFmtId", 0))
            fmt = custom.get(fid) or BUILTIN_FORMATS.get(fid) or ""
            if fmt and is_date_format(fmt):
                dates.add(i)
                if is_timedelta_format(fmt):
                    durations.add(i)
        return dates, durations

    def rows(self) -> Iterator[tuple[int, tuple]]:
        """Every row present in the sheet, in order, with its values by column (``None`` where
        no cell is); rows the sheet leaves out are not given."""
        from openpyxl.utils.datetime import from_excel, from_ISO8601
        from openpyxl.worksheet._reader import _cast_number
        ready: list[tuple[int, tuple]] = []
        row: dict[int, Any] = {}
        st = {"row": 0, "col": 0, "type": "n", "style": 0, "in": None, "skip": 0}
        buf: list[str] = []
        strings, dates, durations, epoch = self.strings, self.dates, self.durations, self.epoch

        def start(tag, attrs):
            tag = tag.rpartition(":")[2]
            if tag == "c":
                ref = attrs.get("r")
                if ref:
                    letters = ref.rstrip("0123456789")
                    col = 0
                    for ch in letters.upper():
                        col = col * 26 + ord(ch) - 64
                    st["col"] = col
                else:
                    st["col"] += 1
                st["type"], st["style"] = attrs.get("t", "n"), int(attrs.get("s") or 0)
                buf.clear()
            elif tag == "v":
                st["in"] = "v"
                buf.clear()
            elif tag == "t" and st["type"] == "inlineStr" and not st["skip"]:
                st["in"] = "t"
            elif tag == "rPh":
                st["skip"] += 1
            elif tag == "row":
                r = attrs.get("r")
                st["row"] = int(r) if r else st["row"] + 1
                st["col"] = 0
                row.clear()
            elif tag == "dimension" and self.declared is None:
                last = (attrs.get("ref") or "").rpartition(":")[2].lstrip(string.ascii_letters)
                self.declared = int(last) if last.isdigit() else None

        def end(tag):
            tag = tag.rpartition(":")[2]
            if tag in ("v", "t"):
                st["in"] = None
            elif tag == "rPh":
                st["skip"] -= 1
            elif tag == "c":
                kind, raw = st["type"], "".join(buf)
                value: Any = None
                if kind == "inlineStr":
                    value = raw
                elif raw:
                    if kind == "n":
                        value = _cast_number(raw)
                        if st["style"] in dates:
                            try:
                                value = from_excel(value, epoch, timedelta=st["style"] in durations)
                            except (OverflowError, ValueError):
                                value = "#VALUE!"
                    elif kind == "s":
                        value = strings[int(raw)]
                    elif kind == "b":
                        value = bool(int(raw))
                    elif kind == "d":
                        value = from_ISO8601(raw)
                    else:  # str (a formula's text), e (an error such as #N/A)
                        value = raw
                row[st["col"]] = value
            elif tag == "row":
                if row:
                    width = max(row)
                    ready.append((st["row"], tuple(row.get(i) for i in range(1, width + 1))))
                else:
                    ready.append((st["row"], ()))

        def text(data):
            if st["in"]:
                buf.append(data)
        parser = self._parser()
        parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
        parser.buffer_text = True
        with self.zip.open(self.sheet) as f:
            while True:
                chunk = f.read(1 << 16)
                parser.Parse(chunk, not chunk)
                yield from ready
                ready.clear()
                if not chunk:
                    return


def _tag(tag: str) -> str:
    """An XML tag without its namespace or prefix."""
    return tag.rpartition("}")[2].rpartition(":")[2]


@contextlib.contextmanager
def open_sheet(stream: BinaryIO, cols: list[ImportColumn], computed: Iterable[str] = ()
               ) -> Iterator[tuple[dict[int, ImportColumn], Iterator[tuple[int, tuple]], list[dict], int | None]]:
    """The header's columns by position, the data rows as a stream ``(row number, values)``
    (blank rows skipped), the header's errors and the row count the sheet declares (None if
    it declares none; only an estimate for the progress bar: some writers declare it wrong).

    Columns an export has but an import does not take (编号, 状态 … and ``computed``) are
    ignored, so an exported ledger can be filled in and imported; any other header is an error.
    """
    check_xlsx(stream)
    try:
        reader = SheetReader(stream)
        rows = _unreadable_as_failure(reader.rows())
        first = next(rows, None)
    except JobFailed:
        raise
    except Exception as exc:  # noqa: BLE001 — any unreadable workbook is the user's file, not a bug
        raise JobFailed(f"无法读取该 Excel 文件（{type(exc).__name__}），请用 Excel 或 WPS 另存为 .xlsx 后重试") from None
    try:
        declared = reader.declared
        header = first[1] if first is not None and first[0] == 1 else ()
        if first is not None and first[0] != 1:
            rows = itertools.chain([first], rows)
        by_title = {c.title: c for c in cols} | {c.key.removeprefix("details."): c for c in cols}
        ignored = set(BASE_TITLES.values()) | set(computed)
        errors, at, seen = [], {}, set()
        for i, cell in enumerate(header):
            text = _text(cell)
            if not text:
                continue
            col = by_title.get(text)
            if col is None:
                if text not in ignored:
                    errors.append(_err(1, text, "未知的列（请使用导入模板的列名）"))
                continue
            if col.key in seen:
                errors.append(_err(1, text, "列重复"))
                continue
            seen.add(col.key)
            at[i] = col
        for col in cols:
            if col.required and col.key not in seen:
                errors.append(_err(1, col.title, "缺少必填列"))

        def data() -> Iterator[tuple[int, tuple]]:
            for number, values in rows:
                if all(v is None or _text(v) == "" for v in values):
                    continue  # blank rows (often left at the end of a sheet)
                yield number, values
        yield at, data(), errors, (declared - 1 if declared and declared > 1 else None)
    finally:
        reader.close()


def _unreadable_as_failure(rows: Iterator[tuple[int, tuple]]) -> Iterator[tuple[int, tuple]]:
    """A sheet that breaks off while it is read (bad XML, a broken zip member) fails the job
    with the same message as one that cannot be opened."""
    try:
        yield from rows
    except Exception as exc:  # noqa: BLE001 — the user's file, not a bug
        raise JobFailed(f"无法读取该 Excel 文件（{type(exc).__name__}），请用 Excel 或 WPS 另存为 .xlsx 后重试") from None


def read_sheet(stream: BinaryIO, cols: list[ImportColumn], computed: Iterable[str] = ()
               ) -> tuple[dict[int, ImportColumn], list[tuple[int, tuple]], list[dict]]:
    """:func:`open_sheet` read whole, up to :data:`MAX_IMPORT_ROWS` rows (small imports: org units)."""
    with open_sheet(stream, cols, computed) as (at, rows, errors, _declared):
        data = []
        for number, values in rows:
            if len(data) == MAX_IMPORT_ROWS:
                raise JobFailed(f"超过 {MAX_IMPORT_ROWS} 行，请拆分后分批导入",
                                [_err(number, None, f"超过 {MAX_IMPORT_ROWS} 行，请拆分后分批导入")])
            data.append((number, values))
        return at, data, errors


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _err(row: int, column: str | None, message: str, code: str | None = None) -> dict:
    return {"row": row, "column": column, "message": message} | ({"code": code} if code else {})


# --- import: checking every row ---------------------------------------------------------------

class UnitIndex:
    """The county's units in memory for resolving 发生地 (a county has thousands, not millions)."""

    def __init__(self, session: Session) -> None:
        rows = session.execute(select(OrgUnit.id, OrgUnit.parent_id, OrgUnit.name, OrgUnit.code, OrgUnit.path,
                                      OrgUnit.status)).all()
        self.by_code: dict[str, list] = defaultdict(list)
        self.by_name: dict[str, list] = defaultdict(list)
        self.children: dict[int | None, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for row in rows:
            if row.code:
                self.by_code[row.code.upper()].append(row)
            self.by_name[row.name].append(row)
            self.children[row.parent_id][row.name].append(row)
        self.roots = [r for r in rows if r.parent_id is None]
        self._cache: dict[str, tuple] = {}

    def resolve(self, text: str) -> tuple[Any, str | None]:
        """(unit, None) or (None, why not)."""
        if text not in self._cache:
            self._cache[text] = self._resolve(text)
        return self._cache[text]

    def _resolve(self, text: str):
        found = self.by_code.get(text.upper())
        parts = [p.strip() for p in re.split(r"[/／]", text) if p.strip()]
        if not found and len(parts) > 1:
            found = self._walk(parts)
        if not found and len(parts) == 1:
            found = self.by_name.get(parts[0])
        if not found:
            return None, "找不到该单位（请填写单位编码、名称路径如“东湖镇/东湖第一管区/罗塘村”，或本县唯一的单位名称）"
        if len(found) > 1:
            return None, "对应多个单位，请改填单位编码或完整的名称路径"
        unit = found[0]
        if unit.status != "active":
            return None, "该单位已撤销"
        return unit, None

    def _walk(self, parts: list[str]) -> list:
        level = [r for r in self.roots]
        if level and parts[0] in {r.name for r in level}:
            level, parts = [r for r in level if r.name == parts[0]], parts[1:]
        else:
            level = [c for r in level for c in self.children[r.id][parts[0]]] if parts else []
            parts = parts[1:]
        for part in parts:
            level = [c for r in level for c in self.children[r.id][part]]
        return level


_zh = validation_zh


def _flatten(messages, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(messages, dict):
        for k, v in messages.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(messages, list):
        for m in messages:
            yield from _flatten(m, prefix)
    else:
        yield prefix, str(messages)


def _cell_input(value, fld):
    """A cell as the details schema expects it (cells hold numbers and times, JSON holds text)."""
    if isinstance(fld, mfields.String):
        return _text(value)
    if isinstance(value, dt.datetime):
        if isinstance(fld, mfields.Date) and not isinstance(fld, mfields.DateTime):
            return value.date().isoformat()
        return (value if value.tzinfo else value.replace(tzinfo=SHANGHAI)).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(fld, mfields.Boolean) and isinstance(value, str):
        return {"是": True, "否": False}.get(value.strip(), value.strip())
    return value.strip() if isinstance(value, str) else value


def check_rows(at: dict[int, ImportColumn], data: list[tuple[int, tuple]], ctype: CaseType, units: UnitIndex,
               grants: Grants) -> tuple[list[tuple[int, dict]], list[dict]]:
    """Every row checked; (row number, data for ``engine.register``) and every error found."""
    valid, errors = [], []
    schema = ctype.details_schema() if ctype.details_schema is not None else None  # one per chunk, not per row
    for number, values in data:
        cells = {col.key: values[i] if i < len(values) else None for i, col in at.items()}
        row_errors: list[dict] = []
        out: dict = {"persons": [], "flags": [], "details": {}}
        title = _text(cells.get("title"))
        if not title:
            row_errors.append(_err(number, "标题", "必填"))
        elif len(title) > 200:
            row_errors.append(_err(number, "标题", "不能超过 200 个字"))
        out["title"] = title
        content = _text(cells.get("content"))
        if len(content) > 20000:
            row_errors.append(_err(number, "内容", "不能超过 20000 个字"))
        out["content"] = content
        channel = _text(cells.get("channel"))
        out["channel"] = None
        if channel:
            if channel not in CHANNEL_CHOICES:
                row_errors.append(_err(number, "来源渠道", "应为以下之一：" + "、".join(CHANNEL_TITLES.values())))
            else:
                out["channel"] = CHANNEL_CHOICES[channel]
        place = _text(cells.get("org_unit"))
        if not place:
            row_errors.append(_err(number, "发生地", "必填"))
        else:
            unit, why = units.resolve(place)
            if unit is None:
                row_errors.append(_err(number, "发生地", why))
            elif not grants.covers(ctype.create_permission, unit.path):
                row_errors.append(_err(number, "发生地", "不在您的管辖范围内，不能在该单位登记事项"))
            else:
                out["org_unit_id"] = unit.id
        details, by_name = {}, {}
        for col in at.values():
            if not col.key.startswith("details."):
                continue
            name = col.key.removeprefix("details.")
            by_name[name] = col.title
            raw = cells.get(col.key)
            if _text(raw) == "":
                continue  # missing: the schema says whether it is required
            if col.choices:
                text = _text(raw)
                if text not in col.choices:
                    row_errors.append(_err(number, col.title, "应为以下之一：" + "、".join(
                        [t for t, v in col.choices.items() if t != v] or list(col.choices))))
                    continue
                details[name] = col.choices[text]
            else:
                details[name] = _cell_input(raw, col.field)
        out["details"] = details  # register() loads them through the schema again
        if schema is not None:
            try:
                schema.load(details)
            except ValidationError as exc:
                done = {e["column"] for e in row_errors}
                for name, message in _flatten(exc.messages):
                    column = by_name.get(name.split(".")[0]) or _missing_title(ctype, name)
                    if column not in done:
                        row_errors.append(_err(number, column, _zh(message)))
        if row_errors:
            errors.extend(row_errors)
        else:
            valid.append((number, out))
    return valid, errors


def _missing_title(ctype: CaseType, name: str) -> str:
    """The column a details error belongs to when the file lacks that column."""
    for col in import_columns(ctype):
        if col.key == f"details.{name.split('.')[0]}":
            return col.title
    return name


def _import(run: _Run) -> None:
    """Check every row (first pass), then register them all in one transaction (second pass)."""
    with run.db.transaction(run.tenant_id) as s:
        ctype = run.work(s).types.get(run.params["case_type"])
        if ctype is None:
            raise JobFailed("该事项类型的模块已停用，不能导入")
        units = UnitIndex(s)
    rows = _Rows(run, ctype, units, import_limit())
    try:
        _check_all(run, ctype, rows)
    finally:
        rows.close()


def _check_all(run: _Run, ctype: CaseType, rows: "_Rows") -> None:
    """The first pass (every error of every row, the progress after each chunk), then the second."""
    count, errors, bad_rows, found = 0, [], 0, 0
    for start, chunk, (_ok, bad), estimate in rows.checked():
        count = start + len(chunk)
        found += len(bad)
        bad_rows += len({e["row"] for e in bad})
        errors.extend(bad[:MAX_ERRORS + 1 - len(errors)])
        run.progress(count, 2 * max(estimate or 0, count), f"已校验 {count} 行" + (
            f"，发现 {bad_rows} 行有错误" if bad_rows else ""))
    if not count:
        raise JobFailed("文件中没有数据行", [_err(2, None, "文件中没有数据行")])
    if errors:
        raise JobFailed(f"{bad_rows} 行共 {found} 处错误，未导入任何事项"
                        + (f"（只列出前 {MAX_ERRORS} 处）" if found > MAX_ERRORS else ""), errors)
    _register_all(run, ctype, rows, 2 * count)


class _Rows:
    """The import file's data rows. The first pass streams the file and checks every row; the
    rows it found good go to a spool (an anonymous temporary file, gone when closed or when the
    process dies), which the second pass reads back chunk by chunk. Nothing of the file is kept
    in memory beyond one chunk of :data:`BATCH` rows, and the workbook is parsed once."""

    def __init__(self, run: _Run, ctype: CaseType, units: UnitIndex, limit: int) -> None:
        self.run, self.ctype, self.units, self.limit = run, ctype, units, limit
        self.cols = import_columns(ctype)
        self.spool = tempfile.TemporaryFile(prefix="pingan-import-")

    def close(self) -> None:
        self.spool.close()

    def checked(self) -> Iterator[tuple[int, list, tuple[list, list], int | None]]:
        """The first pass: ``(index of the chunk's first row, the chunk, check_rows' answer, rows
        declared)`` per chunk. Raises :class:`JobFailed` on header errors and past the bound."""
        from core.storage import storage
        try:
            stream = storage().open(self.run.params["source_key"])
        except (FileNotFoundError, OSError):
            raise JobFailed("导入文件已不存在，请重新上传") from None
        self.spool.seek(0)
        self.spool.truncate()
        with contextlib.ExitStack() as stack:
            stack.enter_context(stream)
            try:
                at, data, errors, declared = stack.enter_context(
                    open_sheet(stream, self.cols, [c.title for c in self.ctype.ledger_columns]))
            except PinganError as exc:  # not a workbook after all, or too large unpacked
                raise JobFailed(exc.message) from None
            if errors:
                raise JobFailed(f"表头有 {len(errors)} 处错误，未导入任何事项", errors)
            if declared and declared > self.limit:
                declared = None  # only an estimate (maybe wrong): the rows are counted
            start, chunk = 0, []
            for number, values in data:
                if start + len(chunk) >= self.limit:
                    raise JobFailed(*too_many_rows(number, self.limit))
                chunk.append((number, values))
                if len(chunk) == BATCH:
                    yield start, chunk, self._check(at, chunk), declared
                    start, chunk = start + len(chunk), []
            if chunk:
                yield start, chunk, self._check(at, chunk), declared

    def _check(self, at: dict, chunk: list) -> tuple[list, list]:
        ok, bad = check_rows(at, chunk, self.ctype, self.units, self.run.grants)
        if ok:
            pickle.dump(ok, self.spool, protocol=pickle.HIGHEST_PROTOCOL)
        return ok, bad

    def valid(self) -> Iterator[list[tuple[int, dict]]]:
        """The second pass: the rows to register, chunk by chunk, from the spool."""
        self.spool.seek(0)
        while True:
            try:
                yield pickle.load(self.spool)  # noqa: S301 — our own spool, written by the first pass
            except EOFError:
                return


def too_many_rows(number: int, limit: int) -> tuple[str, list[dict]]:
    """The job's message and error for a file longer than the bound (``PINGAN_IMPORT_MAX_ROWS``)."""
    message = f"数据行超过 {limit} 行（每个文件最多导入 {limit} 行），请拆分后分批导入，未导入任何事项"
    return message, [_err(number, None, message, code="too_many_rows")]


def _register_all(run: _Run, ctype: CaseType, rows: _Rows, total: int) -> None:
    """Every row in ONE transaction, with the job's end: all cases or none. Written in chunks
    (``core.cases.bulk``); the progress moves after each chunk (not on SQLite, whose one write
    lock this transaction holds: the bar waits at the end of the check there)."""
    from core.cases import bulk
    checked = total // 2
    run.progress(checked, total, f"正在登记 {checked} 件")
    failed: dict | None = None
    try:
        with run.db.transaction(run.tenant_id) as s:
            w = run.work(s)
            live = s.get_bind().dialect.name != "sqlite"  # SQLite: this transaction holds the only write lock
            with audit.summarised(s):
                registrar = bulk.Registrar(w, ctype)
                done = 0
                for chunk in rows.valid():
                    try:
                        registrar.add([data for _number, data in chunk])
                    except bulk.RowFailed as exc:
                        number = chunk[exc.index][0]
                        failed = _err(number, _error_column(exc.error, ctype), exc.error.message)
                        raise
                    except PinganError as exc:
                        failed = _err(chunk[0][0], None, exc.message)
                        raise
                    except Exception as exc:
                        log.exception("import job %s: rows %s-%s could not be registered", run.job_id,
                                      chunk[0][0], chunk[-1][0])
                        failed = _err(chunk[0][0], None, f"登记失败（{type(exc).__name__}）")
                        raise
                    done += len(chunk)
                    if live:
                        run.progress(checked + done, message=f"已登记 {done}/{checked} 件")
                summary = registrar.finish()
            summary["filename"] = run.params.get("filename")
            audit.record(s, "ledger_import", "job_run", run.job_id, summary)
            first, last = summary["numbers"]
            message = f"已导入 {summary['cases']} 件，编号 {first} 至 {last}"
            _finish(run, "done", message, session=s, done=total, total=total, errors=[])
    except JobFailed:
        raise
    except Exception:
        if failed is None:
            raise
        raise JobFailed(f"第 {failed['row']} 行登记失败，已全部撤销，未导入任何事项", [failed]) from None


def _error_column(exc: PinganError, ctype: CaseType) -> str | None:
    """The column of the field ``register`` refused (its errors are ``{location: {field: …}}``)."""
    mapping = {"title": "标题", "org_unit_id": "发生地", "channel": "来源渠道", "content": "内容"}
    for at_fault in (exc.errors or {}).values():
        for name, detail in (at_fault.items() if isinstance(at_fault, dict) else ()):
            if name in mapping:
                return mapping[name]
            if name == "details" and isinstance(detail, dict) and detail:
                return _missing_title(ctype, next(iter(detail)))
    return None


def _recompute(run: _Run) -> None:
    """Provisional time limits counted again (core.cases.recompute): this county's, or every
    county's when the platform operator started it from the platform tenant."""
    from core.cases import recompute
    if run.params.get("scope") == "platform":
        from core.models import Tenant
        with run.db.transaction() as s:
            ids = [t for t in s.scalars(select(Tenant.id).order_by(Tenant.id)) if t != run.tenant_id]
    else:
        ids = [run.tenant_id]
    run.progress(0, len(ids), "开始重算")

    def tick(done: int, total: int, result) -> None:
        run.progress(done, total, f"已处理 {done}/{total} 个县：{recompute.describe(result)}")
    result = recompute.run_all(run.db, run.host, tick, ids)
    _finish(run, "done", f"重算完成：{recompute.describe(result)}", done=len(ids))


RUNNERS = {"ledger_export": _export, "ledger_import": _import, "calendar_recompute": _recompute}


# --- the sweep: runs whose lease ran out ---------------------------------------------------------

def recover(session: Session, now: dt.datetime | None = None, config=None) -> dict:
    """Take back the bound county's runs nobody owns any more (called by the sweep), in the
    caller's transaction; the queue gets them once it commits.

    - ``running`` with its lease over: the worker or its work horse died, or hangs without a
      heartbeat. Queued again (``requeues`` + 1, the message says why), or failed for good
      once ``PINGAN_JOB_MAX_ATTEMPTS`` attempts were interrupted.
    - ``queued`` with its pickup lease over and neither its ``execute`` nor its outbox hand-off
      waiting in the queue (a Redis flush, a crash between commit and enqueue): queued again.
      One only waiting behind other work is left alone.

    Returns ``{"requeued": n, "gave_up": n}``.
    """
    from core.jobs import queue, running
    config = config or running().config
    now, lease, tenant_id = now or utcnow(), lease_time(config), current_tenant_id()
    out = {"requeued": 0, "gave_up": 0}
    rows = list(session.scalars(select(JobRun).where(
        JobRun.state.in_(("queued", "running")), or_(JobRun.lease_until.is_(None), JobRun.lease_until < now))
        .order_by(JobRun.id).with_for_update(skip_locked=True)))
    queued = [j for j in rows if j.state == "queued"]
    if queued:
        ids = {j.id: (queue_id(tenant_id, j.id), outbox.job_id(tenant_id, f"jobrun:{j.id}")) for j in queued}
        try:
            waiting = queue(config).active([i for pair in ids.values() for i in pair],
                                           started_within=lease.total_seconds())
        except Exception:  # noqa: BLE001 — the queue is down: nothing can be queued now anyway
            log.exception("cannot ask the queue which long jobs are waiting; the next sweep tries again")
            rows = [j for j in rows if j.state == "running"]
        else:
            rows = [j for j in rows if j.state == "running" or not set(ids[j.id]) & waiting]
    requeued = []
    for job in rows:
        if job.state == "running" and job.attempts >= config.job_max_attempts:
            job.state, job.finished_at, job.lease_until = "failed", now, None
            job.message = (f"任务执行了 {job.attempts} 次，每次都中断（处理进程停止响应），已不再重试；"
                           f"请联系管理员并告知任务编号 {job.id}")
            audit.record(session, "job_finished", "job_run", job.id,
                         {"kind": job.kind, "state": "failed", "done": job.done, "message": job.message[:200],
                          "attempt": job.attempts})
            out["gave_up"] += 1
            continue
        if job.state == "running":
            why = (f"上次执行中断（处理进程超过 {int(lease.total_seconds())} 秒没有响应），"
                   f"已重新排队（已尝试 {job.attempts} 次，最多 {config.job_max_attempts} 次）")
        else:
            why = "排队的任务在队列中丢失（如队列服务重启或被清空），已重新排队"
        audit.record(session, "job_requeued", "job_run", job.id,
                     {"kind": job.kind, "from": job.state, "attempts": job.attempts, "by": "sweep"})
        job.state, job.message, job.done = "queued", why, 0
        job.requeues, job.lease_until = (job.requeues or 0) + 1, now + lease
        requeued.append(job.id)
    if requeued:
        event.listen(session, "after_commit", lambda _s: [_requeue_quietly(tenant_id, i) for i in requeued],
                     once=True)
    out["requeued"] = len(requeued)
    return out


def _requeue_quietly(tenant_id: int, job_run_id: int) -> None:
    try:
        _hand_off(tenant_id, job_run_id, replace=True)
    except Exception:  # noqa: BLE001 — its lease runs out again: the next sweep tries again
        log.exception("could not queue job %s of tenant %s again", job_run_id, tenant_id)


# --- operators ---------------------------------------------------------------------------------

def troubled(session: Session, since: dt.datetime, now: dt.datetime | None = None) -> list[tuple[JobRun, str]]:
    """Jobs an operator should look at: failed since ``since``, or stalled (queued or running
    with a lease over for longer than :data:`STALLED_AFTER` — the sweep should have taken
    them back: no worker runs the sweep, or the queue is unreachable)."""
    now = now or utcnow()
    rows = session.scalars(select(JobRun).where(or_(
        (JobRun.state == "failed") & (JobRun.finished_at >= since),
        JobRun.state.in_(("queued", "running")) & or_(
            JobRun.lease_until < now - STALLED_AFTER,
            JobRun.lease_until.is_(None) & (func.coalesce(JobRun.started_at, JobRun.created_at)
                                            < now - STALLED_AFTER)))).order_by(JobRun.id.desc()))
    return [(j, trouble(j, now) or "") for j in rows]


def trouble(job: JobRun, now: dt.datetime | None = None) -> str | None:
    """``failed``, ``stalled`` or None (a job an operator may run again, and why)."""
    now = now or utcnow()
    if job.state == "failed":
        return "failed"
    if job.state not in ("queued", "running"):
        return None
    since = job.lease_until or job.started_at or job.created_at
    return "stalled" if since < now - STALLED_AFTER else None


def requeue(session: Session, job: JobRun) -> str:
    """Run a failed or stalled job again (the operator fixed the cause): a new round of
    attempts. Returns the outbox key."""
    job.state, job.done, job.total, job.errors, job.message = "queued", 0, 0, [], "管理员已重新排队"
    job.started_at = job.finished_at = None
    job.attempts, job.lease_until = 0, utcnow() + lease_time()
    key = f"jobrun:{job.id}:retry:{utcnow().strftime('%Y%m%d%H%M%S%f')}"
    outbox.add(session, "core.ledgers.run_job", key=key, job_run_id=job.id)
    audit.record(session, "job_requeued", "job_run", job.id, {"kind": job.kind, "by": "operator"})
    return key
