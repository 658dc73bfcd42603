"""/admin/org-units — the org tree editor: the tree of the units you manage, a unit's page
with its forms (rename, add a unit below, move, retire) and the import of new units from an
Excel sheet with each row's errors.

The same rules as ``/api/org-units``: its request schemas check the form, ``core.orgtree``
does the change (levels, retired parents, moving into one's own subtree …), and
``core.org_import`` checks a sheet row by row before writing anything. A unit outside the
user's subtrees is the 404 page.
"""
from __future__ import annotations

import io

from flask import redirect, render_template, request, send_file, url_for
from sqlalchemy import func, select

from core import org_import, orgtree
from core.api.org_units import OrgUnitCreateSchema, OrgUnitMoveSchema, OrgUnitUpdateSchema
from core.authz import get_or_404
from core.errors import PinganError
from core.ledgers import FileTooLarge, MAX_IMPORT_BYTES
from core.models import OrgLevel, OrgUnit
from core.request import current, requires
from core.web.admin import bp, error_fields, form_with_errors, scope_units, section

MANAGE = "core.org_unit.manage"
section(10, "web_admin.org_tree", MANAGE, "组织架构", "Org tree")


def _levels(session) -> list[OrgLevel]:
    return list(session.scalars(select(OrgLevel).order_by(OrgLevel.rank)))


@bp.route("/org-units")
@requires(MANAGE)
def org_tree():
    ctx = current()
    show_retired = request.args.get("retired") == "1"
    units = scope_units(ctx.session, ctx.grants, MANAGE, active_only=not show_retired)
    levels = {lv.key: lv.name for lv in _levels(ctx.session)}
    query = (request.args.get("q") or "").strip()[:50]
    found = _matching(units, query) if query else None
    shown = units if found is None else [u for u in units if u.id in found["shown"]]
    children: dict[int | None, list[OrgUnit]] = {}
    ids = {u.id for u in shown}
    for u in shown:  # in tree order already: each list of children keeps it
        children.setdefault(u.parent_id if u.parent_id in ids else None, []).append(u)
    return render_template("admin/org_tree.html", children=children, levels=levels, show_retired=show_retired,
                           query=query, found=found, total=len(units))


def _matching(units: list[OrgUnit], query: str) -> dict:
    """The units whose name or code holds ``query`` and, to show where they are, their ancestors."""
    needle = query.casefold()
    hits = {u.id for u in units if needle in u.name.casefold() or needle in (u.code or "").casefold()}
    shown = set(hits)
    for u in units:
        if u.id in hits:
            shown.update(orgtree.path_ids(u.path))
    return {"hits": hits, "shown": shown}


def _unit_page(unit: OrgUnit, errors: dict | None = None, values: dict | None = None, status: int = 200,
               done: str | None = None):
    ctx = current()
    s = ctx.session
    levels = _levels(s)
    rank = {lv.key: lv.rank for lv in levels}
    children = sorted(s.scalars(select(OrgUnit).where(OrgUnit.parent_id == unit.id)), key=orgtree.sibling_key)
    targets = [u for u in scope_units(s, ctx.grants, MANAGE)
               if not u.path.startswith(unit.path) and rank.get(u.level, -1) < rank.get(unit.level, 0)
               and u.id != unit.parent_id]
    below = s.scalar(select(func.count()).select_from(OrgUnit).where(orgtree.within(unit.path))) - 1
    return render_template("admin/org_unit.html", unit=unit, ancestors=orgtree.ancestors(s, unit), children=children,
                           levels=levels, child_levels=[lv for lv in levels if lv.rank > rank.get(unit.level, 0)],
                           level_names={lv.key: lv.name for lv in levels}, targets=targets, below=below,
                           errors=errors or {}, values=values or {}, done=done), status


def _unit(unit_id: int) -> OrgUnit:
    ctx = current()
    return get_or_404(ctx.session, ctx.grants, OrgUnit, unit_id, MANAGE)


@bp.route("/org-units/<int:unit_id>")
@requires(MANAGE)
def org_unit(unit_id: int):
    return _unit_page(_unit(unit_id), done=request.args.get("done"))


def _apply(unit: OrgUnit, form_id: str, change, values: dict):
    """Run ``change()``; commit and come back to the page, or show its error at the form (nothing saved)."""
    ctx = current()
    try:
        target = change()
        ctx.session.commit()
    except PinganError as exc:
        ctx.session.rollback()
        if exc.status not in (409, 422):
            raise
        return _unit_page(_unit(unit.id), error_fields(exc, form_id + "."), {form_id: values}, exc.status)
    return redirect(url_for("web_admin.org_unit", unit_id=(target or unit).id, done=form_id))


@bp.route("/org-units/<int:unit_id>/rename", methods=["POST"])
@requires(MANAGE)
def org_unit_rename(unit_id: int):
    unit = _unit(unit_id)
    values = {"name": request.form.get("name", "").strip(), "code": request.form.get("code", "").strip()}
    data, errors = form_with_errors(OrgUnitUpdateSchema(), {"name": values["name"], "code": values["code"] or None},
                             "rename.")
    if errors:
        return _unit_page(unit, errors, {"rename": values}, 422)

    def change():
        for key, value in data.items():
            setattr(unit, key, value)
        current().session.flush()
    return _apply(unit, "rename", change, values)


@bp.route("/org-units/<int:unit_id>/children", methods=["POST"])
@requires(MANAGE)
def org_unit_add(unit_id: int):
    unit = _unit(unit_id)
    values = {k: request.form.get(k, "").strip() for k in ("name", "level", "code")}
    data, errors = form_with_errors(OrgUnitCreateSchema(), {"parent_id": unit.id, "name": values["name"],
                                                     "level": values["level"], "code": values["code"] or None}, "child.")
    if errors:
        return _unit_page(unit, errors, {"child": values}, 422)
    return _apply(unit, "child", lambda: orgtree.create_unit(current().session, parent=unit, name=data["name"],
                                                              level=data["level"], code=data["code"]), values)


@bp.route("/org-units/<int:unit_id>/move", methods=["POST"])
@requires(MANAGE)
def org_unit_move(unit_id: int):
    unit = _unit(unit_id)
    values = {"parent_id": request.form.get("parent_id", "").strip()}
    data, errors = form_with_errors(OrgUnitMoveSchema(), {"parent_id": values["parent_id"] or None}, "move.")
    if errors:
        return _unit_page(unit, errors, {"move": values}, 422)
    ctx = current()
    parent = get_or_404(ctx.session, ctx.grants, OrgUnit, data["parent_id"], MANAGE)
    return _apply(unit, "move", lambda: orgtree.move_unit(ctx.session, unit, parent), values)


@bp.route("/org-units/<int:unit_id>/retire", methods=["POST"])
@requires(MANAGE)
def org_unit_retire(unit_id: int):
    unit = _unit(unit_id)
    return _apply(unit, "retire", lambda: orgtree.retire_unit(current().session, unit), {})


# --- import from Excel ------------------------------------------------------------------------

@bp.route("/org-units/import", methods=["GET", "POST"])
@requires(MANAGE)
def org_import_page():
    ctx = current()
    if request.method == "GET":
        return render_template("admin/org_import.html", columns=org_import.COLUMNS, rows=[], error=None,
                               created=None)
    upload = request.files.get("file")
    error, rows, status = None, [], 422
    if upload is None or not upload.filename:
        error = "请选择要导入的 Excel 文件"
    else:
        data = upload.stream.read(MAX_IMPORT_BYTES + 1)
        if len(data) > MAX_IMPORT_BYTES:
            error, status = FileTooLarge.message, 413
        else:
            try:
                created = org_import.import_units(ctx.session, ctx.grants, MANAGE, io.BytesIO(data))
                ctx.session.commit()
                return render_template("admin/org_import.html", columns=org_import.COLUMNS, rows=[], error=None,
                                       created=created), 201
            except org_import.ImportRejected as exc:
                ctx.session.rollback()
                error, rows = exc.message, exc.rows
            except PinganError as exc:
                ctx.session.rollback()
                if exc.status >= 500:
                    raise
                error, status = exc.message, exc.status
    return render_template("admin/org_import.html", columns=org_import.COLUMNS, rows=rows, error=error,
                           created=None), status


@bp.route("/org-units/import/template.xlsx")
@requires(MANAGE)
def org_import_template():
    return send_file(io.BytesIO(org_import.template()), as_attachment=True, download_name="org_units.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
