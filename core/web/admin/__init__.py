"""The county admin console (issue 6): module catalog, org tree, users and roles, member
units, calendar overrides and the audit log, as server-rendered pages under ``/admin``.

Every page calls the same core services as the REST API (``core.modules``, ``core.orgtree``,
…); a form only turns fields into that call's data and its errors back into Chinese messages
next to the fields (422, typed values kept, nothing saved). CSRF is checked for every POST by
the request layer (the session's token); a missing permission is the 403 page, an object
outside the user's scope the 404 page. Writes are audited by the core on flush.
"""
from __future__ import annotations

from flask import Blueprint, render_template

from core.errors import Forbidden
from core.request import authenticated, current

bp = Blueprint("web_admin", __name__, url_prefix="/admin")

# (endpoint, permission, zh, en): the console's sections, each shown to users holding its permission
SECTIONS: list[tuple[str, str, str, str]] = []


def section(endpoint: str, perm: str, zh: str, en: str) -> None:
    SECTIONS.append((endpoint, perm, zh, en))


def visible_sections(grants) -> list[dict]:
    return [{"endpoint": e, "title": zh, "title_en": en} for e, perm, zh, en in SECTIONS if grants.has(perm)]


@bp.app_context_processor
def _admin_link() -> dict:
    from flask import g
    ctx = g.get("pingan")
    show = bool(ctx is not None and ctx.user is not None and not ctx.user.must_change_password
                and visible_sections(ctx.grants))
    return {"admin_link": show}


@bp.route("")
@authenticated
def index():
    sections = visible_sections(current().grants)
    if not sections:
        raise Forbidden()
    return render_template("admin/index.html", sections=sections)


from core.web.admin import modules  # noqa: E402,F401  (registers its routes and section)
