"""Locale of a request: Chinese (zh_CN) first, English on request.

``current_locale`` decides: the signed-in user's saved locale, then a ``lang`` cookie (set
by the language switch before signing in), then Accept-Language; Chinese otherwise.

Texts are written in the templates as ``t('中文', 'English')`` (and ``pick`` in Python): the
two languages side by side, so a page and its translation cannot drift apart and a plugin
needs no catalogue of its own. Flask-Babel is the locale selector of the app (it asks
``current_locale``) and formats dates, times and numbers for that locale and for Beijing
time in templates: ``|datetimeformat``, ``|dateformat``, ``|timeformat``, ``|numberformat``,
``|percentformat`` (see docs/ui.md).
"""
from __future__ import annotations

from flask import Flask, g, has_request_context, request
from flask_babel import Babel

LOCALES = ("zh_CN", "en")
TIMEZONE = "Asia/Shanghai"


def current_locale() -> str:
    if not has_request_context():
        return "zh_CN"
    ctx = g.get("pingan")
    if ctx is not None and ctx.user is not None and ctx.user.locale in LOCALES:
        return ctx.user.locale
    cookie = request.cookies.get("lang")
    if cookie in LOCALES:
        return cookie
    best = request.accept_languages.best_match(["zh", "zh-CN", "en"])
    return "en" if best == "en" else "zh_CN"


def html_lang() -> str:
    """The ``<html lang>`` value of the current locale (BCP 47)."""
    return "en" if current_locale() == "en" else "zh-CN"


def pick(zh: str, en: str | None) -> str:
    return en if (en and current_locale() == "en") else zh


def install(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "zh_CN")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", TIMEZONE)
    Babel(app, locale_selector=current_locale, timezone_selector=lambda: TIMEZONE)
    app.jinja_env.globals.update(t=pick, locale=current_locale, html_lang=html_lang, locales=LOCALES)
