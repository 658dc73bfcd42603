"""Files attached to a case: decided by their content, stored under random keys (issue 3).

What a file *is* comes from its first bytes (and, for zip and OLE2 containers, from the
names inside), never from its name or the Content-Type the browser sent: a program renamed
``通知.pdf`` is still a program, and is refused (415). Accepted: PDF, JPEG, PNG, GIF, WebP,
Word/Excel/PowerPoint (OOXML and the older OLE2 formats, without macros) and plain UTF-8
text. The name a user gave is kept for display only — reduced to a safe base name whose
extension fits the detected kind — and the bytes go to ``core.storage`` under a new random
key, with their size and SHA-256 recorded so a file produced as evidence can be checked.

Removing an attachment is a soft delete (``deleted_at``, ``deleted_by``) with a timeline
event; the stored file is kept: an attachment may be evidence, and what a case rested on
must stay reconstructible.
"""
from __future__ import annotations

import codecs
import re
import struct
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.cases import settings as case_settings
from core.cases.access import case_units, covers, require_on, task_units
from core.cases.engine import record_event
from core.cases.models import Attachment, Case
from core.cases.timeline import Work
from core.cases.types import CaseType
from core.db import utcnow
from core.errors import Invalid, NotFound, TooLarge, UnsupportedType
from core.storage import LocalStorage, StorageError

HANDLE, DIVERT = "core.case.handle", "core.case.divert"
MAX_NAME = 200
STORAGE_KIND = "attachment"


@dataclass(frozen=True)
class Kind:
    """A kind of file the platform accepts; ``extensions[0]`` replaces a name's unfitting one."""

    key: str
    content_type: str
    extensions: tuple[str, ...]


KINDS: dict[str, Kind] = {k.key: k for k in (
    Kind("pdf", "application/pdf", ("pdf",)),
    Kind("jpeg", "image/jpeg", ("jpg", "jpeg")),
    Kind("png", "image/png", ("png",)),
    Kind("gif", "image/gif", ("gif",)),
    Kind("webp", "image/webp", ("webp",)),
    Kind("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ("docx",)),
    Kind("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ("xlsx",)),
    Kind("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", ("pptx",)),
    Kind("doc", "application/msword", ("doc",)),
    Kind("xls", "application/vnd.ms-excel", ("xls",)),
    Kind("ppt", "application/vnd.ms-powerpoint", ("ppt",)),
    Kind("text", "text/plain; charset=utf-8", ("txt", "csv", "log", "md")),
)}
CONTENT_TYPES = tuple(sorted({k.content_type for k in KINDS.values()}))
ACCEPTED = "PDF、图片（JPEG/PNG/GIF/WebP）、Word/Excel/PowerPoint 文档（不含宏）和纯文本（UTF-8）"

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP = b"PK\x03\x04"
CHUNK = 64 * 1024


# --- what a file is -------------------------------------------------------------------------

def sniff(f: BinaryIO) -> Kind | None:
    """The kind of the (seekable) file ``f`` from its content, or None if not accepted."""
    f.seek(0)
    head = f.read(16)
    if head.startswith(b"%PDF-"):
        return KINDS["pdf"]
    if head.startswith(b"\xff\xd8\xff"):
        return KINDS["jpeg"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return KINDS["png"]
    if head.startswith((b"GIF87a", b"GIF89a")):
        return KINDS["gif"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return KINDS["webp"]
    if head.startswith(ZIP):
        return _ooxml(f)
    if head.startswith(OLE2):
        return _ole2(f)
    return _utf8_text(f)


def _ooxml(f: BinaryIO) -> Kind | None:
    """A zip is accepted only as an Office Open XML document ([Content_Types].xml), without macros."""
    try:
        f.seek(0)
        names = zipfile.ZipFile(f).namelist()  # reads the central directory only, nothing is inflated
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        return None
    if "[Content_Types].xml" not in names or any(n.lower().endswith("vbaproject.bin") for n in names):
        return None
    for prefix, key in (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx")):
        if any(n.startswith(prefix) for n in names):
            return KINDS[key]
    return None


def _ole2(f: BinaryIO) -> Kind | None:
    """An OLE2 compound file is a .doc, .xls or .ppt by the streams it holds (an .msi is not)."""
    names = ole2_names(f)
    if names is None or names & {"Macros", "_VBA_PROJECT_CUR", "VBA", "_VBA_PROJECT"}:
        return None
    if "WordDocument" in names:
        return KINDS["doc"]
    if names & {"Workbook", "Book"}:
        return KINDS["xls"]
    if "PowerPoint Document" in names:
        return KINDS["ppt"]
    return None


def ole2_names(f: BinaryIO, max_sectors: int = 4096) -> set[str] | None:
    """The names of the entries of an OLE2 (Compound File Binary) file, or None if malformed.

    Follows [MS-CFB]: the header's sector size and FAT sector list (plus the DIFAT chain),
    then the directory's sector chain; 128-byte entries with UTF-16 names. Bounded, so a
    crafted file cannot loop.
    """
    f.seek(0)
    header = f.read(512)
    if len(header) < 512 or not header.startswith(OLE2):
        return None
    shift, = struct.unpack_from("<H", header, 0x1E)
    if shift not in (9, 12):
        return None
    size = 1 << shift
    num_fat, first_dir = struct.unpack_from("<II", header, 0x2C)
    first_difat, num_difat = struct.unpack_from("<II", header, 0x44)
    if num_fat > max_sectors or num_difat > max_sectors:
        return None

    def sector(n: int) -> bytes:
        f.seek((n + 1) * size)
        return f.read(size)

    fat_sectors = [s for s in struct.unpack_from("<109I", header, 0x4C)][:num_fat]
    nxt, per = first_difat, size // 4 - 1
    for _ in range(num_difat):
        if len(fat_sectors) >= num_fat or nxt >= 0xFFFFFFFA:
            break
        data = sector(nxt)
        if len(data) < size:
            return None
        ids = struct.unpack_from(f"<{per + 1}I", data)
        fat_sectors.extend(ids[:per])
        nxt = ids[per]
    fat: list[int] = []
    for s in fat_sectors[:num_fat]:
        data = sector(s)
        if len(data) < size:
            return None
        fat.extend(struct.unpack_from(f"<{size // 4}I", data))
    names: set[str] = set()
    cur, seen = first_dir, set()
    while cur < 0xFFFFFFFA:
        if cur in seen or len(seen) >= max_sectors or cur >= len(fat):
            return None
        seen.add(cur)
        data = sector(cur)
        for off in range(0, len(data) - 127, 128):
            length, kind = struct.unpack_from("<HB", data, off + 64)
            if kind in (1, 2, 5) and 2 <= length <= 64:
                names.add(data[off:off + length - 2].decode("utf-16-le", errors="replace"))
        cur = fat[cur]
    return names or None


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _utf8_text(f: BinaryIO) -> Kind | None:
    """Plain text: the whole file is valid UTF-8 without control characters (tabs, newlines allowed)."""
    f.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        while chunk := f.read(CHUNK):
            if _CONTROL.search(decoder.decode(chunk)):
                return None
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    return KINDS["text"]


# --- the name shown -------------------------------------------------------------------------

_UNSAFE = re.compile(r'[<>:"|?*]')
_EXT = re.compile(r"^[A-Za-z0-9]{1,10}$")


def clean_filename(raw: str | None, kind: Kind) -> str:
    """A display name that is safe anywhere it is shown or saved.

    Base name only (a client may send ``C:\\Users\\…\\a.pdf`` or ``../../etc/passwd``), no
    control or format characters (newlines, NUL, the right-to-left override that makes
    ``cod.exe`` look like ``exe.doc``), no path separators or characters Windows refuses,
    at most 200 characters, and an extension that fits the detected kind (else replaced).
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem.strip(" .") or not _EXT.match(ext):
        stem, ext = name, ""
    ext = ext.lower()
    if ext not in kind.extensions:
        ext = kind.extensions[0]
    stem = stem.strip(" .") or "附件"
    return stem[:MAX_NAME - len(ext) - 1].rstrip(" .") + "." + ext


# --- acts -----------------------------------------------------------------------------------

def listed(session: Session, case: Case) -> list[Attachment]:
    """The case's attachments that are not removed, oldest first."""
    return list(session.scalars(select(Attachment).where(Attachment.case_id == case.id,
                                                         Attachment.deleted_at.is_(None))
                                .order_by(Attachment.id)))


def load(session: Session, case: Case, attachment_id: int) -> Attachment:
    """One attachment of ``case``; removed, of another case or missing → 404 alike."""
    att = session.scalar(select(Attachment).where(Attachment.id == attachment_id, Attachment.case_id == case.id,
                                                  Attachment.deleted_at.is_(None)))
    if att is None:
        raise NotFound()
    return att


def store_upload(store: LocalStorage, tenant_id: int, storage_kind: str, stream: BinaryIO, max_bytes: int,
                 kinds: tuple[str, ...] | None = None, refused: str = "") -> tuple:
    """Save an upload under a new key, then detect its kind from the stored bytes:
    ``(key, stored, kind)``. Over ``max_bytes`` 413, empty 422, a kind not accepted — or not in
    ``kinds`` when given (415 with ``refused``) — and the stored file is deleted again."""
    key = store.new_key(tenant_id, storage_kind)
    try:
        stored = store.save(key, stream, max_bytes)
    except StorageError:
        raise TooLarge(message=f"文件超过 {max_bytes // (1024 * 1024)} MB 的上限") from None
    try:
        if stored.size == 0:
            raise Invalid("file", "empty_file", "文件为空", location="files")
        with store.open(key) as f:
            kind = sniff(f)
        if kind is None:
            raise UnsupportedType(message=f"不支持的文件类型（按文件内容判断）。可上传：{ACCEPTED}")
        if kinds is not None and kind.key not in kinds:
            raise UnsupportedType(message=refused)
    except BaseException:
        store.delete(key)
        raise
    return key, stored, kind


def attach(w: Work, case: Case, ctype: CaseType, stream: BinaryIO, filename: str | None,
           store: LocalStorage, max_bytes: int) -> Attachment:
    """Store an uploaded file on ``case`` (needs ``core.case.handle`` on one of its units).

    The file is written first (size-limited, hashed), then its kind is detected from the
    stored bytes; anything refused is deleted again. The caller commits, and deletes the
    stored file if the commit fails (``Attachment.storage_key``).
    """
    s = w.session
    unit = require_on(s, w.grants, HANDLE, case, [case.org_unit_id, *task_units(s, case)],
                      "只有事项所在单位或承办单位可以上传附件")
    key, stored, kind = store_upload(store, case.tenant_id, STORAGE_KIND, stream, max_bytes)
    try:
        att = Attachment(case_id=case.id, storage_key=key, filename=clean_filename(filename, kind),
                         content_type=kind.content_type, size=stored.size, sha256=stored.sha256,
                         uploaded_by=w.user_id, uploaded_at=utcnow())
        s.add(att)
        s.flush()
        record_event(w, case, ctype, case_settings.for_type(s, ctype), "attached", note=att.filename,
                     data={"attachment_id": att.id}, unit_id=unit)
    except BaseException:
        store.delete(key)
        raise
    return att


def upload_and_commit(w: Work, case: Case, ctype: CaseType, stream: BinaryIO, filename: str | None,
                      config) -> Attachment:
    """:func:`attach` with the configured store and size limit, then commit; a failed commit
    deletes the stored file again (nothing refers to it). The API and the case page use this."""
    from core.storage import storage
    store = storage(config)
    att = attach(w, case, ctype, stream, filename, store, config.upload_max_mb * 1024 * 1024)
    key = att.storage_key
    try:
        w.session.commit()
    except BaseException:
        store.delete(key)
        raise
    return att


def remove(w: Work, case: Case, ctype: CaseType, att: Attachment) -> None:
    """Soft-delete ``att``: by its uploader (still handling the case) or a holder of
    ``core.case.divert`` on the case's units. The stored file stays — it may be evidence."""
    s = w.session
    own = att.uploaded_by is not None and att.uploaded_by == w.user_id
    unit = next((u for u in [case.org_unit_id, *task_units(s, case)] if covers(s, w.grants, HANDLE, u)), None) \
        if own else None
    if unit is None:
        unit = require_on(s, w.grants, DIVERT, case, case_units(case),
                          "只有上传人，或事项所在单位、牵头承办单位的分流交办人员可以删除附件")
    att.deleted_at, att.deleted_by = utcnow(), w.user_id
    record_event(w, case, ctype, case_settings.for_type(s, ctype), "attachment_removed", note=att.filename,
                 data={"attachment_id": att.id}, unit_id=unit)
