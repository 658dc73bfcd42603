"""The one error format of the API and the exceptions that produce it.

Every 4xx answer has the same JSON body::

    {"status": 422, "code": "invalid", "message": "请求参数有误",
     "errors": {"json": {"name": ["必填"]}}}

``code`` is machine-readable and stable; ``message`` is for people (Chinese first);
``errors`` names the fields at fault, by location (``json``, ``query``, ``path``) as
flask-smorest reports them. Raise these from any layer; the app turns them into responses
(``error_response``, the one place that answer is built: JSON for the API, a page for a browser).
"""
from __future__ import annotations

from flask import Flask, current_app, g, jsonify, render_template, request


class PinganError(Exception):
    status = 400
    code = "bad_request"
    message = "请求有误"

    def __init__(self, code: str | None = None, message: str | None = None,
                 errors: dict | None = None) -> None:
        super().__init__(message or self.message)
        self.code = code or self.code
        self.message = message or self.message
        self.errors = errors or {}

    @property
    def field_at_fault(self) -> str:
        """The field a page shows the message at: an ``Invalid``'s field, else the first field its
        ``errors`` name (a 404 of an id in the body), else ``_form``."""
        located = (self.errors or {}).get("json")
        return getattr(self, "field", "") or (next(iter(located), "") if isinstance(located, dict) else "") or "_form"

    def body(self) -> dict:
        out = {"status": self.status, "code": self.code, "message": self.message}
        if self.errors:
            out["errors"] = self.errors
        return out


class BadRequest(PinganError):
    pass


class Unauthorized(PinganError):
    status, code, message = 401, "unauthorized", "请先登录"


class Forbidden(PinganError):
    status, code, message = 403, "forbidden", "没有权限执行此操作"


class NotFound(PinganError):
    status, code, message = 404, "not_found", "对象不存在或不在您的管辖范围内"


class Conflict(PinganError):
    status, code, message = 409, "conflict", "当前状态不允许此操作"


class Unprocessable(PinganError):
    """422 with the fields at fault already arranged by location: ``{"json": {...}}``."""

    status, code, message = 422, "invalid", "请求参数有误"


class Invalid(PinganError):
    """A field's value is unacceptable: ``Invalid("name", "too_long", "名称过长")``."""

    status, code, message = 422, "invalid", "请求参数有误"

    def __init__(self, field: str, code: str, message: str, location: str = "json") -> None:
        super().__init__(code, message, {location: {field: [message]}})
        self.field = field


class TooLarge(PinganError):
    """413: an upload over the configured size (``PINGAN_UPLOAD_MAX_MB``)."""

    status, code, message = 413, "too_large", "文件过大"


class UnsupportedType(PinganError):
    """415: content of a kind the platform does not accept (decided by the content, not the name)."""

    status, code, message = 415, "unsupported_type", "不支持的文件类型"


class TooManyRequests(PinganError):
    status, code, message = 429, "too_many_requests", "请求过于频繁，请稍后再试"


class ServiceUnavailable(PinganError):
    """503: something the request needs — the database, the file storage, the job queue — did
    not answer, or not in time. Not the caller's fault and not a bug: the answer carries
    ``Retry-After`` and the request id, the log the cause. ``code`` names the class of cause
    (``UNAVAILABLE``); the app classifies driver exceptions into these (``core.app``)."""

    status, code, message = 503, "service_unavailable", "服务暂时不可用，请稍后再试"
    retry_after = 10

    def __init__(self, code: str | None = None, message: str | None = None, retry_after: int | None = None,
                 cause: str = "") -> None:
        default_message, default_retry = UNAVAILABLE.get(code or "", (None, None))
        super().__init__(code, message or default_message)
        self.retry_after = retry_after or default_retry or self.retry_after
        self.cause = cause  # for the log: the exception's type and message, never personal data


# code → (message, Retry-After seconds). A timeout is retried soon (the lock is usually gone);
# an outage later. "未保存": a timed-out request is rolled back (a lost connection may not be).
UNAVAILABLE: dict[str, tuple[str, int]] = {
    "timeout": ("服务繁忙，本次操作未保存，请稍后重试", 5),
    "database_unavailable": ("服务暂时不可用（数据库无法访问），请稍后再试", 15),
    "storage_unavailable": ("服务暂时不可用（文件存储无法读写），请稍后再试", 60),
    "queue_unavailable": ("服务暂时不可用（后台任务服务无法访问），请稍后再试", 15),
}


# --- the answer ------------------------------------------------------------------------------

STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "too_large",
                415: "unsupported_media_type", 422: "invalid", 429: "too_many_requests", 503: "service_unavailable"}
STATUS_MESSAGES = {400: "请求有误", 401: "请先登录", 403: "没有权限执行此操作",
                   404: "对象不存在或不在您的管辖范围内", 405: "不支持该请求方法", 406: "无法提供所请求的格式",
                   409: "当前状态不允许此操作", 413: "请求内容过大", 415: "不支持的内容类型",
                   422: "请求参数有误", 429: "请求过于频繁，请稍后再试", 503: "服务暂时不可用，请稍后再试"}


def wants_json() -> bool:
    """Whether the current request gets its error as JSON (the API, OAuth, health) or as a page."""
    path = request.path
    if path.startswith(("/api/", "/oauth/")) or path in ("/healthz", "/readyz"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, code: str | None = None, message: str | None = None,
                   errors: dict | None = None, headers: dict | None = None):
    """The answer of an error in the current request: ``{status, code, message, errors}`` as
    JSON, or the error page (a standalone one for 503). Used by the app's error handlers and by
    anything that answers a request itself before a view runs (``core.idempotency``)."""
    code = code or STATUS_CODES.get(status, "error")
    message = message or STATUS_MESSAGES.get(status, "服务器内部错误")
    if wants_json():
        body = {"status": status, "code": code, "message": message}
        if errors:
            body["errors"] = errors
        if status >= 500:
            body["request_id"] = g.get("request_id")
        resp = jsonify(body)
    elif status == 503:
        # a page that needs nothing but the template: no query (the database may be what failed,
        # or the request's transaction aborted), no signed-in user's menu
        page = current_app.jinja_env.get_template("unavailable.html").render(
            code=code, message=message, request_id=g.get("request_id"), retry_after=(headers or {}).get("Retry-After"))
        resp = Flask.response_class(page, mimetype="text/html")
    else:
        resp = render_template("error.html", status=status, code=code, message=message, errors=errors or {})
        resp = Flask.response_class(resp, mimetype="text/html")
    resp.status_code = status
    if status == 401 and request.headers.get("Authorization", "").startswith("Bearer "):
        resp.headers["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{code}"'
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp
