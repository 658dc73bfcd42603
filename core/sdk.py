"""The plugin SDK: the one module a Pingan plugin imports from the core.

Everything a plugin needs is re-exported here under a stable name (CKAN's ``toolkit``
idea); the rest of ``core`` is internal and may change without notice. A name leaves this
module only after a release in which it is deprecated. The core itself never imports
``core.sdk`` (``tests/test_docs.py`` checks), so this stays a pure re-export module.

Groups (see ``docs/plugins.md`` for how they fit together):

- hooks: ``hookimpl``; declarations returned by hooks: ``Permission``, ``RoleTemplate``,
  ``MenuItem``, ``Widget``, ``ScheduledJob``, ``Indicator``; ``module_settings(session, plugin)``
  (the bound county's settings of a module, in a request or a job); ``county_indicators(session)``
  (the indicators of the county's enabled modules, by key)
- models: ``TenantModel``, ``ReferenceModel``, ``tenant_fk``, ``AwareDateTime``, ``utcnow``,
  ``Encrypted``, ``OrgUnit`` (the org tree, to read unit paths), ``OrgLevel`` (its levels' local names), ``MemberUnit`` (成员单位 seated in a
  centre, ORG-3: to pick and check them), ``bind_tenant``,
  ``job_transaction`` (a session inside a scheduled job); subtree predicates ``within(path)``
  and ``units_under(path)`` (use these, never ``LIKE``: they keep the path index usable
  under row-level security); ``network_holders(session, unit, kinds)`` (who holds a network
  role such as 包片领导 for a unit, looked up the tree)
- requests: ``current()`` → ``RequestContext``; guards ``requires``, ``authenticated``,
  ``public``; ``rate_limit(key, limit, window)`` for public endpoints (429 past the limit);
  ``case_page_response`` (the shared case page, with a module form's errors),
  ``case_form_response`` (a module's form on the case page: load, act, commit, back or errors),
  ``load_form`` (a posted form through an API schema, errors named in Chinese), ``validation_zh``
  (a marshmallow message in Chinese, for a module's own form), ``parse_int``
  (a hand-read id or number from a query or form: ASCII digits within a bigint, else None),
  ``HIDDEN_FORM_FIELDS`` (the CSRF and one-time token fields every form posts: not data)
- authorisation: ``get_or_404``, ``scoped``, ``may``, ``require``, ``users_who_may(session, user_ids,
  perm, unit_id)`` (of those users, who may do ``perm`` there: whom to tell of what only it may know)
- errors: ``NotFound``, ``Forbidden``, ``Conflict``, ``Invalid``; ``PinganError`` (their base:
  ``status``, ``code``, ``message`` and ``field_at_fault``, to show an error on a page at its field)
- audit and privacy: ``shows_secret_once`` (call it in an act whose answer shows a secret this
  once — one-time codes, a password: the answer is then never stored for a retried request);
  ``record``, ``record_read``, ``sensitive_fields``, ``party_fields`` (a
  case's person's fields, masked or revealed by the case type's PII permission as the case's
  persons endpoint does), ``normalise_id_number``; ``set_person_fields`` (write a person's fields:
  the ID number checked, ID number and phone with their blind indexes); ``blind_index`` (the
  keyed hash of a value, for equality look-ups of an encrypted value); ``AuditEntry`` (the
  audit log's entries, read only: a module's report of who read its records and why); ``AuditLabels`` (the words of the plugin's
  audit entries, returned from ``pingan_audit_labels``)
- cases: ``CaseType``, ``State``, ``Transition``, ``DeadlineRule``, ``LedgerColumn`` (declared
  from ``pingan_case_types``), ``Case`` (the core's table, to join a plugin's own), ``CaseEvent`` (its timeline), ``CaseDeadline`` (its time limits, ``met`` once stopped),
  ``CaseFlag``,
  ``register_case(work, case_type, data)`` (register a case from a module's own act: an
  inspection's failed item), ``set_limit_due(session, case, rule, due_at, basis)`` (a running
  limit's end decided by an act, e.g. a notice's deadline), ``supervise_case_as_platform(session, case, data)``
  (督办 issued by the platform itself, e.g. 挂牌 when a limit runs out),
  ``CasePerson`` and ``Person`` (a case's people; ID number and phone encrypted, matched by
  their blind indexes), ``add_case_flag``, ``add_case_event`` (a plugin's own act on the
  timeline, kind ``<plugin>.<act>``), ``case_or_404(case_id)`` → ``(work, case, case_type)``
  for a plugin's endpoint on a case, ``Work`` and ``request_work()`` (what acts on cases take);
  ``register_case(work, case_type, data)`` (a case the module's own act starts, e.g. a
  rectification ordered by an evaluation: the one-window registration's checks and limits); time limits ``WorkCalendar``, ``deadline``, ``county_calendar(session)`` (the
  county's working days); ``limit_end`` (a limit's end as users read it, "2026-10-09 24:00":
  in every message that names one) and ``local_time`` (a time as Beijing time); an indicator's
  period bounds: ``period_moment`` (an aware datetime: a date is its 00:00 in Beijing) and
  ``period_day`` (the bound's date in Beijing)
- dispatch (分流交办 to org units and member units, ``docs/cases.md``): ``dispatch_case(work, case,
  case_type, mode, tasks, note)`` (``single`` | ``joint`` | ``add``; a task names an ``org_unit_id``
  or a ``member_unit_id``), ``acknowledge_task`` (签收), ``finish_task`` (办结 ``"done"`` with the
  answer, 回退 ``"returned"`` with the reason), ``record_follow_up`` (回访 with the satisfaction),
  ``task_users(session, task)`` (the receiving unit's users: a member unit's staff), ``CaseTask``;
  ``supervise_case(work, case, case_type, data)`` (督办/催办 as ``POST /api/cases/<id>/supervisions``:
  ``kind``, ``level`` normal | listed 挂牌, ``instruction``, ``target_unit_id``; escalated by the sweep) and
  ``Supervision`` (its row, read only: ``state`` open | answered | closed)
- notifications and documents: ``notify``, ``users_of_unit``, ``user_cards`` (accounts named by id),
  ``readable_cases(session, grants, types)`` (SQL predicate on ``Case``: the cases of ``types`` the
  user may read — the case list's own rule; ``types``: ``request_work().types``), ``case_dispatchers(session, case)``
  (its registrant and whoever dispatched its tasks: tell them of a plugin's own answers and
  ratings), ``NotificationChannel``,
  ``DocumentTemplate`` and ``render_pdf`` (a template to PDF bytes); background work after
  commit: ``outbox_add``
- API conventions: ``ListArgs``, ``IdListArgs``, ``sort_field``, ``permission_code``,
  ``page_of``, ``paginate``, ``IdField``, ``id_path``, ``Blueprint`` (flask-smorest);
  ``unit_or_404(unit_id, perm)`` (the unit a report asks about, in the user's scope),
  ``download_response(data, filename)`` (an .xlsx or other file to save);
  ``xlsx_append(ws, row)`` — the one way to put a row into an .xlsx sheet (every text cell
  stored as text: a value starting with ``=``, ``+``, ``-`` or ``@`` is never a formula;
  returns the cells, to style a header); never ``ws.append`` or ``ws.cell(value=…)`` with text
- declarations (``docs/plugin_registers.md``): ``Manifest`` (info, permissions, role templates,
  settings, menu, migrations, blueprints, indicators, widgets, jobs in one declaration;
  ``manifest.hooks(globals())`` makes the hooks), ``Register`` (a register of records on org units:
  API, page, filters, close, export, menu item and audit words from one declaration) and
  ``RegisterRecord`` (the base of a register's model); ``create_record(ctx, register, data)`` and
  ``close_record(ctx, register, record_id, data)`` — what the register's API does, from a
  module's own code (its demo year, a job): the caller's scope checked, every id in ``data`` too;
  ``data`` as the register's fields load it; ``LetterKind`` (a kind of responsibility
  letter, 责任书, the module works with: the core keeps the letters, their page, API, PDF and
  reminders; ``docs/letters.md``), returned from ``pingan_letter_kinds`` or ``Manifest(letters=…)``;
  ``issue_letter(ctx, kind, year, issuing_unit_id, party_kind, party_id)`` makes one from the
  module's page (as ``POST /api/letters``) and ``party_letters(session, kind, party_kind, party_id)``
  lists a party's letters of the kind
- transfers between counties (``docs/transfers.md``): ``TransferKind`` (what the module transfers
  to another county, returned from ``pingan_transfer_kinds`` or ``Manifest(transfers=…)``) and
  ``TransferFacts`` (what its callables are told); ``offer_transfer(ctx, kind, subject_id,
  org_unit_id, to_tenant_id, meta, note)`` offers a subject from the module's endpoint;
  ``open_transfer(session, kind, subject_id)`` (the offer still waiting: keep the subject as it
  is meanwhile); ``subject_transfers(session, kind, subject_id)`` (its transfers, for its page);
  ``transfer_counties(session)`` (the other counties of the platform, for the choice)
- files a module keeps (the photo of signed minutes, a check-in photo, a scan): ``store_file(session,
  upload, kinds=SCAN_KINDS)`` → ``StoredFile`` (key, cleaned name, detected type, size, SHA-256;
  checked by content, deleted again if the transaction rolls back), ``forget_file(session, key)``
  (a file no longer referred to: deleted once the transaction commits), ``file_response(key,
  filename, content_type, size)`` (served as a download, never in the page's origin);
  ``keep_file(session, owner, prefix, upload, kinds, refused, field)`` (the file kept in the owner's
  columns ``<prefix>_key``, ``_filename``, ``_content_type``, ``_size``, ``_sha256``, the one they named
  before forgotten: a photo added or replaced) and ``kept_file_response(owner, prefix, default_name)``;
  ``SCAN_KINDS`` (PDF or an image), ``PHOTO_KINDS`` (an image)
- the demo county: ``DemoActivity`` (what ``pingan_demo_activity(demo)`` gets to plan the
  module's year of demo work) and ``DemoCase`` (a case it plans)
"""
from flask_smorest import Blueprint

from core.api.common import (IdField, IdListArgs, ListArgs, download as download_response, id_path, page_of,
                             paginate, permission_code, sort_field, unit_or_404)
from core.audit import AuditEntry, record, record_read
from core.context import shows_secret_once
from core.audit_labels import AuditLabels
from core.cases.engine import add_flag as add_case_flag, register as register_case
from core.cases.deadlines import set_due as set_limit_due
from core.cases.supervision import issue_as_system as supervise_case_as_platform
from core.cases.intake import register as register_intake
from core.cases.fresh import rows as fresh_case_rows
from core.cases.engine import divert as dispatch_case, finish_task
from core.cases.engine import register as register_case
from core.cases.dispatch import acknowledge as acknowledge_task, follow_up as record_follow_up, task_users
from core.cases.models import Case, CaseDeadline, CaseEvent, CaseFlag, CasePerson, CaseTask, Intake, Supervision
from core.cases.settings import calendar as county_calendar
from core.cases.access import request_case as case_or_404
from core.cases.supervision import issue as supervise_case
from core.cases.timeline import Work, request_work, unattributed as unattributed_work
from core.cases.timeline import add as add_case_event
from core.cases.types import CaseType, DeadlineRule, LedgerColumn, State, Transition
from core.authz import Permission, get_or_404, may, require, scoped, users_who_may
from core.bounds import parse_int
from core.crypto import Encrypted, blind_index
from core.db import AwareDateTime, ReferenceModel, TenantModel, bind_tenant, rls_unforced, tenant_fk, utcnow
from core.errors import Conflict, Forbidden, Invalid, NotFound, PinganError
from core.hookspecs import hookimpl
from core.idempotency import HIDDEN_FORM_FIELDS
from core.jobs import job_transaction
from core.ledgers import append_row as xlsx_append
from core.models import MemberUnit, OrgLevel, OrgUnit, Person
from core.orgtree import network_holders, units_under, within
from core.ratelimit import hit as rate_limit
from core.documents import DocumentTemplate, render_pdf
from core.notifications import NotificationChannel, UserCard, notify, user_cards, users_of_unit
from core.cases.access import dispatchers as case_dispatchers, readable as readable_cases
from core.outbox import add as outbox_add
from core.plugins import Indicator, MenuItem, RoleTemplate, ScheduledJob, Widget, county_indicators, module_settings
from core.workdays import WorkCalendar, deadline
from core.timefmt import limit_end, local as local_time, period_day, period_moment
from core.privacy import normalise_id_number, party_fields, sensitive_fields, set_person_fields
from core.request import RequestContext, authenticated, current, public, requires
from core.web.cases import case_form_response, case_page_response, load_form
from core.validation_messages import validation_zh
from core.demo_activity import DemoActivity, DemoCase
from core.manifest import Manifest
from core.registers import Register, RegisterRecord, close as close_record, create as create_record
from core.letters import LetterKind, issue_letter, party_letters
from core.uploads import (PHOTO_KINDS, SCAN_KINDS, StoredFile, file_response, forget_file, keep_file, kept_file_response,
                          store_file)
from core.transfers import (TransferFacts, TransferKind, counties as transfer_counties, offer_as as offer_transfer,
                            open_for as open_transfer, subject_transfers)

__all__ = [
    # hooks and declarations
    "hookimpl", "Permission", "RoleTemplate", "MenuItem", "Widget", "ScheduledJob", "Indicator", "module_settings",
    "county_indicators",
    # models and tenancy
    "TenantModel", "ReferenceModel", "tenant_fk", "AwareDateTime", "utcnow", "Encrypted", "OrgUnit", "MemberUnit", "OrgLevel",
    "bind_tenant", "job_transaction", "within", "units_under", "network_holders",
    # requests and guards
    "current", "RequestContext", "requires", "authenticated", "public", "rate_limit", "case_page_response",
    "case_form_response", "load_form", "parse_int", "HIDDEN_FORM_FIELDS", "validation_zh",
    # authorisation
    "get_or_404", "scoped", "may", "require", "users_who_may",
    # errors
    "NotFound", "Forbidden", "Conflict", "Invalid", "PinganError",
    # audit and privacy
    "record", "record_read", "sensitive_fields", "party_fields", "normalise_id_number", "AuditLabels",
    "shows_secret_once",
    "set_person_fields", "blind_index", "AuditEntry",
    # cases, time limits, notifications, documents, background work
    "CaseType", "State", "Transition", "DeadlineRule", "LedgerColumn", "Case", "CaseDeadline", "CaseEvent", "CaseFlag", "CasePerson", "Person",
    "add_case_flag", "fresh_case_rows", "add_case_event", "case_or_404", "Work", "request_work", "WorkCalendar", "deadline", "county_calendar", "limit_end", "local_time", "period_moment", "period_day", "NotificationChannel", "notify", "users_of_unit", "user_cards", "UserCard", "case_dispatchers", "readable_cases", "DocumentTemplate",
    "render_pdf",
    "dispatch_case", "supervise_case", "supervise_case_as_platform", "Supervision", "acknowledge_task", "finish_task", "record_follow_up", "task_users", "CaseTask",
    "outbox_add", "Intake", "register_case", "set_limit_due", "register_intake", "unattributed_work",
    # API conventions
    "ListArgs", "IdListArgs", "sort_field", "permission_code", "page_of", "paginate", "IdField", "id_path",
    "Blueprint", "unit_or_404", "download_response", "xlsx_append", "rls_unforced",
    # declarations
    "Manifest", "Register", "RegisterRecord", "create_record", "close_record", "LetterKind",
    "issue_letter", "party_letters",
    # transfers between counties
    "TransferKind", "TransferFacts", "offer_transfer", "open_transfer", "subject_transfers", "transfer_counties",
    # files a module keeps
    "store_file", "forget_file", "file_response", "keep_file", "kept_file_response", "StoredFile", "SCAN_KINDS",
    "PHOTO_KINDS",
    # the demo county
    "DemoActivity", "DemoCase",
]
