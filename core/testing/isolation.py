"""The isolation matrix, generated from the URL map: another county's ids answer exactly as ids
that exist nowhere (404), and no list returns another county's rows.

``tests/test_isolation_matrix.py`` runs it over every route of the platform; a plugin runs it
over its own routes with :func:`assert_plugin_isolation`.
"""
from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from core.testing.counties import COUNTY_ADMIN, TenantInfo

MISSING_ID = 8_999_999_999_999
"""An id no row has: the answer another county's id must look exactly like."""


def upload(content: bytes = b"%PDF-1.4\n%%EOF\n", name: str = "a.pdf") -> dict:
    """Arguments of a multipart upload request (a new stream each time: a stream is read once)."""
    return {"content_type": "multipart/form-data", "data": {"file": (io.BytesIO(content), name)}}


def first_id(db, tenant: TenantInfo, table: str) -> int | None:
    """The lowest id of ``tenant``'s rows in ``table``."""
    from sqlalchemy import text
    with db.transaction(tenant.id) as s:
        return s.execute(text(f'SELECT id FROM "{table}" WHERE tenant_id = :t ORDER BY id LIMIT 1'),
                         {"t": tenant.id}).scalar()


def all_ids(db, tenant: TenantInfo, tables: set[str] | None = None) -> set[int]:
    """Every id of ``tenant``'s rows in its tenant tables (only ``tables`` if given)."""
    from sqlalchemy import inspect, text

    from core.db import TENANT, Base, table_class
    present = set(inspect(db.engine).get_table_names())
    ids: set[int] = set()
    with db.transaction(tenant.id) as s:
        for table in Base.metadata.sorted_tables:
            if table_class(table) == TENANT and table.name in present and "id" in table.c \
                    and table.name not in ("audit_entry", "audit_head") \
                    and (tables is None or table.name in tables):  # audit: per-tenant positions, not ids
                ids |= set(s.execute(text(f'SELECT id FROM "{table.name}" WHERE tenant_id = :t'),
                                     {"t": tenant.id}).scalars())
    return ids


def api_rules(app, prefix: str = "/api/") -> Iterator:
    """The URL rules under ``prefix`` (the OpenAPI document and its page left out)."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefix) and rule.rule not in ("/api/openapi.json", "/api/docs"):
            yield rule


def items_of(body) -> list:
    """The rows of a list answer (``{"items": [...]}`` or a bare list)."""
    if isinstance(body, dict) and "items" in body:
        return body["items"]
    return body if isinstance(body, list) else []


@dataclass
class Matrix:
    """What the id rules are about. ``id_tables``: rule → the table whose id fills its object
    argument; ``more_id_tables``: further id arguments → their table; ``fixed_args``: other
    arguments → a value; ``not_object_ids``: rules whose argument is no object id; ``bodies``:
    (method, rule) → a valid body of a write (``"FILE"``: a multipart upload)."""
    id_tables: dict[str, str]
    more_id_tables: dict[str, str] = field(default_factory=dict)
    fixed_args: dict[str, str] = field(default_factory=dict)
    not_object_ids: set[str] = field(default_factory=set)
    bodies: dict[tuple[str, str], object] = field(default_factory=dict)

    def request_kw(self, method: str, rule: str, body=None) -> dict:
        body = self.bodies.get((method, rule)) if body is None else body
        if body == "FILE":
            return upload()
        return {"json": body if body is not None else {}} if method in ("POST", "PATCH", "PUT") else {}


def id_rule_leaks(app, db, client, owner: TenantInfo, rules, matrix: Matrix,
                  body_for=None) -> tuple[int, list[str], list[str]]:
    """Every method of every id rule, as ``client``, with the id of ``owner``'s object and with
    :data:`MISSING_ID`: the two answers must be the same 404. Returns (requests checked, rules
    the matrix does not know, leaks). ``body_for(method, rule)`` may replace a body."""
    unknown, checked, leaks = [], 0, []
    for rule in rules:
        if not rule.arguments or rule.rule in matrix.not_object_ids:
            continue
        table = matrix.id_tables.get(rule.rule)
        if table is None:
            unknown.append(rule.rule)
            continue
        own_id = first_id(db, owner, table)
        if own_id is None:
            unknown.append(f"{rule.rule} (county {owner.slug} has no {table} row: create one first)")
            continue
        url, url_missing = (fill(db, owner, rule, matrix, value) for value in (own_id, MISSING_ID))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            body = body_for(method, rule.rule) if body_for else None
            got = client.request(method, url, **matrix.request_kw(method, rule.rule, body))
            missing = client.request(method, url_missing, **matrix.request_kw(method, rule.rule, body))
            checked += 1
            if got.status_code != 404 or got.get_json() != missing.get_json():
                leaks.append(f"{method} {rule.rule}: {got.status_code} {got.get_json()} "
                             f"(missing id: {missing.status_code})")
    return checked, unknown, leaks


def list_leaks(client, rules, foreign_ids: set[int]) -> tuple[int, list[str]]:
    """Every list rule (GET, no argument), as ``client``: no row whose id is in ``foreign_ids``.
    Returns (lists checked, leaks); a 5xx is a leak too."""
    checked, leaks = 0, []
    for rule in rules:
        if rule.arguments or "GET" not in rule.methods:
            continue
        r = client.get(rule.rule + "?limit=200")
        if r.status_code >= 500:
            leaks.append(f"GET {rule.rule}: {r.status_code}")
            continue
        if r.status_code != 200:
            continue
        found = {i.get("id") for i in items_of(r.get_json()) if isinstance(i, dict)} & foreign_ids
        checked += 1
        if found:
            leaks.append(f"GET {rule.rule}: {sorted(found)[:5]}")
    return checked, leaks


def out_of_scope_leaks(db, client, tenant: TenantInfo, rules, matrix: Matrix,
                       ids: dict[str, int]) -> tuple[int, list[str]]:
    """As ``client`` (a user of ``tenant`` who must not see the objects ``ids`` names, table →
    id): every method of every rule about one of them answers as for an id that exists
    nowhere (404, or the same 403 when the user lacks the permission), and no list returns it.
    Returns (requests checked, leaks)."""
    rules = list(rules)
    checked, leaks = 0, []
    for rule in rules:
        table = matrix.id_tables.get(rule.rule)
        if not rule.arguments or table not in ids or rule.rule in matrix.not_object_ids:
            continue
        url, url_missing = (fill(db, tenant, rule, matrix, value) for value in (ids[table], MISSING_ID))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            got = client.request(method, url, **matrix.request_kw(method, rule.rule))
            missing = client.request(method, url_missing, **matrix.request_kw(method, rule.rule))
            checked += 1
            if got.status_code not in (403, 404) or (got.status_code, got.get_json()) != \
                    (missing.status_code, missing.get_json()):
                leaks.append(f"{method} {rule.rule}: {got.status_code} (missing: {missing.status_code})")
    lists, list_leak = list_leaks(client, rules, set(ids.values()))
    return checked + lists, leaks + list_leak


def guess_id_tables(app, plugin: str, rules) -> dict[str, str]:
    """A plugin's id rules → their tables, by the argument's name: ``<greeting_id>`` →
    ``hello_greeting`` (the plugin's table), ``<case_id>`` → ``case_record``, a core table of
    that name; else by the path segment before it: ``/greetings/<record_id>`` → ``hello_greeting``.
    A declared register's routes take its model's table, whatever their names.
    Rules it cannot place are left out (and reported as unknown)."""
    from core.db import Base
    tables = set(Base.metadata.tables)
    registers = {bp.url_prefix: bp.pingan_table for bp in app.blueprints.values()
                 if getattr(bp, "pingan_table", None) and bp.url_prefix}
    out = {}
    for rule in rules:
        ids = [a for a in rule.arguments if a.endswith("_id")]
        if not ids:
            continue
        owner = next((t for prefix, t in registers.items() if rule.rule.startswith(prefix + "/")), None)
        if owner:
            out[rule.rule] = owner
            continue
        stem = ids[0].removesuffix("_id")
        parts = rule.rule.split("/")
        before = next((parts[i - 1] for i, p in enumerate(parts) if ids[0] in p and i), "")
        for candidate in (f"{plugin}_{stem}", "case_record" if stem == "case" else "", stem,
                          f"{plugin}_{before.removesuffix('s')}", f"{plugin}_{before}"):
            if candidate in tables:
                out[rule.rule] = candidate
                break
    return out


def assert_plugin_isolation(app, plugin: str, county_a: TenantInfo, county_b: TenantInfo, *,
                            id_tables: dict[str, str] | None = None, more_id_tables: dict[str, str] | None = None,
                            fixed_args: dict[str, str] | None = None, bodies: dict | None = None,
                            outsider: str | None = None) -> int:
    """The isolation matrix over the plugin's own routes (``/api/<plugin>/…``).

    With the plugin on in both counties and at least one row of each of its tables in
    ``county_b``: ``county_a``'s county admin (every permission) gets for every method of every
    rule taking an id of ``county_b``'s object exactly the 404 an id that exists nowhere gets,
    and no list of the plugin returns a row of ``county_b``. With ``outsider`` (a username of
    ``county_a``), the same for ``county_a``'s own rows as that user, who must not see them
    (create them outside the user's subtree): the answer is that of a missing id (404, or the
    same 403 when the user lacks the permission). Tables are guessed from argument names
    (:func:`guess_id_tables`); ``id_tables`` names the others. Returns the requests checked.
    """
    from core.app import pingan
    from core.testing.clients import bearer_client
    db = pingan(app).db
    rules = list(api_rules(app, f"/api/{plugin}/")) + [r for r in api_rules(app, f"/api/{plugin}") if
                                                       r.rule == f"/api/{plugin}"]
    assert rules, f"plugin {plugin!r} has no route under /api/{plugin}/"
    matrix = Matrix({**guess_id_tables(app, plugin, rules), **(id_tables or {})}, more_id_tables or {},
                    fixed_args or {}, set(), bodies or {})
    admin_a = bearer_client(app, county_a, COUNTY_ADMIN)
    checked, unknown, leaks = id_rule_leaks(app, db, admin_a, county_b, rules, matrix)
    assert unknown == [], f"rules of {plugin} the matrix cannot place (give id_tables=): {unknown}"
    plugin_tables = {t for t in matrix.id_tables.values()} | {
        name for name in _tables() if name.startswith(f"{plugin}_")}
    lists, list_leak = list_leaks(admin_a, rules, all_ids(db, county_b, plugin_tables))
    leaks += list_leak
    checked += lists
    if outsider:
        ids = {table: own for table in set(matrix.id_tables.values())
               if (own := first_id(db, county_a, table)) is not None}
        scoped, scope_leaks = out_of_scope_leaks(db, bearer_client(app, county_a, outsider), county_a, rules,
                                                 matrix, ids)
        checked += scoped
        leaks += [f"{leak} (as {outsider})" for leak in scope_leaks]
    assert leaks == [], "isolation leaks:\n" + "\n".join(leaks)
    assert checked > 0, f"no route of {plugin} was checked"
    return checked


def _tables() -> set[str]:
    from core.db import Base
    return set(Base.metadata.tables)


def fill(db, tenant: TenantInfo, rule, matrix: Matrix, value: int) -> str:
    """The rule's URL with ``value`` as the id of the object it is about (its one id, or with
    several the one that is not a sub-object's) and ``tenant``'s first rows or fixed values
    for the other arguments."""
    args = rule.arguments
    arg = next((a for a in args if a not in matrix.more_id_tables and a not in matrix.fixed_args), next(iter(args)))
    url = _put(rule.rule, arg, str(value))
    for other in args - {arg}:
        url = _put(url, other, matrix.fixed_args.get(other) or str(first_id(db, tenant, matrix.more_id_tables[other])))
    return url


def _put(url: str, arg: str, value: str) -> str:
    return re.sub(rf"<(?:[^:<>]+:)?{arg}>", value, url)
