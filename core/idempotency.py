"""Safe retries (issue 25): an ``Idempotency-Key`` on any write, a one-time token on every form.

A phone on a village network sends a write, the answer is lost, the phone sends it again. With
the same key the retry gets the first answer and writes nothing again:

- **API**: any unsafe request (POST, PUT, PATCH, DELETE) may carry ``Idempotency-Key: <key>``
  (1–255 printable ASCII characters; else 422 ``invalid_idempotency_key``).
- **Web forms**: every form posts a hidden ``form_token``, a fresh random value rendered with the
  form (the Jinja global ``form_tokens()``, ``core.web``), used as the key: a double click, a
  browser's retry or "resubmit form" saves once and shows the first result.

Keys are scoped per county and user (``idempotency_key``: unique ``(tenant_id, user_id, key)``):
a key of user A never replays for user B, another county never sees it. Only signed-in
requests use them; on an anonymous request (log-in, the public petition pages, OAuth's token
endpoints) the key is ignored — a log-in's answer carries a new session cookie, which is never
stored, and the public pages are read-only or once-only by themselves.

How it holds under concurrency, inside the request's own transaction (``install``):

1. After authentication the request claims its key: ``INSERT … ON CONFLICT DO NOTHING``
   (``core.db.insert_ignore_many``) with a fingerprint of the request (method, path, query and
   body; the form's ``csrf_token`` and ``form_token`` left out). On PostgreSQL an INSERT that
   meets another attempt's uncommitted claim waits until that attempt commits or rolls back
   (bounded by the web lock timeout: a 503 then); on SQLite ``BEGIN IMMEDIATE`` already
   serialises writers.
2. Claim inserted: the view runs, and its commit commits the claim with its effect atomically.
   After the response is made, the answer (status, content type, a few headers, the body —
   encrypted with the data key ring, it may hold personal data) is stored on the row with a
   short UPDATE and commit. Only a claim that was committed stores an answer: a request that
   rolled back (a 4xx, a 503 timeout) leaves no claim, so a corrected retry runs afresh. A 5xx
   after a commit is stored and replayed like any answer: the effect was saved.
3. Claim existed: same fingerprint and an answer → that answer again, byte for byte, with
   ``Idempotent-Replayed: true``; a different fingerprint → 422 ``idempotency_key_reused``;
   no answer yet (the moment between the first attempt's commit and its UPDATE) → wait up to
   ``WAIT_SECONDS`` re-reading (ending the transaction between reads, so the first attempt
   can write on SQLite too), then 409 ``request_in_progress`` with ``Retry-After``. A claim
   still without an answer ``LOST_AFTER`` after it was made belongs to a process that died
   between its commit and the UPDATE: the effect was saved but the answer is gone, 409
   ``idempotency_result_lost``. An answer too large to keep (over ``MAX_STORED_BODY``) or
   streamed (a file) is stored as a marker: the retry gets 409 ``idempotency_result_too_large``
   with the first answer's ``Location``, if it had one. An answer that shows a secret once (a
   one-time password, a new token or client secret: ``core.context.shows_secret_once``) is
   never kept, not even encrypted: the retry gets 409 ``idempotency_result_withheld``.

Keys are kept ``PINGAN_IDEMPOTENCY_HOURS`` (24): an older one is treated as unknown, and the
periodic core job ``purge`` deletes them. The key is never logged nor put in a URL.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, Response, g, request
from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint, delete, event, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.context import answer_shows_secret
from core.crypto import SECRET, Encrypted
from core.db import NO_DEADLINE, AwareDateTime, TenantModel, insert_ignore_many, tenant_fk, utcnow
from core.errors import Unprocessable, error_response
from core.runtime import pingan

log = logging.getLogger("pingan.idempotency")

HEADER = "Idempotency-Key"
FORM_FIELD = "form_token"
CSRF_FIELD = "csrf_token"
HIDDEN_FORM_FIELDS = (CSRF_FIELD, FORM_FIELD)  # a form's guard fields, never data of the form
REPLAYED_HEADER = "Idempotent-Replayed"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_KEY_LENGTH = 255
MAX_STORED_BODY = 256 * 1024
STORED_HEADERS = ("Location", "Content-Disposition", "Content-Security-Policy", "Retry-After", "ETag")
WAIT_SECONDS = 5.0
POLL_SECONDS = 0.05
LOST_AFTER = timedelta(minutes=2)  # far beyond the web request deadline: the first attempt is gone
RETRY_AFTER_SECONDS = 2
_KEY = re.compile(r"[\x20-\x7e]{1,%d}" % MAX_KEY_LENGTH)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_CLAIM = "pingan_idempotency_claim"  # Session.info: the request's _Claim


class EncryptedText(Encrypted):
    """``Encrypted`` without the length bound: a stored answer (``pingan crypto rotate`` re-keys it)."""

    impl = Text
    cache_ok = True


class IdempotencyKey(TenantModel):
    """A key a user's write was sent with, and the answer it got (``status`` NULL: not stored yet).

    ``answer``: JSON of the content type, ``STORED_HEADERS`` and the body (base64), or a marker
    ``{"too_large": true, "location": …}`` for an answer that could not be kept. Not
    row-audited: the write it guards is audited, this is only its receipt.
    """

    __audit__ = False
    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id", "key"),
                      Index("ix_idempotency_key_created", "tenant_id", "created_at"),
                      tenant_fk("user_id", "app_user", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), info=SECRET)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    status: Mapped[int | None] = mapped_column(Integer)
    answer: Mapped[str | None] = mapped_column(EncryptedText)


def new_form_token() -> str:
    """A fresh one-time token for one rendering of a form."""
    return secrets.token_urlsafe(24)


# --- the request's key and fingerprint ------------------------------------------------------

@dataclass
class _Presented:
    key: str
    location: str  # "headers" | "form": where the error names the field
    field: str

    def error(self, code: str, message: str) -> Unprocessable:
        return Unprocessable(code, message, {self.location: {self.field: [message]}})


def presented_key() -> _Presented | None:
    """The request's key: the ``Idempotency-Key`` header, else a form's ``form_token``."""
    if HEADER in request.headers:
        return _Presented(request.headers[HEADER], "headers", HEADER)
    if request.mimetype in _FORM_TYPES and FORM_FIELD in request.form:
        return _Presented(request.form[FORM_FIELD], "form", FORM_FIELD)
    return None


def fingerprint() -> str:
    """SHA-256 of what makes the request this request: method, path, query, body — a form's
    fields without its guard fields (``HIDDEN_FORM_FIELDS``) and its files' contents."""
    h = hashlib.sha256()

    def feed(*parts) -> None:
        h.update(json.dumps(parts, ensure_ascii=False).encode())

    feed(request.method, request.path, sorted(request.args.items(multi=True)))
    if request.mimetype in _FORM_TYPES:
        feed(sorted((k, v) for k, v in request.form.items(multi=True) if k not in HIDDEN_FORM_FIELDS))
        for name, upload in sorted(request.files.items(multi=True), key=lambda item: (item[0], item[1].filename or "")):
            digest = hashlib.sha256()
            for chunk in iter(lambda: upload.stream.read(64 * 1024), b""):
                digest.update(chunk)
            upload.stream.seek(0)
            feed(name, upload.filename or "", digest.hexdigest())
    else:
        h.update(request.get_data(cache=True))
    return h.hexdigest()


# --- claim, replay, store -------------------------------------------------------------------

@dataclass
class _Claim:
    id: int
    commit_seen: bool = False  # the transaction that is ending committed (after_commit)
    committed: bool = False    # the claim is in the database with the view's effect


def _retention() -> timedelta:
    return timedelta(hours=pingan().config.idempotency_hours)


def claim_or_replay():
    """``before_request``: claim the request's key, or answer a retry; None lets the view run."""
    if request.method in SAFE_METHODS:
        return None
    ctx = g.get("pingan")
    if ctx is None or ctx.user is None:
        return None  # anonymous: keys are not used (module docstring)
    presented = presented_key()
    if presented is None:
        return None
    if not _KEY.fullmatch(presented.key):
        raise presented.error("invalid_idempotency_key",
                              f"幂等键须为 1–{MAX_KEY_LENGTH} 个可打印的 ASCII 字符")
    return _claim(ctx.session, ctx.user.id, presented, fingerprint())


def _claim(session: Session, user_id: int, presented: _Presented, fp: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        ids = insert_ignore_many(session, IdempotencyKey, [{"user_id": user_id, "key": presented.key,
                                                             "fingerprint": fp, "created_at": utcnow()}],
                                 ["user_id", "key"], IdempotencyKey.id)
        if ids:
            session.info[_CLAIM] = _Claim(ids[0])
            return None
        row = session.execute(select(IdempotencyKey.id, IdempotencyKey.fingerprint, IdempotencyKey.created_at,
                                     IdempotencyKey.status, IdempotencyKey.answer)
                              .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == presented.key)).first()
        if row is not None and row.created_at < utcnow() - _retention():
            # kept past its time and not purged yet: forgotten, as if purged
            session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row.id))
            continue
        if row is not None:
            if row.fingerprint != fp:
                raise presented.error("idempotency_key_reused", "该幂等键已用于另一个不同的请求，新的请求请使用新的键")
            if row.status is not None:
                return _replay(row.status, row.answer)
            if time.monotonic() >= deadline:
                return _unanswered(row.created_at)
        # the first attempt has committed but not stored its answer yet (or its claim vanished):
        # end this transaction so that it can write (SQLite's one writer), then look again
        session.rollback()
        time.sleep(POLL_SECONDS)


def _replay(status: int, answer: str) -> Response:
    data = json.loads(answer)
    if data.get("withheld"):
        headers = {"Location": data["location"]} if data.get("location") else None
        return error_response(409, "idempotency_result_withheld",
                              "该请求已处理完成；其结果含只显示一次的密码或令牌，不能再次显示", headers=headers)
    if data.get("too_large"):
        headers = {"Location": data["location"]} if data.get("location") else None
        return error_response(409, "idempotency_result_too_large",
                              "该请求已处理完成，但结果过大，无法重放；请刷新页面查看", headers=headers)
    resp = Response(base64.b64decode(data["body"]), status=status, content_type=data["content_type"])
    for name, value in data["headers"]:
        resp.headers[name] = value
    resp.headers[REPLAYED_HEADER] = "true"
    return resp


def _unanswered(created_at: datetime) -> Response:
    if created_at < utcnow() - LOST_AFTER:
        return error_response(409, "idempotency_result_lost",
                              "该请求已处理完成，但其结果未能保存，无法重放；请刷新页面查看")
    return error_response(409, "request_in_progress", "同一请求正在处理中，请稍后重试",
                          headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _answer_of(response: Response) -> tuple[int, str]:
    """(status, the answer to store): the body and what a replay needs, or a marker — too
    large, or withheld because it shows a secret once (``core.context.shows_secret_once``)."""
    if answer_shows_secret():
        return response.status_code, json.dumps({"withheld": True, "location": response.headers.get("Location")})
    if response.direct_passthrough or response.is_streamed:
        body = None
    else:
        body = response.get_data()
        if len(body) > MAX_STORED_BODY:
            body = None
    if body is None:
        return response.status_code, json.dumps({"too_large": True, "location": response.headers.get("Location")})
    headers = [[name, response.headers[name]] for name in STORED_HEADERS if name in response.headers]
    return response.status_code, json.dumps({"content_type": response.content_type, "headers": headers,
                                             "body": base64.b64encode(body).decode()})


def store_answer(response: Response) -> Response:
    """``after_request``: keep the answer of a request whose claim was committed."""
    session = pingan().db.session
    if not session.registry.has():
        return response
    claim = session.info.pop(_CLAIM, None)
    if claim is None or not claim.committed:
        return response  # no key, or nothing committed: a retry runs afresh
    try:
        status, answer = _answer_of(response)
        session.execute(update(IdempotencyKey)
                        .where(IdempotencyKey.id == claim.id, IdempotencyKey.status.is_(None))
                        .values(status=status, answer=answer))
        # the effect is saved already: past the request's deadline its answer must still be kept
        session.info[NO_DEADLINE] = True
        session.commit()
    except Exception:  # noqa: BLE001 — the answer still goes out; a retry then hears 409
        log.exception("could not store the answer of an idempotent request")
        session.rollback()
    finally:
        session.info.pop(NO_DEADLINE, None)
    return response


@event.listens_for(Session, "after_commit")
def _note_commit(session: Session) -> None:
    claim = session.info.get(_CLAIM)
    if claim is not None:
        claim.commit_seen = True


@event.listens_for(Session, "after_transaction_end")
def _settle_claim(session: Session, transaction) -> None:
    """The root transaction that held the claim ended: committed, the claim stands; rolled
    back, it is gone (a savepoint's end changes nothing)."""
    claim = session.info.get(_CLAIM)
    if claim is None or claim.committed:
        return
    if transaction.parent is not None:
        claim.commit_seen = False
        return
    if claim.commit_seen:
        claim.committed = True
    else:
        session.info.pop(_CLAIM, None)


def install(app: Flask) -> None:
    """Claim keys after authentication (call after ``_begin_request`` is registered)."""
    app.before_request(claim_or_replay)
    app.after_request(store_answer)


# --- retention ------------------------------------------------------------------------------

def purge_older(session: Session, before: datetime) -> int:
    """Delete the bound county's keys made before ``before``; returns how many."""
    return session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < before)).rowcount or 0


def purge(tenant_id: int) -> None:
    """Scheduled entry point (``core.jobs.CORE_JOBS``): forget keys older than ``PINGAN_IDEMPOTENCY_HOURS``."""
    from core.jobs import worker_state
    state = worker_state()
    with state.db.transaction(tenant_id) as s:
        n = purge_older(s, utcnow() - timedelta(hours=state.config.idempotency_hours))
    log.info("idempotency keys of tenant %s purged: %s", tenant_id, n)


# the header as the OpenAPI document describes it (``components.parameters``, core.app)
OPENAPI_PARAMETER = {
    "name": HEADER, "in": "header", "required": False,
    "description": ("Any write (POST, PUT, PATCH, DELETE) of a signed-in user: a new random key (a UUID) per "
                    "intended write. A retry with the same key, by the same user in the same county within "
                    "PINGAN_IDEMPOTENCY_HOURS (24 h), gets the first answer again — same status and body, "
                    "header Idempotent-Replayed: true — and writes nothing again. The same key with another "
                    "request: 422 idempotency_key_reused; the first attempt still running: the retry waits, "
                    "then 409 request_in_progress with Retry-After. A request that was refused (4xx) or timed "
                    "out (503) saved nothing and leaves no trace: retry it, corrected, with the same key."),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[\\x20-\\x7e]+$"},
}
