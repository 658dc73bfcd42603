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
from marshmallow import Schema, ValidationError
from sqlalchemy import or_, select

from core.authz import minimal_paths
from core.errors import Forbidden, PinganError
from core.models import OrgUnit
from core.orgtree import tree_order, within
from core.request import authenticated, current
from core.validation_messages import validation_zh

bp = Blueprint("web_admin", __name__, url_prefix="/admin")

# (order, endpoint, permission, county-wide?, zh, en): the console's sections, each shown to users
# holding its permission (on the county's root unit, for a county-wide section)
SECTIONS: list[tuple[int, str, str, bool, str, str]] = []


def section(order: int, endpoint: str, perm: str, zh: str, en: str, county_wide: bool = False) -> None:
    SECTIONS.append((order, endpoint, perm, county_wide, zh, en))
    SECTIONS.sort()


def visible_sections(grants) -> list[dict]:
    return [{"endpoint": e, "title": zh, "title_en": en} for _, e, perm, county, zh, en in SECTIONS
            if (grants.county_wide(perm) if county else grants.has(perm))]


def messages_by_field(messages, prefix: str = "") -> dict[str, str]:
    """marshmallow-style messages (field → list, nested dicts) as ``prefix + field`` → one Chinese line."""
    out: dict[str, list[str]] = {}

    def walk(value, key):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k if key is None else key)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v, key)
        else:
            out.setdefault(prefix + ("_form" if key in (None, "_schema") else str(key)), []).append(
                validation_zh(str(value)))
    walk(messages, None)
    return {k: "；".join(dict.fromkeys(v)) for k, v in out.items()}


def form_with_errors(schema: Schema, data: dict, prefix: str = "") -> tuple[dict, dict]:
    """(loaded data, errors by ``prefix + field``) — the API's own request schema on a form."""
    try:
        loaded = schema.load(data)
    except ValidationError as exc:
        return {}, messages_by_field(exc.messages, prefix)
    from core import bounds
    found = bounds.first_problem(loaded)  # an id past 63 bits, a time in year 1 … (issue 14)
    return ({}, {prefix + found[0]: found[1]}) if found else (loaded, {})


def error_fields(exc: PinganError, prefix: str = "") -> dict[str, str]:
    """A service's error as messages by field (its ``errors``' fields), else under ``prefix + _form``."""
    located = {}
    for fields_ in (exc.errors or {}).values():
        if isinstance(fields_, dict):
            located.update(messages_by_field(fields_, prefix))
    located.setdefault(prefix + "_form", exc.message)
    return located


def scope_units(session, grants, perm: str, active_only: bool = True, limit: int = 3000) -> list[OrgUnit]:
    """The units in the user's subtrees for ``perm``, in tree order (the console's unit choices;
    siblings by code, then by name, numbers read as numbers: ``orgtree.tree_order``)."""
    roots = minimal_paths(set(grants.paths(perm)))
    if not roots:
        return []
    stmt = select(OrgUnit).where(or_(*[within(r) for r in roots]))
    if active_only:
        stmt = stmt.where(OrgUnit.status == "active")
    return tree_order(session.scalars(stmt.order_by(OrgUnit.path).limit(limit)))


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


from core.web.admin import audit, calendar, modules, network, org_units, role_templates, users  # noqa: E402,F401  (each registers its routes and section)
