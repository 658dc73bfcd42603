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


def install(app: Flask) -> None:
    app.jinja_env.globals.update(t=pick, locale=current_locale)
