"""Responsibility letters (责任书): one capability of the core, shared by every module.

A module declares the kinds of letter it works with (``pingan_letter_kinds`` or
``Manifest(letters=…)``): patrol's 治安联防责任书 (PAT-3), safety's 安全生产责任书 (SAF-3),
scoring's 目标管理责任书 (SCO-8). A :class:`LetterKind` names its key ``<plugin>.<name>``, its
titles, the default paragraphs of its text (with the placeholders of :data:`PLACEHOLDERS`) and
which kinds of party sign it. The county's admin may replace the paragraphs and set the day of
the year from which the issuing units are reminded of the letters still unsigned
(:class:`LetterKindConfig`); without such a day nobody is reminded.

A :class:`Letter` is one kind, one year, one signing party (an org unit, a member unit or a
person of the core's register) — at most one per (kind, year, party) — issued by a unit (the
township, the county). It is unsigned until its signing is recorded (the date, who recorded
it, optionally the scan), or withdrawn with a reason. Its scope unit (``org_unit_id``) is the
party's unit: a list is ``scoped`` by the path predicate, one letter is ``get_or_404``, and
every unit, member unit and person a write names is checked against the write scope (404 at
the field). Row changes are audited by the flush (``core.audit``), the acts by
:func:`core.audit.record`.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import BigInteger, Date, Index, Integer, Select, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, mapped_column

from core import audit
from core.authz import Grants, get_or_404, named_unit, require
from core.db import AwareDateTime, TenantModel, tenant_fk, utcnow
from core.errors import Conflict, Invalid, NotFound
from core.models import MemberUnit, OrgUnit, Person
from core.orgtree import units_under
from core.timefmt import period_day, period_moment
from core.workdays import SHANGHAI

READ, MANAGE = "core.letter.read", "core.letter.manage"
PARTY_KINDS: dict[str, tuple[str, str]] = {
    "unit": ("组织单位", "Org unit"), "member_unit": ("成员单位", "Member unit"), "person": ("个人", "Person")}
STATUS: dict[str, tuple[str, str]] = {
    "unsigned": ("未签订", "Unsigned"), "signed": ("已签订", "Signed"), "withdrawn": ("已撤销", "Withdrawn")}
# placeholder → (what it stands for, in Chinese; English)
PLACEHOLDERS: dict[str, tuple[str, str]] = {
    "年度": ("责任书的年度，如 2027", "the year"),
    "发文单位": ("发出责任书的单位（甲方），如某镇", "the issuing unit"),
    "责任方": ("签订责任书的一方（乙方）：单位、成员单位或个人", "the signing party"),
    "对方": ("代表甲方签字的人或职务，如社区民警", "the counter-party"),
    "签订日期": ("签订日期；未签订时为留空的横线", "the signing date"),
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
BLANK_DATE = "＿＿＿＿年＿＿月＿＿日"
MAX_PARAGRAPHS, MAX_PARAGRAPH = 50, 2000
TEMPLATES_DIR = str(Path(__file__).parent / "web" / "templates" / "letters")
STORAGE_KIND = "letter"  # [a-z]+: core.storage.KEY


@dataclass(frozen=True)
class LetterKind:
    """A kind of responsibility letter a module works with.

    - ``key``: ``<plugin>.<name>`` (``patrol.joint_defence``); ``title`` / ``title_en``.
    - ``paragraphs``: the default text, one string a paragraph, with placeholders among
      ``{年度}``, ``{发文单位}``, ``{责任方}``, ``{对方}``, ``{签订日期}``.
    - ``parties``: which kinds of party sign it: ``"unit"`` (an org unit), ``"member_unit"``,
      ``"person"`` (a person of the core's register).
    """

    key: str
    title: str
    paragraphs: Sequence[str]
    title_en: str = ""
    parties: Sequence[str] = ("unit",)
    plugin: str = field(default="", compare=False)

    def check(self, plugin: str) -> None:
        """Refuse a declaration the core could not serve (start-up stops with the message)."""
        if not re.fullmatch(rf"{re.escape(plugin)}\.[a-z][a-z0-9_]{{0,47}}", self.key):
            raise ValueError(f"plugin {plugin!r}: letter kind {self.key!r} must be '{plugin}.<name>' "
                             "(lowercase letters, digits, _)")
        if not self.title or not self.paragraphs:
            raise ValueError(f"letter kind {self.key!r}: a title and at least one paragraph are needed")
        bad = [p for p in self.parties if p not in PARTY_KINDS] or ([] if self.parties else ["(none)"])
        if bad:
            raise ValueError(f"letter kind {self.key!r}: parties must be among {sorted(PARTY_KINDS)}, not {bad}")
        problem = paragraphs_problem(list(self.paragraphs))
        if problem:
            raise ValueError(f"letter kind {self.key!r}: {problem}")


def paragraphs_problem(paragraphs: list[str]) -> str | None:
    """What is wrong with a template's paragraphs (in Chinese), or None."""
    if not paragraphs:
        return "至少需要一段正文"
    if len(paragraphs) > MAX_PARAGRAPHS:
        return f"正文最多 {MAX_PARAGRAPHS} 段"
    for i, p in enumerate(paragraphs, 1):
        if len(p) > MAX_PARAGRAPH:
            return f"第 {i} 段超过 {MAX_PARAGRAPH} 字"
        unknown = [n for n in _PLACEHOLDER.findall(p) if n not in PLACEHOLDERS]
        if unknown:
            return f"第 {i} 段有未知的占位符 {{{unknown[0]}}}，可用的是：" + "、".join(f"{{{n}}}" for n in PLACEHOLDERS)
    return None


def split_paragraphs(text: str) -> list[str]:
    """A textarea's text → paragraphs: one a line, blank lines and surrounding spaces dropped."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def fill(paragraph: str, facts: Mapping[str, str]) -> str:
    """A paragraph with its placeholders replaced by the facts."""
    return _PLACEHOLDER.sub(lambda m: facts.get(m.group(1), m.group(0)), paragraph)


# --- the tables ------------------------------------------------------------------------------

class Letter(TenantModel):
    """One responsibility letter: a kind, a year, the signing party, the issuing unit, its state."""

    __tablename__ = "letter"
    __table_args__ = (
        tenant_fk("org_unit_id", "org_unit"), tenant_fk("issuing_unit_id", "org_unit"),
        tenant_fk("party_unit_id", "org_unit"), tenant_fk("party_member_unit_id", "member_unit"),
        tenant_fk("party_person_id", "person"), tenant_fk("created_by_id", "app_user"),
        tenant_fk("signed_by_id", "app_user"), tenant_fk("withdrawn_by_id", "app_user"),
        # one letter per (kind, year, party): the party is exactly one of the three ids
        UniqueConstraint("tenant_id", "kind", "year", "party_kind", "party_id"),
        Index("ix_letter_unit", "tenant_id", "org_unit_id", "year"),
        Index("ix_letter_issuing", "tenant_id", "issuing_unit_id", "year", "status"),
    )
    kind: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    org_unit_id: Mapped[int] = mapped_column(BigInteger)        # the party's unit: who may see it
    issuing_unit_id: Mapped[int] = mapped_column(BigInteger)
    party_kind: Mapped[str] = mapped_column(String(16))          # unit | member_unit | person
    party_id: Mapped[int] = mapped_column(BigInteger)            # the id of the one below that is set
    party_unit_id: Mapped[int | None] = mapped_column(BigInteger)
    party_member_unit_id: Mapped[int | None] = mapped_column(BigInteger)
    party_person_id: Mapped[int | None] = mapped_column(BigInteger)
    party_name: Mapped[str] = mapped_column(String(100))         # as named when the letter was made
    counterparty: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="unsigned")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)
    signed_on: Mapped[dt.date | None] = mapped_column(Date)
    signed_by_id: Mapped[int | None] = mapped_column(BigInteger)
    scan_key: Mapped[str | None] = mapped_column(String(100))
    scan_filename: Mapped[str | None] = mapped_column(String(200))
    scan_content_type: Mapped[str | None] = mapped_column(String(100))
    scan_size: Mapped[int | None] = mapped_column(BigInteger)
    scan_sha256: Mapped[str | None] = mapped_column(String(64))
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(BigInteger)
    withdraw_reason: Mapped[str | None] = mapped_column(String(500))
    reminded_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)


class LetterKindConfig(TenantModel):
    """The county's own text of a kind and its reminder day (absent: the module's text, no reminders)."""

    __tablename__ = "letter_kind_config"
    __table_args__ = (UniqueConstraint("tenant_id", "kind"),)
    kind: Mapped[str] = mapped_column(String(64))
    paragraphs: Mapped[str | None] = mapped_column(Text)        # one paragraph a line; None: the default
    remind_month: Mapped[int | None] = mapped_column(Integer)
    remind_day: Mapped[int | None] = mapped_column(Integer)
    remind_every_days: Mapped[int] = mapped_column(Integer, default=7)
    updated_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)


# --- the kinds a county has ---------------------------------------------------------------------

def kinds_for(host, enabled) -> dict[str, LetterKind]:
    """The letter kinds of the plugins ``enabled`` (a county's), by key, in key order."""
    return {k: v for k, v in sorted(host.letter_kinds.items()) if v.plugin in enabled}


def kind_or_404(kinds: Mapping[str, LetterKind], key: str, field_name: str = "kind",
                location: str = "json") -> LetterKind:
    if key not in kinds:
        message = "没有这种责任书（或其模块未启用）"
        raise NotFound("kind_not_found", message, {location: {field_name: [message]}})
    return kinds[key]


def config_of(session, kind: str) -> LetterKindConfig | None:
    return session.scalar(select(LetterKindConfig).where(LetterKindConfig.kind == kind))


def paragraphs_of(session, kind: LetterKind) -> list[str]:
    """The county's text of the kind, else the module's default."""
    cfg = config_of(session, kind.key)
    return split_paragraphs(cfg.paragraphs) if cfg is not None and cfg.paragraphs else list(kind.paragraphs)


def configure(session, kind: LetterKind, data: Mapping) -> LetterKindConfig:
    """Set the county's text (``paragraphs``: a list, empty for the module's default) and reminder
    day (``remind_month`` and ``remind_day`` both or neither; ``remind_every_days``)."""
    paragraphs = [p.strip() for p in data.get("paragraphs") or [] if p and p.strip()]
    if paragraphs:
        problem = paragraphs_problem(paragraphs)
        if problem:
            raise Invalid("paragraphs", "bad_template", problem)
    month, day = data.get("remind_month"), data.get("remind_day")
    if (month is None) != (day is None):
        raise Invalid("remind_day" if day is None else "remind_month", "incomplete_day", "提醒日期须同时填写月和日")
    if month is not None:
        try:
            dt.date(2028, month, day)  # a leap year: 2 月 29 日 allowed (reminders then start 3 月 1 日)
        except ValueError:
            raise Invalid("remind_day", "invalid_day", f"没有 {month} 月 {day} 日") from None
    cfg = config_of(session, kind.key)
    if cfg is None:
        cfg = LetterKindConfig(kind=kind.key)
        session.add(cfg)
    cfg.paragraphs = "\n".join(paragraphs) or None
    cfg.remind_month, cfg.remind_day = month, day
    cfg.remind_every_days = data.get("remind_every_days") or 7
    cfg.updated_at = utcnow()
    session.flush()
    audit.record(session, "core.letter.configure", "letter_kind_config", cfg.id, {"kind": kind.key})
    return cfg


# --- parties ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Party:
    kind: str
    id: int
    name: str
    org_unit_id: int


def _not_found(code: str, message: str, key: str) -> NotFound:
    return NotFound(code, message, {"json": {key: [message]}})


def party(session, grants: Grants, perm: str, party_kind: str, party_id, key: str = "party_id") -> Party:
    """The signing party a write names, in the caller's ``perm`` scope (404 at ``key`` otherwise)."""
    if party_kind == "unit":
        unit = named_unit(session, grants, perm, party_id, key)
        return Party("unit", unit.id, unit.name, unit.id)
    model, message = ((MemberUnit, "成员单位不存在或不在您的管辖范围内") if party_kind == "member_unit"
                      else (Person, "人员不存在或不在您的管辖范围内"))
    row = session.scalar(select(model).where(model.id == party_id)) if isinstance(party_id, int) else None
    path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == row.org_unit_id)) if row is not None else None
    if path is None or not grants.covers(perm, path) or (party_kind == "member_unit" and not row.active):
        raise _not_found(f"{party_kind}_not_found", message, key)
    return Party(party_kind, row.id, row.name, row.org_unit_id)


# --- the acts -----------------------------------------------------------------------------------

def query(session, grants: Grants, kinds: Mapping[str, LetterKind], args: Mapping) -> Select:
    """The caller's letters (read scope: the party's unit in a subtree) of the county's ``kinds``
    (a module switched off hides its letters) narrowed by the filters."""
    from core.authz import scoped
    stmt = scoped(select(Letter), grants, READ, Letter.org_unit_id).where(Letter.kind.in_(list(kinds)))
    if args.get("under") is not None:
        root = get_or_404(session, grants, OrgUnit, args["under"], READ)
        stmt = stmt.where(Letter.org_unit_id.in_(units_under(root.path)))
    for key in ("kind", "year", "status", "issuing_unit_id"):
        if args.get(key) is not None:
            stmt = stmt.where(getattr(Letter, key) == args[key])
    return stmt


def _exists(session, kind: str, year: int, p: Party) -> bool:
    return session.scalar(select(Letter.id).where(Letter.kind == kind, Letter.year == year,
                                                  Letter.party_kind == p.kind, Letter.party_id == p.id)) is not None


def _new(ctx, kind: LetterKind, year: int, issuing: OrgUnit, p: Party, counterparty: str | None) -> Letter:
    row = Letter(kind=kind.key, year=year, org_unit_id=p.org_unit_id, issuing_unit_id=issuing.id,
                 party_kind=p.kind, party_id=p.id, party_name=p.name,
                 party_unit_id=p.id if p.kind == "unit" else None,
                 party_member_unit_id=p.id if p.kind == "member_unit" else None,
                 party_person_id=p.id if p.kind == "person" else None,
                 counterparty=counterparty or None, status="unsigned", created_at=utcnow(),
                 created_by_id=ctx.user.id)
    ctx.session.add(row)
    return row


def create(ctx, kinds: Mapping[str, LetterKind], data: Mapping) -> Letter:
    """One letter; 409 ``duplicate_letter`` if the party has this kind for the year already."""
    require(ctx.grants, MANAGE)
    kind = kind_or_404(kinds, data["kind"])
    if data["party_kind"] not in kind.parties:
        allowed = "、".join(PARTY_KINDS[p][0] for p in kind.parties)
        raise Invalid("party_kind", "party_kind_not_allowed", f"这种责任书的签订方只能是：{allowed}")
    issuing = named_unit(ctx.session, ctx.grants, MANAGE, data["issuing_unit_id"], "issuing_unit_id")
    p = party(ctx.session, ctx.grants, MANAGE, data["party_kind"], data["party_id"])
    if _exists(ctx.session, kind.key, data["year"], p):
        raise Conflict("duplicate_letter", f"{p.name} 的 {data['year']} 年度{kind.title}已经存在")
    row = _new(ctx, kind, data["year"], issuing, p, data.get("counterparty"))
    _flush_unique(ctx.session, f"{p.name} 的 {data['year']} 年度{kind.title}已经存在")
    audit.record(ctx.session, "core.letter.create", "letter", row.id, {"kind": kind.key, "year": row.year})
    return row


def issue_letter(ctx, kind: LetterKind, year: int, issuing_unit_id: int, party_kind: str, party_id: int,
                 counterparty: str | None = None) -> Letter:
    """One letter of a module's own ``kind`` from the module's page (a rental house's landlord, a
    group's leader): the same act, scope checks and audit as ``POST /api/letters``."""
    return create(ctx, {kind.key: kind}, {"kind": kind.key, "year": year, "issuing_unit_id": issuing_unit_id,
                                          "party_kind": party_kind, "party_id": party_id, "counterparty": counterparty})


def party_letters(session, kind: LetterKind, party_kind: str, party_ids: Sequence[int] | Select) -> list[dict]:
    """The letters of ``kind`` of these parties (ids, or a ``select`` of them — for many), newest
    year first — what a module's page shows beside a party: ``party_id``, ``year``, ``status`` and
    ``status_title`` (未签订 / 已签订 / 已撤销), ``signed_on``, ``id``."""
    if not isinstance(party_ids, Select):
        party_ids = list(party_ids)
        if not party_ids:
            return []
    rows = session.scalars(select(Letter).where(Letter.kind == kind.key, Letter.party_kind == party_kind,
                                                Letter.party_id.in_(party_ids))
                           .order_by(Letter.year.desc(), Letter.id)).all()
    return [{"id": r.id, "party_id": r.party_id, "year": r.year, "status": r.status,
             "status_title": STATUS[r.status][0], "signed_on": r.signed_on} for r in rows]


def create_batch(ctx, kinds: Mapping[str, LetterKind], data: Mapping) -> dict:
    """One letter for every active unit of ``level`` under ``under_unit_id`` (issued by that unit
    unless ``issuing_unit_id`` says otherwise); the units that have one already are skipped."""
    require(ctx.grants, MANAGE)
    kind = kind_or_404(kinds, data["kind"])
    if "unit" not in kind.parties:
        raise Invalid("kind", "party_kind_not_allowed", "这种责任书不由组织单位签订，不能按层级批量生成")
    root = named_unit(ctx.session, ctx.grants, MANAGE, data["under_unit_id"], "under_unit_id")
    issuing = root if data.get("issuing_unit_id") is None else named_unit(
        ctx.session, ctx.grants, MANAGE, data["issuing_unit_id"], "issuing_unit_id")
    units = ctx.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(units_under(root.path)),
                                                      OrgUnit.level == data["level"], OrgUnit.status == "active")
                                .order_by(OrgUnit.path)).all()
    units = [u for u in units if ctx.grants.covers(MANAGE, u.path)]
    have = set(ctx.session.scalars(select(Letter.party_id).where(
        Letter.kind == kind.key, Letter.year == data["year"], Letter.party_kind == "unit",
        Letter.party_id.in_([u.id for u in units])))) if units else set()
    made = [_new(ctx, kind, data["year"], issuing, Party("unit", u.id, u.name, u.id), data.get("counterparty"))
            for u in units if u.id not in have]
    _flush_unique(ctx.session, f"{root.name}之下有单位的 {data['year']} 年度{kind.title}刚由他人生成，请重新提交")
    result = {"created": len(made), "skipped": len(units) - len(made), "ids": [r.id for r in made]}
    audit.record(ctx.session, "core.letter.create_batch", "org_unit", root.id,
                 {"kind": kind.key, "year": data["year"], "level": data["level"], "created": result["created"],
                  "skipped": result["skipped"]})
    return result


def _flush_unique(session, message: str) -> None:
    """Flush; a letter another request made for the same (kind, year, party) meanwhile is a 409."""
    from sqlalchemy.exc import IntegrityError
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("duplicate_letter", message) from None


def letter_or_404(ctx, kinds: Mapping[str, LetterKind], letter_id, perm: str) -> Letter:
    """One letter in the caller's ``perm`` scope, of a kind the county has on; else 404."""
    row = get_or_404(ctx.session, ctx.grants, Letter, letter_id, perm)
    if row.kind not in kinds:
        raise NotFound()
    return row


def sign(ctx, kinds: Mapping[str, LetterKind], letter_id, signed_on: dt.date | None, scan: tuple[BinaryIO, str | None] | None, config) -> Letter:
    """Record the signing (date, who recorded it, the scan if given); 409 unless unsigned.

    The scan is stored through ``core.storage`` and checked by its content like a case's
    attachment; the caller commits (a failed commit should delete ``letter.scan_key``)."""
    row = letter_or_404(ctx, kinds, letter_id, MANAGE)
    if row.status != "unsigned":
        raise Conflict(f"letter_{row.status}", f"该责任书{STATUS[row.status][0]}，不能再登记签订")
    if signed_on is None:
        raise Invalid("signed_on", "required", "请填写签订日期", location="form")
    today = dt.datetime.now(SHANGHAI).date()
    if signed_on > today:
        raise Invalid("signed_on", "in_future", "签订日期不能晚于今天", location="form")
    if signed_on.year < row.year - 1:
        raise Invalid("signed_on", "too_early", f"签订日期不能早于 {row.year - 1} 年", location="form")
    if scan is not None:
        _store_scan(ctx, row, scan[0], scan[1], config)
    row.status, row.signed_on, row.signed_by_id = "signed", signed_on, ctx.user.id
    ctx.session.flush()
    audit.record(ctx.session, "core.letter.sign", "letter", row.id,
                 {"signed_on": signed_on.isoformat(), "scan": row.scan_filename or ""})
    return row


def _store_scan(ctx, row: Letter, stream: BinaryIO, filename: str | None, config) -> None:
    from core.cases.attachments import clean_filename, store_upload
    from core.storage import storage
    key, stored, kind = store_upload(storage(config), row.tenant_id, STORAGE_KIND, stream,
                                     config.upload_max_mb * 1024 * 1024, ("pdf", "jpeg", "png", "gif", "webp"),
                                     "扫描件只能是 PDF 或图片（JPEG/PNG/GIF/WebP），按文件内容判断")
    row.scan_key, row.scan_filename = key, clean_filename(filename, kind)
    row.scan_content_type, row.scan_size, row.scan_sha256 = kind.content_type, stored.size, stored.sha256


def withdraw(ctx, kinds: Mapping[str, LetterKind], letter_id, reason: str) -> Letter:
    """Withdraw a letter (unsigned or signed) with the reason; 409 the second time."""
    row = letter_or_404(ctx, kinds, letter_id, MANAGE)
    if row.status == "withdrawn":
        raise Conflict("letter_withdrawn", "该责任书已撤销")
    row.status, row.withdrawn_at, row.withdrawn_by_id, row.withdraw_reason = "withdrawn", utcnow(), ctx.user.id, reason
    ctx.session.flush()
    audit.record(ctx.session, "core.letter.withdraw", "letter", row.id, {"reason": reason})
    return row


def present(session, kinds: Mapping[str, LetterKind], rows: Sequence[Letter]) -> list[dict]:
    """Letters as dicts: their columns (not the storage key), the kind's and units' names."""
    ids = {r.org_unit_id for r in rows} | {r.issuing_unit_id for r in rows}
    names = dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ids))).all()) if ids else {}
    out = []
    for r in rows:
        d = {c.key: getattr(r, c.key) for c in Letter.__table__.c if c.key not in ("tenant_id", "scan_key")}
        kind = kinds.get(r.kind)
        d.update(kind_title=kind.title if kind else r.kind, unit_name=names.get(r.org_unit_id, ""),
                 issuing_unit_name=names.get(r.issuing_unit_id, ""), status_title=STATUS[r.status][0],
                 has_scan=r.scan_key is not None)
        out.append(d)
    return out


# --- the document --------------------------------------------------------------------------------

def document_template():
    from core.documents import DocumentTemplate
    return DocumentTemplate(key="core.letter", title="责任书", title_en="Responsibility letter",
                            template="document.html", templates_dir=TEMPLATES_DIR)


def document_context(session, kind: LetterKind, row: Letter, county: str) -> dict:
    """What the letter's PDF states: the kind, the year, both parties, the issuing unit and the
    signing date (Beijing date, as the pages show it) or blank lines to sign on paper."""
    from core.documents import cn_date
    issuing = session.scalar(select(OrgUnit.name).where(OrgUnit.id == row.issuing_unit_id)) or ""
    signed = cn_date(row.signed_on) if row.status == "signed" else ""
    facts = {"年度": str(row.year), "发文单位": issuing, "责任方": row.party_name,
             "对方": row.counterparty or "＿＿＿＿＿＿", "签订日期": signed or BLANK_DATE}
    return {"county": county, "title": f"{row.year}年度{kind.title}", "kind_title": kind.title,
            "year": row.year, "issuing": issuing, "party": row.party_name, "party_kind": PARTY_KINDS[row.party_kind][0],
            "counterparty": row.counterparty or "", "signed_on": signed, "blank_date": BLANK_DATE,
            "withdrawn": row.status == "withdrawn",
            "paragraphs": [fill(p, facts) for p in paragraphs_of(session, kind)]}


def render(session, kind: LetterKind, row: Letter, county: str) -> bytes:
    from core.documents import render_pdf
    return render_pdf(document_template(), document_context(session, kind, row, county))


# --- reminders ------------------------------------------------------------------------------------

# --- the "signed" indicator every kind brings (SCO-8: letters signed level by level) ----------

def _period_letters(session, kind: str, unit_id: int, period_start, period_end):
    """The kind's letters of the period's year (its first day's, in Beijing) issued before the
    period's end, not withdrawn, whose party lies in ``unit_id``'s subtree; None for a unit not
    of the county."""
    path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id))
    if path is None:
        return None
    return (Letter.kind == kind, Letter.year == period_day(period_start).year, Letter.status != "withdrawn",
            Letter.created_at < period_moment(period_end), Letter.org_unit_id.in_(units_under(path)))


def signed_share(session, kind: str, unit_id: int, period_start, period_end) -> float | None:
    """The share (%) of those letters signed before the period's end; None (no data) when the
    year has none."""
    where = _period_letters(session, kind, unit_id, period_start, period_end)
    if where is None:
        return None
    end = period_day(period_end)
    total, signed = session.execute(select(func.count(Letter.id), func.count(Letter.id).filter(
        Letter.signed_on.is_not(None), Letter.signed_on < end)).where(*where)).one()
    return round(100.0 * signed / total, 1) if total else None


def unsigned_records(session, kind: LetterKind, unit_id: int, period_start, period_end) -> list[dict]:
    """What the share leaves out: the letters not signed by the period's end — their date of
    issue, the kind and the party's unit (no party's name: it may be a person)."""
    where = _period_letters(session, kind.key, unit_id, period_start, period_end)
    if where is None:
        return []
    end = period_day(period_end)
    rows = session.execute(select(Letter.created_at, OrgUnit.name).join(
        OrgUnit, (OrgUnit.tenant_id == Letter.tenant_id) & (OrgUnit.id == Letter.org_unit_id))
        .where(*where, (Letter.signed_on.is_(None)) | (Letter.signed_on >= end))
        .order_by(OrgUnit.path, Letter.id).limit(500)).all()
    return [{"date": at, "title": f"{kind.title}（期末未签订）", "unit": unit} for at, unit in rows]


def signed_indicator(kind: LetterKind):
    """``<kind>.signed``: the indicator a letter kind brings to its module's indicators (what the
    scoring module scores letters signed with)."""
    from core.plugins import Indicator
    return Indicator(key=f"{kind.key}.signed", title=f"{kind.title}签订率", title_en=f"{kind.title_en or kind.key} signed",
                     unit="%", compute=lambda s, u, a, b: signed_share(s, kind.key, u, a, b),
                     records=lambda s, u, a, b: unsigned_records(s, kind, u, a, b))


def remind_due(session, host, enabled, today: dt.date) -> int:
    """Tell the issuing units' users of this year's letters still unsigned, for every kind whose
    reminder day has come (``LetterKindConfig``); a letter at most once per ``remind_every_days``
    (the notification key names the period). Returns how many letters were reminded of."""
    from core.notifications import Note, notify_many, users_of_unit
    kinds = kinds_for(host, enabled)
    notes, reminded = [], []
    for cfg in session.scalars(select(LetterKindConfig).where(LetterKindConfig.kind.in_(list(kinds)),
                                                              LetterKindConfig.remind_month.is_not(None))):
        try:
            start = dt.date(today.year, cfg.remind_month, cfg.remind_day)
        except ValueError:  # 2 月 29 日 in a common year
            start = dt.date(today.year, 3, 1)
        if today < start:
            continue
        every = max(cfg.remind_every_days, 1)
        period = (today - start).days // every
        since = dt.datetime.combine(start + dt.timedelta(days=period * every), dt.time(), SHANGHAI)
        rows = session.scalars(select(Letter).where(
            Letter.kind == cfg.kind, Letter.year == today.year, Letter.status == "unsigned",
            (Letter.reminded_at.is_(None)) | (Letter.reminded_at < since)).order_by(Letter.id)).all()
        by_unit: dict[int, list[Letter]] = {}
        for r in rows:
            by_unit.setdefault(r.issuing_unit_id, []).append(r)
        kind = kinds[cfg.kind]
        for unit_id, letters in by_unit.items():
            users = users_of_unit(session, unit_id)
            for r in letters:
                notes.append(Note(users, f"letter:{r.id}:{today.year}:{period}",
                                  f"{r.party_name}的{r.year}年度{kind.title}尚未签订",
                                  f"请督促签订并登记签订日期和扫描件。发文单位保存的责任书编号：{r.id}。"))
                reminded.append(r)
    if notes:
        notify_many(session, notes)
        now = utcnow()
        for r in reminded:
            r.reminded_at = now
        session.flush()
    return len(reminded)


def remind(tenant_id: int) -> None:
    """Scheduled entry point (``core.jobs.CORE_JOBS``), with ``tenant_id`` bound."""
    from core.jobs import worker_state
    state = worker_state()
    with state.db.transaction(tenant_id) as s:
        enabled = state.plugins.enabled(s, tenant_id)
        remind_due(s, state.plugins, enabled, dt.datetime.now(SHANGHAI).date())
