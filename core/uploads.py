"""Files a module keeps: the photo of signed minutes, a check-in photo, the scan of a paper.

One way for every module (``sdk.store_file``, ``sdk.file_response``, ``sdk.forget_file``): the
upload is written through ``core.storage`` for the bound county, size-limited by the platform's
``upload_max_mb``, and accepted only if its *content* is one of the kinds asked for (PDF or an
image, never by its name or the client's content type), exactly as a case's attachments are.
The module keeps what :class:`StoredFile` says in its own row (key, the cleaned name, the
detected type, size, SHA-256). A file stored in a transaction that rolls back is deleted again,
and a file the module stops referring to (a photo replaced) is deleted once the transaction
that replaced it commits: no file is left that no row names, none is lost that one does.

Served back with :func:`file_response`: always as an attachment, ``nosniff`` and a sandbox CSP,
so an uploaded file never runs in the platform's origin.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote

from flask import Response, request
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.wsgi import wrap_file

from core.cases.attachments import clean_filename, store_upload
from core.db import current_tenant_id
from core.errors import Invalid, NotFound
from core.storage import storage

log = logging.getLogger("pingan.uploads")
SCAN_KINDS = ("pdf", "jpeg", "png", "gif", "webp")
PHOTO_KINDS = ("jpeg", "png", "gif", "webp")
STORAGE_KIND = "upload"   # [a-z]+: core.storage.KEY
_STORED, _FORGOTTEN = "pingan_uploads_stored", "pingan_uploads_forgotten"
_MARKS, _COMMITTING = "pingan_uploads_savepoints", "pingan_uploads_committing"


@dataclass(frozen=True)
class StoredFile:
    """What a module keeps of a stored file (in its own columns)."""

    key: str
    filename: str
    content_type: str
    size: int
    sha256: str


def store_file(session: Session, upload: FileStorage | None, kinds: tuple[str, ...] = SCAN_KINDS,
               refused: str = "只能上传 PDF 或图片（JPEG/PNG/GIF/WebP），按文件内容判断",
               field: str = "file") -> StoredFile:
    """Store ``upload`` (a form's file) for the bound county; 422 at ``field`` without one, 413
    over the size limit, 415 with ``refused`` for another kind. Deleted again if ``session``'s
    transaction rolls back."""
    from core.runtime import running
    if not isinstance(upload, FileStorage) or not upload.filename:
        raise Invalid(field, "file_required", "请选择要上传的文件", location="files")
    config = running().config
    key, stored, kind = store_upload(storage(config), current_tenant_id(), STORAGE_KIND, upload.stream,
                                     config.upload_max_mb * 1024 * 1024, kinds, refused)
    session.info.setdefault(_STORED, []).append(key)
    return StoredFile(key, clean_filename(upload.filename, kind), kind.content_type, stored.size, stored.sha256)


def forget_file(session: Session, key: str | None) -> None:
    """The module no longer refers to ``key`` (replaced, removed): delete it once ``session``
    commits (kept if it rolls back)."""
    if key:
        session.info.setdefault(_FORGOTTEN, []).append(key)


FILE_COLUMNS = ("key", "filename", "content_type", "size", "sha256")


def keep_file(session: Session, owner, prefix: str, upload: FileStorage | None, kinds: tuple[str, ...] = SCAN_KINDS,
              refused: str = "只能上传 PDF 或图片（JPEG/PNG/GIF/WebP），按文件内容判断", field: str = "file") -> StoredFile:
    """Store ``upload`` as ``owner``'s file named ``prefix``: its columns ``<prefix>_key``,
    ``_filename``, ``_content_type``, ``_size`` and ``_sha256`` take the new file's, and the file
    they named before is forgotten (deleted once this commits) — a photo replaced."""
    stored = store_file(session, upload, kinds, refused, field)
    forget_file(session, getattr(owner, f"{prefix}_key"))
    for name in FILE_COLUMNS:
        setattr(owner, f"{prefix}_{name}", getattr(stored, name))
    return stored


def kept_file_response(owner, prefix: str, default_name: str) -> Response:
    """``owner``'s file named ``prefix`` (as :func:`keep_file` keeps it) as a download; 404
    ``no_file`` without one."""
    return file_response(getattr(owner, f"{prefix}_key"), getattr(owner, f"{prefix}_filename") or default_name,
                         getattr(owner, f"{prefix}_content_type") or "application/octet-stream",
                         getattr(owner, f"{prefix}_size"))


def file_response(key: str | None, filename: str, content_type: str, size: int | None = None) -> Response:
    """A stored file as a download (404 ``no_file`` when ``key`` is None or the file is gone)."""
    if not key:
        raise NotFound("no_file", "没有上传文件")
    try:
        f = storage().open(key)
    except FileNotFoundError:
        raise NotFound("file_missing", "文件已丢失，请联系系统管理员") from None
    resp = Response(wrap_file(request.environ, f), direct_passthrough=True)
    resp.headers["Content-Type"] = content_type
    if size is not None:
        resp.headers["Content-Length"] = str(size)
    resp.headers["Content-Disposition"] = content_disposition(filename)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "sandbox"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the real one per RFC 5987 (``filename*``)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%;' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _delete(keys: list[str]) -> None:
    if not keys:
        return
    store = storage()
    for key in keys:
        try:
            store.delete(key)
        except Exception:  # noqa: BLE001 — a file left over is harmless; never fail a saved request for it
            log.warning("could not delete stored file %s", key)


# The files follow the outermost transaction, as the audit's entries do (core.audit): a savepoint
# released keeps them for its enclosing transaction; a savepoint rolled back deletes the files
# stored in it and takes back what it forgot; the outermost commit deletes the forgotten ones;
# anything else that ends it (a rollback, a failed commit, a close) deletes the stored ones.

@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction) -> None:
    if transaction.nested:
        marks = session.info.setdefault(_MARKS, {})
        marks[transaction] = (len(session.info.get(_STORED, ())), len(session.info.get(_FORGOTTEN, ())))


@event.listens_for(Session, "before_commit")
def _committing(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info[_COMMITTING] = True


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction) -> None:
    t = previous_transaction
    while t.parent is not None and not t.nested:
        t = t.parent  # a flush's subtransaction rolls back up to its savepoint or the root
    if not t.nested:
        session.info.pop(_COMMITTING, None)   # a failed commit: the transaction's end deletes what it stored
        return
    stored_at, forgotten_at = session.info.get(_MARKS, {}).get(t, (None, None))
    if stored_at is None:
        return
    stored = session.info.get(_STORED, [])
    _delete(stored[stored_at:])
    del stored[stored_at:]
    del session.info.get(_FORGOTTEN, [])[forgotten_at:]


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction) -> None:
    if transaction.parent is not None:
        return
    committed = session.info.pop(_COMMITTING, False)
    stored, forgotten = session.info.pop(_STORED, None) or [], session.info.pop(_FORGOTTEN, None) or []
    session.info.pop(_MARKS, None)
    _delete(forgotten if committed else stored)
