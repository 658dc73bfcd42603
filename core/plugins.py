"""Finding plugins, collecting what they contribute, and switching them per tenant.

Installed is not enabled: a plugin found on the system does nothing for a tenant until the
tenant's ``tenant_plugin`` row says ``enabled`` and its stored settings validate. Any
failure to read that (database error, settings that no longer validate) counts as
disabled: the plugin fails closed.
"""
from __future__ import annotations

import logging
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy
from marshmallow import Schema, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import hookspecs
from core.db import ProcessCache
from core.authz import CORE_PERMISSIONS, PermissionRegistry

log = logging.getLogger("pingan.plugins")
ENTRY_POINT_GROUP = "pingan.plugins"


@dataclass(frozen=True)
class RoleTemplate:
    key: str
    name: str
    name_en: str = ""
    permissions: tuple[str, ...] = ()


@dataclass(frozen=True)
class MenuItem:
    key: str
    title: str
    endpoint: str
    permission: str
    title_en: str = ""
    order: int = 100


@dataclass(frozen=True)
class Widget:
    key: str
    title: str
    permission: str
    render: Callable[[Any], Any]
    title_en: str = ""
    order: int = 100
    # the labels of a dict ``render`` returns, key → (Chinese, English); the page shows the
    # labelled keys only, in this order — never a key itself
    labels: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    func: Callable[[int], Any]
    every_minutes: int


@dataclass(frozen=True)
class Indicator:
    key: str
    title: str
    compute: Callable[..., float | None]  # None: nothing to measure in the period (a rate of nothing)
    title_en: str = ""
    unit: str = ""
    # optional: the records behind the figure, same arguments as ``compute``; a list of dicts
    # with ``date``, ``title`` and ``unit`` (words, no personal data), ``url`` if the record has a page
    records: Callable[..., list[dict]] | None = None


@dataclass
class Contributions:
    """What one plugin brings, collected once at start-up."""

    name: str
    info: dict = field(default_factory=dict)
    settings_schema: type[Schema] | None = None
    migrations_dir: str | None = None
    api_blueprints: list = field(default_factory=list)
    web_blueprints: list = field(default_factory=list)
    menu_items: list[MenuItem] = field(default_factory=list)
    widgets: list[Widget] = field(default_factory=list)
    jobs: list[ScheduledJob] = field(default_factory=list)
    indicators: list[Indicator] = field(default_factory=list)
    role_templates: list[RoleTemplate] = field(default_factory=list)
    case_types: list = field(default_factory=list)
    channels: list = field(default_factory=list)
    document_templates: list = field(default_factory=list)
    letter_kinds: list = field(default_factory=list)
    transfer_kinds: list = field(default_factory=list)
    audit_labels: Any = None  # core.audit_labels.AuditLabels: words for its audit entries


CORE_ROLE_TEMPLATES: tuple[RoleTemplate, ...] = (
    RoleTemplate("county_admin", "县级管理员", "County administrator",
                 tuple(p.code for p in CORE_PERMISSIONS)),
    RoleTemplate("unit_admin", "单位管理员", "Unit administrator",
                 ("core.org_unit.read", "core.org_unit.manage", "core.member_unit.read", "core.member_unit.manage",
                  "core.network_role.read", "core.network_role.manage", "core.user.read", "core.user.manage",
                  "core.role.read", "core.role_assignment.manage", "core.person.read", "core.person.manage",
                  "core.audit.read", "core.token.use", "core.case.read", "core.case.register", "core.case.divert",
                  "core.case.handle", "core.case.supervise", "core.case.extension.approve", "core.case.export",
                  "core.case.import", "core.letter.read", "core.letter.manage")),
    RoleTemplate("staff", "工作人员", "Staff",
                 ("core.org_unit.read", "core.member_unit.read", "core.network_role.read", "core.person.read",
                  "core.person.manage", "core.token.use", "core.case.read", "core.case.register",
                  "core.case.handle", "core.case.export", "core.letter.read")),
    RoleTemplate("viewer", "只读用户", "Viewer",
                 ("core.org_unit.read", "core.member_unit.read", "core.network_role.read", "core.case.read",
                  "core.letter.read")),
)


class PluginHost:
    """The plugin manager of one running Pingan and everything the plugins contributed."""

    def __init__(self, extra: dict[str, object] | None = None, use_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager("pingan")
        self.pm.add_hookspecs(hookspecs)
        if use_entry_points:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                if self.pm.get_plugin(ep.name) is None:
                    self.pm.register(ep.load(), name=ep.name)
        for name, plugin in (extra or {}).items():
            self.pm.register(plugin, name=name)
        self.pm.check_pending()
        self.names = sorted(n for n, _ in self.pm.list_name_plugin())
        self._event_callers: dict[frozenset, Any] = {}  # enabled plugins → their pingan_case_event
        self.permissions = PermissionRegistry()
        for perm in CORE_PERMISSIONS:
            self.permissions.add(perm, None)
        self.plugins: dict[str, Contributions] = {n: self._collect(n) for n in self.names}
        self.case_types: dict = {}
        self.document_templates: dict = {}
        self.letter_kinds: dict = {}
        self.transfer_kinds: dict = {}
        for name, c in self.plugins.items():
            for tkind in c.transfer_kinds:
                tkind.check(name, self.permissions)
                if tkind.key in self.transfer_kinds:
                    raise ValueError(f"transfer kind {tkind.key!r} declared twice")
                object.__setattr__(tkind, "plugin", name)
                self.transfer_kinds[tkind.key] = tkind
            for kind in c.letter_kinds:
                kind.check(name)
                if kind.key in self.letter_kinds:
                    raise ValueError(f"letter kind {kind.key!r} declared twice")
                object.__setattr__(kind, "plugin", name)
                self.letter_kinds[kind.key] = kind
                from core.letters import signed_indicator
                c.indicators.append(signed_indicator(kind))  # every kind: its letters' signed share
            for ctype in c.case_types:
                if ctype.key in self.case_types:
                    raise ValueError(f"case type {ctype.key!r} declared twice")
                ctype.check(name, self.permissions)
                object.__setattr__(ctype, "plugin", name)
                self.case_types[ctype.key] = ctype
            for tpl in c.document_templates:
                if not tpl.key.startswith(name + ".") or tpl.key in self.document_templates:
                    raise ValueError(f"plugin {name!r}: document template {tpl.key!r} must be unique "
                                     f"and start with '{name}.'")
                self.document_templates[tpl.key] = tpl
        for tpl in self.document_templates.values():
            if getattr(tpl, "case_type", None) and tpl.case_type not in self.case_types:
                raise ValueError(f"document template {tpl.key!r} names an undeclared case type {tpl.case_type!r}")
        self.blueprint_owner: dict[str, str] = {}
        for name, c in self.plugins.items():
            for bp in c.api_blueprints + c.web_blueprints:
                if bp.name in self.blueprint_owner:
                    raise ValueError(f"blueprint {bp.name!r} contributed twice")
                self.blueprint_owner[bp.name] = name

    def call_for(self, plugin: str, hook: str, **kwargs):
        """Call one hook on one plugin only (pluggy's subset caller)."""
        others = [p for n, p in self.pm.list_name_plugin() if n != plugin]
        return self.pm.subset_hook_caller(hook, remove_plugins=others)(**kwargs)

    def _collect(self, name: str) -> Contributions:
        def many(hook: str) -> list:
            out = []
            for result in self.call_for(name, hook):
                out.extend(result or [])
            return out

        c = Contributions(name)
        c.info = self.call_for(name, "pingan_plugin_info") or {}
        if not c.info.get("title"):
            raise ValueError(f"plugin {name!r} must return a title from pingan_plugin_info()")
        for perm in many("pingan_permissions"):
            self.permissions.add(perm, name)
        c.settings_schema = self.call_for(name, "pingan_settings_schema")
        c.migrations_dir = self.call_for(name, "pingan_migrations_dir")
        c.api_blueprints = many("pingan_api_blueprints")
        for bp in c.api_blueprints:
            prefix = getattr(bp, "url_prefix", None) or ""
            if not prefix.startswith(f"/api/{name}"):
                raise ValueError(f"plugin {name!r}: API blueprint {bp.name!r} must live under /api/{name}")
        c.web_blueprints = many("pingan_web_blueprints")
        c.menu_items = many("pingan_menu_items")
        c.widgets = many("pingan_dashboard_widgets")
        c.jobs = many("pingan_scheduled_jobs")
        c.indicators = many("pingan_indicators")
        c.role_templates = many("pingan_default_roles")
        c.case_types = many("pingan_case_types")
        c.channels = many("pingan_notification_channels")
        c.document_templates = many("pingan_document_templates")
        c.letter_kinds = many("pingan_letter_kinds")
        c.transfer_kinds = many("pingan_transfer_kinds")
        from core.audit_labels import check
        c.audit_labels = check(name, self.call_for(name, "pingan_audit_labels"))
        return c

    def case_types_for(self, enabled) -> dict:
        """The case types of the ``enabled`` plugins (a county's), by key."""
        return {k: t for k, t in self.case_types.items() if t.plugin in enabled}

    def case_event(self, session: Session, enabled, case, event) -> None:
        """Call ``pingan_case_event`` on the plugins the county enabled."""
        self._event_caller(enabled)(session=session, case=case, event=event)

    def hears_case_events(self, enabled) -> bool:
        """Whether any plugin the county enabled implements ``pingan_case_event`` (a bulk act
        then builds no event objects to hand it)."""
        return bool(self._event_caller(enabled).get_hookimpls())

    def _event_caller(self, enabled):
        """pluggy's subset caller for the ``enabled`` plugins, made once per set: making it per
        call was 7 % of a 100,000-row import (py-spy). Plugins register only in ``__init__``."""
        key = frozenset(enabled)
        caller = self._event_callers.get(key)
        if caller is None:
            others = [p for n, p in self.pm.list_name_plugin() if n not in key]
            caller = self._event_callers[key] = self.pm.subset_hook_caller("pingan_case_event",
                                                                           remove_plugins=others)
        return caller

    # --- templates and settings -----------------------------------------------------------

    def role_templates(self) -> dict[str, RoleTemplate]:
        """Core role bundles, with plugin templates merged in by key."""
        out = {t.key: t for t in CORE_ROLE_TEMPLATES}
        for c in self.plugins.values():
            for t in c.role_templates:
                if t.key in out:
                    base = out[t.key]
                    out[t.key] = RoleTemplate(base.key, base.name, base.name_en,
                                              tuple(dict.fromkeys(base.permissions + t.permissions)))
                else:
                    out[t.key] = t
        return out

    def validate_settings(self, plugin: str, raw: dict | None) -> dict:
        """Validated settings with defaults filled in; raises ``marshmallow.ValidationError``."""
        schema_cls = self.plugins[plugin].settings_schema
        if schema_cls is None:
            if raw:
                raise ValidationError({"_schema": ["该模块没有可配置的参数"]})
            return {}
        return schema_cls().load(raw or {})

    # --- per tenant -----------------------------------------------------------------------

    def visible(self, ctx, kind: str) -> list:
        """Menu items or widgets (``kind``) of the plugins ``ctx``'s county enabled, that its
        user may see (holds the item's permission somewhere), in display order."""
        items = [item for name in ctx.plugins for item in getattr(self.plugins[name], kind)
                 if ctx.user is not None and ctx.grants.has(item.permission)]
        return sorted(items, key=lambda i: (i.order, i.key))

    def dashboard(self, ctx) -> list[dict]:
        """Each visible widget rendered for ``ctx``; one that fails shows as unavailable."""
        out = []
        for widget in self.visible(ctx, "widgets"):
            try:
                data, ok = widget.render(ctx), True
            except Exception:  # noqa: BLE001 — one plugin's widget must not break the home page
                log.exception("widget %s failed", widget.key)
                ctx.session.rollback()
                data, ok = None, False
            out.append({"key": widget.key, "title": widget.title, "title_en": widget.title_en,
                        "data": data, "ok": ok, "labels": widget.labels})
        return out

    def enabled_cached(self, session: Session, tenant_id: int) -> dict[str, dict]:
        """``enabled``, kept for a few seconds per process (the web request path).

        An entry is dropped as soon as this process commits a write to ``tenant_plugin``
        (``core.db.config_generation``) and after ``core.db.CACHE_SECONDS``: a module switched
        on or off through the API takes effect on the next request here, and within seconds
        in the other processes. A failed read is not kept (the next request reads again).
        Jobs, the sweep and notifications call ``enabled`` and always read.
        """
        from core.db import config_generation
        key = (id(self), id(session.get_bind()), tenant_id)
        blob = _ENABLED.get(key)
        if blob is None:
            generation = config_generation()
            hit, ok = self._read_enabled(session, tenant_id)
            if not ok:
                return hit
            blob = pickle.dumps(hit, pickle.HIGHEST_PROTOCOL)
            _ENABLED.put(key, blob, generation)
        # a copy the request may change: kept pickled, as ``copy.deepcopy`` of eight modules'
        # settings took 2 ms of every request
        return pickle.loads(blob)

    def forget_enabled(self) -> None:
        """Drop this process's cached switches (tests that break the database on purpose)."""
        _ENABLED.clear()

    def enabled(self, session: Session, tenant_id: int) -> dict[str, dict]:
        """Plugins enabled for the bound tenant → their validated settings. Fails closed."""
        return self._read_enabled(session, tenant_id)[0]

    def _read_enabled(self, session: Session, tenant_id: int) -> tuple[dict[str, dict], bool]:
        """(enabled plugins → settings, whether the switches could be read)."""
        from core.models import TenantPlugin
        try:
            rows = session.execute(select(TenantPlugin.plugin, TenantPlugin.settings)
                                   .where(TenantPlugin.enabled.is_(True))).all()
        except Exception:  # noqa: BLE001 — any failure to read means "no plugin is on"
            log.exception("could not read enabled plugins of tenant %s; all plugins off", tenant_id)
            session.rollback()
            return {}, False
        out: dict[str, dict] = {}
        for name, raw in rows:
            if name not in self.plugins:
                continue
            try:
                out[name] = self.validate_settings(name, raw)
            except ValidationError as exc:
                log.error("settings of plugin %s for tenant %s do not validate (%s); plugin off",
                          name, tenant_id, exc.messages)
        return out, True


_ENABLED = ProcessCache()  # (host, tenant id) → enabled plugins and settings (``enabled_cached``)


def county_indicators(session: Session) -> dict[str, Indicator]:
    """The indicators of the modules the bound county has switched on, by key (what the scoring
    module may score with) — each module's own and those its county settings make
    (``pingan_county_indicators``) — in a web request or in a background job alike."""
    from flask import has_request_context
    if has_request_context():
        from core.cases.timeline import request_work
        w = request_work()
        host, enabled = w.host, w.enabled
    else:
        from core.db import current_tenant_id
        from core.jobs import worker_state
        host = worker_state().plugins
        enabled = host.enabled(session, current_tenant_id())
    out: dict[str, Indicator] = {}
    for name in enabled:
        if name not in host.plugins:
            continue
        out.update((i.key, i) for i in host.plugins[name].indicators)
        for found in host.call_for(name, "pingan_county_indicators", settings=enabled[name] or {}):
            for i in found or []:
                if not i.key.startswith(f"{name}."):
                    raise ValueError(f"plugin {name!r}: indicator {i.key!r} must start with {name + '.'!r}")
                out.setdefault(i.key, i)
    return out


def module_settings(session: Session, plugin: str) -> dict:
    """The bound county's validated settings of ``plugin`` ({} when it is switched off), in a
    web request or in a background job alike."""
    from flask import has_request_context
    if has_request_context():
        from core.cases.timeline import request_work
        return request_work().enabled.get(plugin) or {}
    from core.db import current_tenant_id
    from core.jobs import worker_state
    return worker_state().plugins.enabled(session, current_tenant_id()).get(plugin) or {}
