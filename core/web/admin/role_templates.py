"""A module's role templates on its console page (issue 16, item 3): which roles already carry
each template the module adds to, and two forms — "采用为新角色" (a new role, its name editable)
and "加入已有角色" (check boxes of the county's roles) — calling ``core.roles.adopt`` and
``core.roles.extend``, the services of ``POST /api/roles/from-template`` and ``POST
/api/roles/<id>/extend``, with their anti-escalation guard. Shown to a holder of
``core.role.manage`` once the module is on; a refused form comes back (4xx) with the message in
Chinese at its field and what was typed kept.

The panel is ``admin/_role_templates.html``, included by the module page; it asks
:func:`panel` for its data, and a refused post leaves its form's errors in ``g``.
"""
from __future__ import annotations

from flask import g, redirect, request, url_for
from sqlalchemy import select

from core import modules, roles
from core.bounds import parse_int
from core.errors import NotFound, PinganError
from core.models import Role
from core.request import current, requires
from core.web.admin import bp
from core.web.admin import modules as module_pages


def _host():
    from core.runtime import pingan
    return pingan().plugins


def field(key: str, name: str) -> str:
    """The errors key (and, dots as dashes, the element id) of a template form's field."""
    return f"role-template-{key}.{name}"


@bp.app_template_global("role_template_panel")
def panel(module: str) -> dict | None:
    """The panel's data for ``module``'s page: None for a user without ``core.role.manage``."""
    ctx = current()
    if not ctx.grants.has(roles.ROLE_MANAGE):
        return None
    enabled = module in ctx.plugins
    items = roles.listing(ctx.session, ctx.grants, _host(), ctx.plugins, module) if enabled else []
    all_roles = list(ctx.session.scalars(select(Role).order_by(Role.name, Role.key))) if items else []
    for item in items:
        carried = {r.id for r in item["roles"]}
        item["others"] = [r for r in all_roles if r.id not in carried]
    done, done_key = request.args.get("role_template_done"), request.args.get("role_template")
    done_item = next((i for i in items if i["key"] == done_key), None)
    notice = None
    if done_item and done == "adopt":
        notice = f"已将“{done_item['name']}”模板采用为新角色；请到“用户”页把该角色分配给人员。"
    elif done_item and done == "extend":
        notice = f"已将“{done_item['name']}”模板的权限加入所选角色。"
    return {"enabled": enabled, "items": items, "form": g.get("role_template_form") or {}, "notice": notice}


def _template(name: str, key: str) -> dict:
    """The template ``key`` as ``name``'s page offers it (else 404), the caller a module manager."""
    ctx = current()
    host = _host()
    modules.module(ctx.session, host, name)  # the 404 for a module not installed
    modules.require_manager(ctx.session, ctx.grants)  # the page it is on (and comes back to) is the module's
    if name not in ctx.plugins:
        raise NotFound()
    found = next((t for t in roles.listing(ctx.session, ctx.grants, host, ctx.plugins, name) if t["key"] == key), None)
    if found is None:
        raise NotFound()
    return found


def _refused(name: str, key: str, form: str, exc: PinganError, values: dict, at: dict[str, str]):
    """The module page again, the service's message at its field (``at``: the service's field →
    the form's), what was typed kept."""
    ctx = current()
    ctx.session.rollback()
    if exc.status >= 500 or exc.status == 404:
        raise exc
    located = {}
    for fields_ in (exc.errors or {}).values():
        if isinstance(fields_, dict):
            for f, messages in fields_.items():
                text = "；".join(messages) if isinstance(messages, list) else str(messages)
                located[field(key, at.get(f, "_form"))] = text
    if not located:
        located[field(key, "_form")] = exc.message
    return _again(name, key, form, located, values, exc.status)


def _again(name: str, key: str, form: str, errors: dict, values: dict, status: int):
    g.role_template_form = {"key": key, "form": form, "errors": errors, "values": values}
    return module_pages._page(name, status=status)


def _done(name: str, key: str, what: str):
    return redirect(url_for("web_admin.module_page", name=name, role_template=key, role_template_done=what)
                    + "#role-templates")


@bp.route("/modules/<name>/role-templates/<key>/adopt", methods=["POST"])
@requires(roles.ROLE_MANAGE)
def role_template_adopt(name: str, key: str):
    """Adopt the template as a new role named as typed (``core.roles.adopt``)."""
    ctx = current()
    _template(name, key)
    values = {"name": request.form.get("role_name", "").strip()}
    if not values["name"]:
        return _again(name, key, "adopt", {field(key, "name"): "请填写新角色的名称"}, values, 422)
    if len(values["name"]) > 50:
        return _again(name, key, "adopt", {field(key, "name"): "名称不能超过 50 个字"}, values, 422)
    try:
        roles.adopt(ctx.session, ctx.grants, _host(), ctx.plugins, key, values["name"])
        ctx.session.commit()
    except PinganError as exc:
        return _refused(name, key, "adopt", exc, values, {"name": "name", "key": "name"})
    return _done(name, key, "adopt")


@bp.route("/modules/<name>/role-templates/<key>/extend", methods=["POST"])
@requires(roles.ROLE_MANAGE)
def role_template_extend(name: str, key: str):
    """Add the template's permissions to each role checked (``core.roles.extend``): all or none."""
    ctx = current()
    _template(name, key)
    raw = request.form.getlist("role_ids")
    values = {"role_ids": raw}
    ids = [parse_int(v, lo=1) for v in raw]
    if not ids:
        return _again(name, key, "extend", {field(key, "roles"): "请至少选择一个角色"}, values, 422)
    if None in ids:
        raise NotFound()
    role_name = None
    try:
        for role_id in dict.fromkeys(ids):
            role = roles.get_role(ctx.session, role_id)
            role_name = role.name
            roles.extend(ctx.session, ctx.grants, _host(), ctx.plugins, role, key)
        ctx.session.commit()
    except PinganError as exc:
        ctx.session.rollback()
        if exc.status >= 500 or exc.status == 404:
            raise
        text = f"“{role_name}”：{exc.message}" if role_name else exc.message
        return _again(name, key, "extend", {field(key, "roles"): text}, values, exc.status)
    return _done(name, key, "extend")
