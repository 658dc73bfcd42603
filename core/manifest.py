"""A plugin's manifest: one declaration for what most plugins contribute (issue 16, item 4).

Instead of a dozen one-line hook implementations, a plugin's ``__init__.py`` declares::

    manifest = Manifest(name="hello", title="问候", permissions=[…], roles=[…], settings=…,
                        migrations="migrations", registers=[GREETINGS], indicators=[…])
    manifest.hooks(globals())

:meth:`Manifest.hooks` puts into the module the ``@hookimpl`` functions of the hooks the manifest
has something for (``pingan_plugin_info`` always), so pluggy registers the module — the
entry point still names the module — exactly as if they were written by hand. The module keeps
its own ``@hookimpl`` functions for every other hook (case types, demo data, case events …);
a hook implemented both ways stops the import with an error (one way to do each thing).

Each :class:`core.registers.Register` contributes its API blueprint (``core.api.registers``), its
page (``core.web.registers``), its menu item and the words of its audit entries; they are built
once, the first time a hook asks for them.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from marshmallow import Schema

from core.audit_labels import AuditLabels
from core.hookspecs import hookimpl
from core.plugins import MenuItem
from core.registers import Register, label_text


def _merge(labels: Sequence[AuditLabels]) -> AuditLabels | None:
    if not labels:
        return None
    out: dict[str, dict] = {"actions": {}, "object_types": {}, "fields": {}, "values": {}}
    for one in labels:
        for kind, merged in out.items():
            merged.update(getattr(one, kind))
    return AuditLabels(**out)


@dataclass
class Manifest:
    """Everything a plugin declares, in one place; see ``docs/plugin_registers.md``.

    - ``name``: the plugin's name (its entry point's name): permission codes, URLs and tables start with it.
    - ``title``, ``title_en``, ``description``, ``version``: the module catalog's entry.
    - ``permissions`` (``Permission``), ``roles`` (``RoleTemplate``), ``menu`` (``MenuItem``),
      ``widgets``, ``jobs`` (``ScheduledJob``), ``indicators``, ``api`` and ``web`` (blueprints):
      returned by their hooks as given.
    - ``settings``: a marshmallow ``Schema`` class, or a dict of fields (a schema refusing unknown keys is made).
    - ``migrations``: the folder of the plugin's Alembic branch, relative to the module calling
      :meth:`hooks` (or absolute).
    - ``registers``: :class:`core.registers.Register` declarations, served by the core.
    - ``letters``: :class:`core.letters.LetterKind` declarations, the kinds of responsibility
      letter the module works with (``docs/letters.md``), served by the core.
    - ``transfers``: :class:`core.transfers.TransferKind` declarations, what the module transfers
      to another county (``docs/transfers.md``), served by the core.
    - ``county_indicators``: ``settings → [Indicator]``, the indicators that follow a county's own
      settings (``pingan_county_indicators``).
    - ``audit_labels``: words for the plugin's own audit actions; the registers' are added.
    """

    name: str
    title: str
    title_en: str = ""
    description: str = ""
    version: str = ""
    permissions: Sequence = ()
    roles: Sequence = ()
    settings: type[Schema] | Mapping[str, Any] | None = None
    menu: Sequence = ()
    migrations: str | Path | None = None
    api: Sequence = ()
    web: Sequence = ()
    indicators: Sequence = ()
    county_indicators: Callable[[dict], Sequence] | None = None   # settings → indicators (pingan_county_indicators)
    widgets: Sequence = ()
    jobs: Sequence = ()
    registers: Sequence[Register] = ()
    letters: Sequence = ()
    transfers: Sequence = ()
    audit_labels: AuditLabels | None = None
    _built: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        names = [r.name for r in self.registers]
        if len(names) != len(set(names)):
            raise ValueError(f"plugin {self.name!r}: two registers share a name")
        if isinstance(self.settings, Mapping):
            # marshmallow refuses unknown keys by default (RAISE), as every settings schema must
            self.settings = Schema.from_dict(dict(self.settings), name=f"{self.name.capitalize()}Settings")

    # --- what the registers bring -------------------------------------------------------------

    def _blueprints(self, kind: str) -> list:
        if kind not in self._built:
            if kind == "api":
                from core.api.registers import blueprint
            else:
                from core.web.registers import blueprint
            self._built[kind] = [blueprint(self.name, r) for r in self.registers]
        return self._built[kind]

    def register_menu(self) -> list[MenuItem]:
        return [MenuItem(key=f"{self.name}.{r.name}", title=label_text(r.title), endpoint=f"{self.name}_{r.name}_web.index",
                         permission=r.read, title_en=r.title[1] if isinstance(r.title, tuple) else "", order=r.menu_order)
                for r in self.registers]

    # --- the hooks ---------------------------------------------------------------------------

    def implementations(self, base: Path | None = None) -> dict[str, Any]:
        """Hook name → implementation, for the hooks this manifest has something for."""
        impls: dict[str, Any] = {
            "pingan_plugin_info": lambda: {"title": self.title, "title_en": self.title_en,
                                           "description": self.description, "version": self.version}}
        lists = {"pingan_permissions": self.permissions, "pingan_default_roles": self.roles,
                 "pingan_dashboard_widgets": self.widgets, "pingan_scheduled_jobs": self.jobs,
                 "pingan_indicators": self.indicators, "pingan_letter_kinds": self.letters,
                 "pingan_transfer_kinds": self.transfers}
        for hook, items in lists.items():
            if items:
                impls[hook] = (lambda items=items: list(items))
        if self.menu or self.registers:
            impls["pingan_menu_items"] = lambda: [*self.menu, *self.register_menu()]
        if self.api or self.registers:
            impls["pingan_api_blueprints"] = lambda: [*self.api, *self._blueprints("api")]
        if self.web or self.registers:
            impls["pingan_web_blueprints"] = lambda: [*self.web, *self._blueprints("web")]
        if self.settings is not None:
            impls["pingan_settings_schema"] = lambda: self.settings
        if self.county_indicators is not None:
            impls["pingan_county_indicators"] = lambda settings: list(self.county_indicators(settings))
        if self.migrations is not None:
            folder = Path(self.migrations)
            folder = folder if folder.is_absolute() or base is None else base / folder
            impls["pingan_migrations_dir"] = lambda: str(folder.resolve())
        labels = [*([self.audit_labels] if self.audit_labels else []), *(r.audit_labels(self.name) for r in self.registers)]
        if labels:
            impls["pingan_audit_labels"] = lambda: _merge(labels)
        return impls

    def hooks(self, namespace: dict) -> None:
        """Put the manifest's hook implementations into a plugin module's ``globals()`` (again: no
        change; a hook the module wrote itself as well: ``ValueError``)."""
        file = namespace.get("__file__")
        for hook, impl in self.implementations(Path(file).parent if file else None).items():
            if getattr(namespace.get(hook), "pingan_manifest", None) is self:
                continue
            if hook in namespace:
                raise ValueError(f"plugin {self.name!r}: {hook} is both in the manifest and a hook of the module; "
                                 "keep one")
            impl.__name__ = impl.__qualname__ = hook
            impl.pingan_manifest = self
            namespace[hook] = hookimpl(impl)
