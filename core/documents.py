"""Official documents (notices, agreements, letters) rendered from templates to PDF (issue 3).

Plugins register templates with ``pingan_document_templates``; :func:`render_pdf` turns one
into a PDF with a context. Two steps:

1. **Jinja2** (sandboxed, autoescape on) renders the template to a small, restricted
   markup — HTML tags, so templates read like HTML, but only these: ``h1``–``h3``, ``p``,
   ``ul``/``ol``/``li``, ``table``/``tr``/``th``/``td``, ``hr``, ``br``, ``b``/``strong``,
   ``i``/``em``, ``u``, and ``div``/``section``/``html``/``body`` as plain containers; a
   ``class`` of ``center``, ``right``, ``indent`` (first line indented two characters, as
   Chinese documents are), ``small`` or ``page-break`` (on ``div``/``hr``). Anything else is
   refused (:class:`DocumentError`), so a template cannot pull in images, links or scripts,
   and text from the case — escaped by Jinja2 — is only ever text.
2. **reportlab** (platypus) lays the markup out on A4 with the margins and type sizes of
   GB/T 9704-2012 (党政机关公文格式): body 16 pt (三号), title 22 pt (二号), page numbers
   "— 1 —" at the foot.

Why reportlab: it is the long-standing, actively maintained PDF library of the Python world
(BSD licence, pure Python plus optional C speed-ups, wheels for every platform including
the Windows machines some counties run), its platypus layout breaks Chinese lines
(``wordWrap="CJK"``), and it supports both ways we need to get Chinese glyphs into a PDF:
embedding (a subset of) a TrueType font, or referencing Adobe's standard Chinese font
``STSong-Light`` — which needs no font file at all, so documents render on a bare server
with no network and nothing vendored. xhtml2pdf sits on top of reportlab and adds a CSS
engine we do not want templates to depend on; fpdf2 has no CID-font fallback, so it would
require a font file on every install.

Fonts: ``PINGAN_PDF_FONT`` names a TrueType font file (``.ttf``, or ``.ttc`` whose first
face is used) to embed, e.g. WenQuanYi Micro Hei or SimSun. reportlab cannot embed
OpenType fonts with PostScript (CFF) outlines, such as Noto Sans CJK / Source Han; such a
file is refused with a message naming it. Unset: ``STSong-Light`` is referenced, and the
reader (Acrobat, pdf.js, Foxit, WPS …) supplies the glyphs.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from xml.sax.saxutils import escape

from jinja2 import FileSystemLoader
from jinja2.sandbox import SandboxedEnvironment

from core.runtime import pingan, worker_state
from core.timefmt import limit_last_day

log = logging.getLogger("pingan.documents")


@dataclass(frozen=True)
class DocumentTemplate:
    """A document a plugin can render: ``key`` (``mediation.agreement``), a title, and the
    Jinja2 template file (``template``) inside the plugin's ``templates_dir``. With
    ``case_type`` set, the document is offered for cases of that type only. ``context``, a
    function ``(work, case) -> dict``, adds fields to the case's context at each rendering
    through ``GET /api/cases/<id>/documents/<key>`` (in the act's transaction: it may record
    what it revealed, and what it returns is only for this rendering).

    ``acts``: the timeline events (kinds: ``registered``, ``diverted``, a transition's name …)
    the document records. The latest of them is the document's ``act`` — who did it, the unit
    they acted for, when — and its issuing unit and date come from that act, not from whoever
    prints it when (issue 15, item 4)."""

    key: str
    title: str
    template: str
    templates_dir: str
    title_en: str = ""
    case_type: str | None = None
    context: Callable | None = None
    acts: tuple[str, ...] = ()


class DocumentError(RuntimeError):
    """A template produced markup the renderer does not accept, or the PDF font is unusable."""


# --- dates ----------------------------------------------------------------------------------

def cn_date(value: dt.date | dt.datetime | None) -> str:
    """``2026年11月23日`` (a datetime is first taken to Asia/Shanghai); ``""`` for None."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        from core.workdays import SHANGHAI
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        value = value.astimezone(SHANGHAI).date()
    return f"{value.year}年{value.month}月{value.day}日"


# --- step 1: template → markup ----------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _environment(templates_dir: str) -> SandboxedEnvironment:
    env = SandboxedEnvironment(loader=FileSystemLoader(templates_dir), autoescape=True,
                               trim_blocks=True, lstrip_blocks=True)
    env.filters["cn_date"] = cn_date
    return env


def render_markup(template: DocumentTemplate, context: dict) -> str:
    """The template rendered by Jinja2 (sandboxed, every value escaped)."""
    return _environment(template.templates_dir).get_template(template.template).render(**context)


# --- step 2: markup → flowables -----------------------------------------------------------------

BLOCKS = {"h1", "h2", "h3", "p", "li", "th", "td"}   # hold text
INLINE = {"b": "b", "strong": "b", "i": "i", "em": "i", "u": "u"}
CONTAINERS = {"html", "body", "div", "section"}
CLASSES = {"center", "right", "indent", "small", "page-break"}


class _Builder(HTMLParser):
    """Restricted markup → reportlab flowables (one pass, refusing unknown tags)."""

    def __init__(self, styles: dict) -> None:
        super().__init__(convert_charrefs=True)
        self.styles = styles
        self.out: list = []
        self.text: list[str] | None = None         # reportlab paragraph markup of the open block
        self.block: tuple[str, set[str]] | None = None
        self.lists: list[list] = []               # [tag, counter] per open ul/ol
        self.table: list[list] | None = None      # rows of (markup, tag, classes)
        self.row: list | None = None
        self.open_inline: list[str] = []

    # -- helpers
    def _classes(self, tag: str, attrs) -> set[str]:
        classes: set[str] = set()
        for name, value in attrs:
            if name != "class":
                raise DocumentError(f"文书模板中的 <{tag}> 不能带属性 {name!r}")
            classes |= set((value or "").split())
        unknown = classes - CLASSES
        if unknown:
            raise DocumentError(f"文书模板中使用了未知的样式 {sorted(unknown)}（可用：{sorted(CLASSES)}）")
        return classes

    def _start_block(self, tag: str, classes: set[str]) -> None:
        self._end_block()
        self.block, self.text, self.open_inline = (tag, classes), [], []

    def _end_block(self) -> None:
        if self.block is None:
            return
        tag, classes = self.block
        markup = "".join(self.text or []).strip()
        for inline in reversed(self.open_inline):
            markup += f"</{inline}>"
        self.block, self.text, self.open_inline = None, None, []
        if tag in ("th", "td"):
            if self.row is None:
                raise DocumentError(f"<{tag}> 必须在 <tr> 之内")
            self.row.append((markup, tag, classes))
            return
        if not markup and tag != "li":
            return
        self.out.append(self._paragraph(markup, tag, classes))

    def _paragraph(self, markup: str, tag: str, classes: set[str]):
        from reportlab.platypus import Paragraph
        style = self._style(tag, classes)
        if tag == "li":
            kind, n = self.lists[-1] if self.lists else ("ul", 0)
            if self.lists:
                self.lists[-1][1] += 1
            return Paragraph(markup, style, bulletText=f"{n + 1}." if kind == "ol" else "•")
        return Paragraph(markup, style)

    def _style(self, tag: str, classes: set[str]):
        from reportlab.lib.enums import TA_CENTER, TA_RIGHT
        base = self.styles["p" if tag == "td" else tag]
        changes = {}
        if "center" in classes:
            changes["alignment"] = TA_CENTER
        if "right" in classes:
            changes["alignment"] = TA_RIGHT
        if "indent" in classes:
            changes["firstLineIndent"] = 2 * base.fontSize
        if "small" in classes:
            changes.update(fontSize=base.fontSize * 0.75, leading=base.leading * 0.75)
        if tag in ("td", "th"):
            changes.update(fontSize=self.styles["cell"].fontSize, leading=self.styles["cell"].leading,
                           spaceBefore=0, spaceAfter=0, firstLineIndent=changes.get("firstLineIndent", 0))
            if tag == "th":
                changes.setdefault("alignment", TA_CENTER)
        if not changes:
            return base
        from reportlab.lib.styles import ParagraphStyle
        return ParagraphStyle(f"{base.name}-{'-'.join(sorted(classes)) or tag}", parent=base, **changes)

    # -- parser callbacks
    def handle_starttag(self, tag, attrs):
        classes = self._classes(tag, attrs)
        if tag in INLINE:
            if self.block is None:
                self._start_block("p", set())
            self.text.append(f"<{INLINE[tag]}>")
            self.open_inline.append(INLINE[tag])
        elif tag == "br":
            if self.block is not None:
                self.text.append("<br/>")
        elif tag in ("h1", "h2", "h3", "p", "li"):
            if tag == "li" and not self.lists:
                raise DocumentError("<li> 必须在 <ul> 或 <ol> 之内")
            self._start_block(tag, classes)
        elif tag in ("ul", "ol"):
            self._end_block()
            self.lists.append([tag, 0])
        elif tag == "table":
            self._end_block()
            if self.table is not None:
                raise DocumentError("文书模板中的表格不能嵌套")
            self.table = []
        elif tag == "tr":
            self._end_block()
            if self.table is None:
                raise DocumentError("<tr> 必须在 <table> 之内")
            self.row = []
            self.table.append(self.row)
        elif tag in ("th", "td"):
            self._start_block(tag, classes)
        elif tag == "hr":
            self._end_block()
            self.out.append(self._rule(classes))
        elif tag in CONTAINERS:
            self._end_block()
            if "page-break" in classes:
                from reportlab.platypus import PageBreak
                self.out.append(PageBreak())
        else:
            raise DocumentError(f"文书模板中不能使用 <{tag}>")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "hr"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in INLINE:
            name = INLINE[tag]
            if self.block is not None and name in self.open_inline:
                # close what was opened after it too, so the paragraph markup stays well formed
                while self.open_inline:
                    inner = self.open_inline.pop()
                    self.text.append(f"</{inner}>")
                    if inner == name:
                        break
        elif tag in ("h1", "h2", "h3", "p", "li", "th", "td"):
            self._end_block()
        elif tag in ("ul", "ol"):
            self._end_block()
            if self.lists:
                self.lists.pop()
        elif tag == "tr":
            self._end_block()
            self.row = None
        elif tag == "table":
            self._end_block()
            if any(self.table or []):
                self.out.append(self._table(self.table))
            self.table, self.row = None, None
        elif tag in CONTAINERS:
            self._end_block()

    def handle_data(self, data):
        if self.block is None:
            if not data.strip():
                return
            if self.table is not None:
                raise DocumentError("表格中的文字必须放在 <td> 或 <th> 之内")
            self._start_block("p", set())
        self.text.append(escape(data))

    # -- pieces
    def _rule(self, classes: set[str]):
        from reportlab.lib.colors import black
        from reportlab.platypus import HRFlowable, PageBreak
        if "page-break" in classes:
            return PageBreak()
        return HRFlowable(width="100%", thickness=0.8, color=black, spaceBefore=4, spaceAfter=8)

    def _table(self, rows: list[list]):
        from reportlab.lib.colors import black
        from reportlab.platypus import Table, TableStyle
        width = self.styles["frame_width"]
        rows = [r for r in rows if r]
        cols = max(len(r) for r in rows)
        data = [[self._paragraph(markup, tag, classes) for markup, tag, classes in r] + [""] * (cols - len(r))
                for r in rows]
        # a column of headings only (a form's labels) gets half the share of a column with values
        shares = [1 if all(len(r) > i and r[i][1] == "th" for r in rows) else 2 for i in range(cols)]
        table = Table(data, colWidths=[width * s / sum(shares) for s in shares], hAlign="CENTER",
                      spaceBefore=6, spaceAfter=10)
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.6, black),
                                   ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                                   ("TOPPADDING", (0, 0), (-1, -1), 4), ("BOTTOMPADDING", (0, 0), (-1, -1), 4)]))
        return table

    def finish(self) -> list:
        self.close()
        self._end_block()
        if any(self.table or []):
            self.out.append(self._table(self.table))
        return self.out


# --- fonts ------------------------------------------------------------------------------------

CID_FONT = "STSong-Light"
_fonts: dict[str | None, str] = {}
_font_lock = threading.Lock()


def font_name(config=None) -> str:
    """Register (once per process) and name the font documents are set in (see the module doc)."""
    path = getattr(config, "pdf_font", None) or None
    with _font_lock:
        if path in _fonts:
            return _fonts[path]
        from reportlab.pdfbase import pdfmetrics
        if path:
            from reportlab.pdfbase.ttfonts import TTFError, TTFont
            name = "PinganDoc-" + hashlib.sha256(str(path).encode()).hexdigest()[:10]
            try:
                font = TTFont(name, str(path), subfontIndex=0)
            except (OSError, TTFError) as exc:
                raise DocumentError(f"PINGAN_PDF_FONT={path!r} 不能用于生成 PDF（需要 TrueType 字体文件 .ttf/.ttc）："
                                    f"{exc}") from exc
            if 0x4E2D not in getattr(font.face, "charToGlyph", {}):  # 中
                log.warning("PINGAN_PDF_FONT %s has no Chinese glyphs; documents will show empty boxes", path)
        else:
            from reportlab.pdfbase.cidfonts import UnicodeCIDFont
            name, font = CID_FONT, UnicodeCIDFont(CID_FONT)
        pdfmetrics.registerFont(font)
        # one face for every style: <b>/<i> in a template must not look for a bold file
        pdfmetrics.registerFontFamily(name, normal=name, bold=name, italic=name, boldItalic=name)
        _fonts[path] = name
        return name


# Chinese line breaking (行首禁则): a closing punctuation mark never starts a line (W3C,
# "Requirements for Chinese Text Layout" (clreq), "Prohibition rules for line start and end").
# ReportLab's CJK wrapping hangs such a character in the right margin instead of starting a
# line with it, but its list (reportlab.lib.textsplit.CANNOT_START_LINE) is the Japanese one:
# it lacks the full-width comma, colon, semicolon, question and exclamation marks, the closing
# book-title marks and the closing quotes, and a line of a notice began with "，".
CHINESE_CANNOT_START = "，：；？！》〉”’"


def _chinese_line_breaking() -> None:
    """Add the Chinese closing marks to the characters ReportLab never starts a line with. Both
    of its CJK wrappers read the list at each wrap from their own module: ``wordSplit`` (a
    paragraph of one run of text) and ``cjkFragSplit`` (several); added once per process.

    ReportLab hangs one such mark in the margin, not two: "（第二十三条）。" at a line's end left
    "。" to start the next. ``wordSplit`` is wrapped to pull characters down instead until the
    next line starts with something that may start one (:func:`_no_closing_mark_first`)."""
    from reportlab.lib import textsplit
    from reportlab.platypus import paragraph
    for module in (textsplit, paragraph):
        missing = "".join(c for c in CHINESE_CANNOT_START if c not in module.ALL_CANNOT_START)
        if missing:
            module.ALL_CANNOT_START += missing
    if not getattr(paragraph.wordSplit, "pingan", False):
        split = paragraph.wordSplit

        def word_split(word, maxWidths, fontName, fontSize, encoding="utf8"):
            lines = split(word, maxWidths, fontName, fontSize, encoding)
            return _no_closing_mark_first(lines, maxWidths, fontName, fontSize, paragraph.ALL_CANNOT_START)

        word_split.pingan = True
        paragraph.wordSplit = word_split


def _no_closing_mark_first(lines: list, max_widths: list, font: str, size: float, cannot_start: str) -> list:
    """``wordSplit``'s lines (``[extra space, text]``) with no line starting with a closing mark:
    the previous line's last characters move down with it (at most three; a line keeps one)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    for n in range(1, len(lines)):
        moved = 0
        while lines[n][1][:1] in cannot_start and lines[n][1] and len(lines[n - 1][1]) > 1 and moved < 3:
            lines[n - 1][1], lines[n][1] = lines[n - 1][1][:-1], lines[n - 1][1][-1] + lines[n][1]
            moved += 1
        if moved:
            for k in (n - 1, n):
                width = max_widths[min(k, len(max_widths) - 1)]
                lines[k][0] = width - stringWidth(lines[k][1], font, size)
    return lines


def _styles(font: str, frame_width: float) -> dict:
    from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
    from reportlab.lib.styles import ParagraphStyle
    _chinese_line_breaking()
    body = ParagraphStyle("doc-p", fontName=font, fontSize=16, leading=28.9, wordWrap="CJK", alignment=TA_JUSTIFY,
                          spaceAfter=0)
    return {
        "p": body,
        "h1": ParagraphStyle("doc-h1", parent=body, fontSize=22, leading=34, alignment=TA_CENTER, spaceBefore=6,
                             spaceAfter=22),
        "h2": ParagraphStyle("doc-h2", parent=body, fontSize=18, leading=30, spaceBefore=8, spaceAfter=6),
        "h3": ParagraphStyle("doc-h3", parent=body, fontSize=16, leading=28.9, spaceBefore=4, spaceAfter=2),
        "li": ParagraphStyle("doc-li", parent=body, leftIndent=32, bulletIndent=8, bulletFontName=font),
        "th": ParagraphStyle("doc-th", parent=body),
        "td": body,
        "cell": ParagraphStyle("doc-cell", parent=body, fontSize=14, leading=22),
        "frame_width": frame_width,
    }


# --- the PDF ----------------------------------------------------------------------------------

def _config():
    try:
        return worker_state().config
    except RuntimeError:
        return pingan().config


def render_pdf(template: DocumentTemplate, context: dict, config=None) -> bytes:
    """Render ``template`` with ``context`` to PDF bytes (A4, GB/T 9704 layout, Chinese font).

    ``config`` gives ``pdf_font`` (default: the running app's or worker's configuration).
    Raises :class:`DocumentError` for markup outside the restricted set or an unusable font.
    """
    return render_pdfs([(template, context)], str(context.get("county") or ""), config)


def render_pdfs(parts: list[tuple[DocumentTemplate, dict]], author: str = "", config=None) -> bytes:
    """Several documents (``(template, context)``) in one PDF, each from a new page, page numbers
    running through (the case list's batch print); the title and subject are the first's."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, SimpleDocTemplate

    if config is None:
        config = _config()
    font = font_name(config)
    left, right, top, bottom = 28 * mm, 26 * mm, 37 * mm, 35 * mm  # GB/T 9704-2012 §5.2.1
    styles = _styles(font, A4[0] - left - right)
    story: list = []
    for template, context in parts:
        builder = _Builder(styles)
        builder.feed(render_markup(template, context))
        flowables = builder.finish()
        if not flowables:
            raise DocumentError(f"文书模板 {template.key} 没有生成任何内容")
        if story:
            story.append(PageBreak())
        story.extend(flowables)

    def page_number(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(font, 14)
        canvas.drawCentredString(A4[0] / 2, bottom - 14 * mm, f"— {doc.page} —")
        canvas.restoreState()

    buf = io.BytesIO()
    first = parts[0][0]
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=left, rightMargin=right, topMargin=top,
                            bottomMargin=bottom, title=first.title, author=author, subject=first.key, creator="Pingan")
    doc.build(story, onFirstPage=page_number, onLaterPages=page_number)
    return buf.getvalue()


# --- the context of a case's document ------------------------------------------------------------

def usable(w, case_type: str) -> dict[str, DocumentTemplate]:
    """Templates of the county's enabled plugins (``w``: a ``core.cases.timeline.Work``) that
    fit a case of ``case_type``, by key."""
    out = {}
    for name in sorted(w.enabled):
        contrib = w.host.plugins.get(name)  # type: ignore[attr-defined]
        for tpl in getattr(contrib, "document_templates", []):
            if tpl.case_type is None or tpl.case_type == case_type:
                out[tpl.key] = tpl
    return out


def _act(session, case, kinds: tuple[str, ...], unit_name) -> dict:
    """The latest timeline event of ``kinds`` as a document states it (see ``case_context``)."""
    if not kinds:
        return {}
    from sqlalchemy import select

    from core.cases.models import CaseEvent
    from core.models import User
    event = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind.in_(kinds))
                            .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(1)).first()
    if event is None:
        return {}
    actor = session.scalar(select(User).where(User.id == event.actor_id)) if event.actor_id else None
    # the unit acted for: recorded with the act; a registration from a window is the window's
    acting_unit = (event.data or {}).get("by_unit_id") or (actor.org_unit_id if actor else None)
    if event.kind == "registered" and case.intake_id:
        from core.cases.models import Intake
        acting_unit = session.scalar(select(Intake.org_unit_id).where(Intake.id == case.intake_id)) or acting_unit
    act = {"kind": event.kind, "date": cn_date(event.at), "actor": actor.display_name if actor else "",
           "unit": unit_name(acting_unit), "target": unit_name(event.org_unit_id), "note": event.note or "",
           "tasks": []}
    task_ids = [t.get("id") for t in (event.data or {}).get("tasks") or [] if isinstance(t, dict)]
    if task_ids:  # a dispatch: each unit it went to, its part (lead / co) and its instructions
        from core.cases.models import CaseTask
        tasks = session.scalars(select(CaseTask).where(CaseTask.case_id == case.id, CaseTask.id.in_(task_ids))
                                .order_by(CaseTask.id)).all()
        from core.cases.dispatch import target_names  # a member unit by its name: 东湖司法所（东湖镇）
        names = target_names(session, tasks)
        act["tasks"] = [{"unit": names[t.id], "role": {"lead": "牵头", "co": "协办"}.get(t.role, ""),
                         "instruction": t.instruction or ""} for t in tasks]
    return act


def case_context(session, case, ctype, county: str, template: DocumentTemplate | None = None,
                 today: dt.date | None = None) -> dict:
    """What a case's document template sees (documented in docs/plugins.md §8).

    Names only for people: a document is printed and handed out, so ID numbers, phones and
    addresses never reach a template from here.
    """
    from sqlalchemy import select

    from core.cases.backdating import received_at
    from core.cases.models import CasePerson
    from core.models import OrgUnit, Person
    from core.workdays import SHANGHAI

    def unit_name(unit_id):
        if unit_id is None:
            return ""
        return session.scalar(select(OrgUnit.name).where(OrgUnit.id == unit_id)) or ""

    persons = [{"name": name, "role": role} for name, role in session.execute(
        select(Person.name, CasePerson.role)
        .join(Person, (Person.id == CasePerson.person_id) & (Person.tenant_id == CasePerson.tenant_id))
        .where(CasePerson.case_id == case.id).order_by(CasePerson.id))]
    act = _act(session, case, template.acts if template else (), unit_name)
    printed_on = cn_date(today or dt.datetime.now(SHANGHAI).date())
    handling = unit_name(case.handling_unit_id)
    return {
        "document": {"key": template.key if template else "", "title": template.title if template else ""},
        "county": county,
        "today": printed_on,
        # the act the document records (``DocumentTemplate.acts``; {} when it has none or none
        # happened yet): its date, who did it, the unit they acted for, the unit acted upon, its note
        "act": act,
        # who issues the document and on which date: the act's, else the handling unit's, today
        "issuer": act.get("unit") or handling or county,
        "date": act.get("date") or printed_on,
        "case": {
            "id": case.id, "number": case.number, "title": case.title, "content": case.content or "",
            "case_type": case.case_type, "type_title": ctype.title, "state": case.state,
            "state_title": ctype.state(case.state).title, "channel": case.channel or "",
            "created_at": cn_date(case.created_at), "received_at": cn_date(received_at(session, case)),
            # a limit ends at 24:00 of its last day (stored as the next day's 00:00): that day
            "due_at": cn_date(limit_last_day(case.due_at)),
            "closed_at": cn_date(case.closed_at),
        },
        "details": ctype.details(session, case) if ctype.details else {},
        "units": {"arose": unit_name(case.org_unit_id), "handling": handling},
        "persons": persons,
    }
