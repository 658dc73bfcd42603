"""Locale of a request: Chinese (zh_CN) first, English on request.

The user's saved locale wins, then a ``lang`` cookie, then Accept-Language; templates get
``locale`` and ``t(zh, en)`` to pick a text. (The full Flask-Babel catalogue arrives with the
web UI.)
"""
from __future__ import annotations

from flask import Flask, g, request

LOCALES = ("zh_CN", "en")


def current_locale() -> str:
    ctx = g.get("pingan")
    if ctx is not None and ctx.user is not None and ctx.user.locale in LOCALES:
        return ctx.user.locale
    cookie = request.cookies.get("lang")
    if cookie in LOCALES:
        return cookie
    best = request.accept_languages.best_match(["zh", "zh-CN", "en"])
    return "en" if best == "en" else "zh_CN"


def pick(zh: str, en: str | None) -> str:
    return en if (en and current_locale() == "en") else zh


_VALIDATION_ZH = (("Missing data for required field", "必填"), ("Field may not be null", "必填"),
                  ("Not a valid", "格式不正确"), ("Must be one of", "不是可选的值"), ("Length must be", "长度不符合要求"),
                  ("Shorter than", "长度不符合要求"), ("Longer than", "长度不符合要求"), ("Must be greater", "超出范围"),
                  ("Must be less", "超出范围"), ("Unknown field", "未知的字段"))


def validation_zh(message: str) -> str:
    """A marshmallow validation message in Chinese (a message already in Chinese is kept)."""
    return next((zh for en, zh in _VALIDATION_ZH if message.startswith(en)), message)


def install(app: Flask) -> None:
    app.jinja_env.globals.update(t=pick, locale=current_locale)
