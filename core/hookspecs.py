"""Hook specifications: everything a Pingan plugin can contribute.

A plugin is a module (or an object) with functions marked ``@hookimpl`` (import it from
``core.sdk``), registered under the entry-point group ``pingan.plugins``. Built-in plugins
in ``plugins/`` are registered exactly the same way, by the ``pingan`` distribution.

Contribution hooks are called once, when the app (or worker, or CLI) starts, for every
*installed* plugin; what they return is recorded as belonging to that plugin. At request
time the core shows a tenant only the contributions of the plugins that tenant has
*enabled*: routes of a disabled plugin answer 404, its menu items and widgets are gone, its
jobs skip the tenant.

Implementations may accept fewer arguments than the spec lists (pluggy passes by name), so
a spec can grow without breaking plugins. Results of non-``firstresult`` hooks are lists,
one item per plugin, in no guaranteed order. ``docs/plugin_hooks.md`` documents each hook
and ``tests/test_docs.py`` checks that it does, signature by signature.
"""
from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("pingan")
hookimpl = pluggy.HookimplMarker("pingan")


# --- identity and configuration -----------------------------------------------------------

@hookspec(firstresult=True)
def pingan_plugin_info() -> dict | None:
    """Describe the plugin for the module catalog.

    Called on each plugin separately (through ``PluginHost.call_for``), at start-up.

    :return: ``{"title": "信访", "title_en": "Petitions", "description": "…",
        "version": "1.0"}``. ``title`` is required and shown to county admins.
    """


@hookspec
def pingan_permissions() -> list:
    """Declare the plugin's permissions.

    Called at start-up. Every code must start with the plugin's name and a dot
    (``petition.case.create``); a code declared twice stops start-up with an error.

    :return: a list of ``sdk.Permission``.
    """


@hookspec
def pingan_default_roles() -> list:
    """Offer role bundles a county can adopt: in ``tenants/<slug>/tenant.toml`` (``template=``)
    when the county is loaded, and, once the county enables the module, by its admin on the
    module's console page or ``POST /api/roles/from-template`` (docs/admin.md).

    Called at start-up.

    :return: a list of ``sdk.RoleTemplate`` (key, name, name_en, permissions). A core role
        with the same key gets the listed permissions added.
    """


@hookspec(firstresult=True)
def pingan_settings_schema() -> Any:
    """The marshmallow schema of the plugin's per-tenant settings.

    Called when settings are validated: ``pingan tenant validate``, loading a tenant, and
    the county admin saving the module's settings. Fields with ``load_default`` give the
    defaults; unknown keys are rejected. Settings that fail validation never take effect,
    and a plugin whose stored settings cannot be read is treated as disabled (fail closed).

    :return: a ``marshmallow.Schema`` subclass, or None for a plugin without settings.
    """


@hookspec(firstresult=True)
def pingan_migrations_dir() -> str | None:
    """Folder of the plugin's Alembic revisions (its own branch, labelled with its name).

    Called by ``pingan db upgrade`` and the migration tests. The first revision must have
    ``down_revision = None``, ``branch_labels = ("<plugin>",)`` and ``depends_on`` naming
    the core revision it needs (``depends_on = "0001_core"``). Tables are named
    ``<plugin>_…`` and derive from ``sdk.TenantModel``.

    :return: an absolute path, or None when the plugin has no tables.
    """


# --- web and API --------------------------------------------------------------------------

@hookspec
def pingan_api_blueprints() -> list:
    """flask-smorest blueprints of the plugin's REST API.

    Called once when the app is created; each blueprint is registered on the API under
    ``/api/<plugin>/…`` (its ``url_prefix`` must start so) and appears in the OpenAPI
    document. Every view must be guarded with ``sdk.requires("<permission>")`` (or
    ``sdk.public``): the app refuses to start otherwise.

    :return: a list of ``flask_smorest.Blueprint``.
    """


@hookspec
def pingan_web_blueprints() -> list:
    """Flask blueprints of the plugin's web pages (templates and static files included).

    Called once when the app is created. Same guard rule as ``pingan_api_blueprints``.

    :return: a list of ``flask.Blueprint``.
    """


@hookspec
def pingan_menu_items() -> list:
    """Entries of the main menu.

    Called at start-up; at request time an item is shown when its plugin is enabled for the
    tenant and the user holds its ``permission``.

    :return: a list of ``sdk.MenuItem`` (key, title, title_en, endpoint, permission, order).
    """


@hookspec
def pingan_dashboard_widgets() -> list:
    """Widgets of the home dashboard.

    Called at start-up; shown like menu items. ``render(ctx)`` is called per request with an
    ``sdk.RequestContext`` and returns HTML-safe markup or a dict for the JSON dashboard.

    :return: a list of ``sdk.Widget``.
    """


# --- background work ----------------------------------------------------------------------

@hookspec
def pingan_scheduled_jobs() -> list:
    """Periodic jobs.

    Called by the worker at start-up. The scheduler enqueues each job once per slot of
    ``every_minutes`` for every tenant that has the plugin enabled, with a job id unique per
    (job, tenant, slot) so a slot is never run twice. The function receives ``tenant_id``
    only and runs with that tenant bound.

    :return: a list of ``sdk.ScheduledJob`` (name, func, every_minutes).
    """


# --- data ---------------------------------------------------------------------------------

@hookspec
def pingan_demo_data(session: Any, tenant: Any, settings: dict) -> None:
    """Add the plugin's demo records to a tenant being loaded with ``--demo``.

    Called by ``pingan tenant load --demo`` and ``pingan demo`` after the org tree, users and
    roles exist, inside the loading transaction with the tenant bound.

    :param session: the SQLAlchemy session to add rows to.
    :param tenant: the ``Tenant`` being loaded.
    :param settings: the plugin's validated settings for this tenant.
    """


@hookspec
def pingan_indicators() -> list:
    """Figures the scoring module can use in a county's rubric.

    Called at start-up. ``compute(session, unit_id, period_start, period_end)`` returns a
    number for one org unit's subtree and period, with the tenant bound.

    :return: a list of ``sdk.Indicator`` (key, title, title_en, unit, compute).
    """


@hookspec
def pingan_county_indicators(settings: dict) -> list:
    """Indicators that follow a county's own settings: one per item the county declares (the
    joint module's: one per mechanism of the county's "五联").

    Called whenever a county's indicators are listed (``sdk.county_indicators``), with the
    plugin's validated settings for the bound county. The same ``sdk.Indicator`` as
    ``pingan_indicators``; keys start with the plugin's name and are stable while the setting is
    (a rubric names them: an item the county removes no longer scores).

    :param settings: the plugin's settings for the bound county.
    :return: a list of ``sdk.Indicator``.
    """


# --- cases, notifications, documents ----------------------------------------------------

@hookspec
def pingan_case_types() -> list:
    """Declare the plugin's case types: states, transitions, deadline rules, number format.

    Called at start-up; each declaration is checked (``CaseType.check``) and start-up stops
    with a message naming the problem. Every key must be the plugin's name or start with it
    and a dot (``petition``, ``petition.visit``). The core stores the cases, enforces the
    workflow and keeps the timeline; the plugin keeps its own fields in its own tables,
    written in ``CaseType.on_register`` and ``Transition.after``. A county sees the cases of
    a type only while the type's plugin is enabled for it.

    :return: a list of ``sdk.CaseType``.
    """


@hookspec
def pingan_case_event(session: Any, case: Any, event: Any) -> None:
    """React to something that happened on a case (registered, diverted, overdue, a transition …).

    Called inside the transaction that recorded the event, after the event row is added,
    for every plugin the county has enabled (not only the case type's own plugin). Raising
    aborts the whole act. Keep it short; schedule slow work with ``sdk.outbox_add``.

    :param session: the SQLAlchemy session of the act.
    :param case: the ``Case``.
    :param event: the ``CaseEvent`` (``kind``, ``from_state``, ``to_state``, ``data`` …).
    """


@hookspec
def pingan_notification_channels() -> list:
    """Channels beyond the inbox and e-mail through which notifications go out (SMS …).

    Called at start-up. For a county that enabled the plugin, every new notification is
    delivered through each channel by a background job; ``send`` raising counts as a
    failed attempt and is retried a bounded number of times.

    :return: a list of ``sdk.NotificationChannel`` (key, title, send).
    """


@hookspec
def pingan_document_templates() -> list:
    """Templates of official documents (notices, agreements, letters) rendered to PDF.

    Called at start-up. Keys start with the plugin's name and a dot. ``sdk.render_pdf``
    renders one with the given context; see ``docs/plugins.md``.

    :return: a list of ``sdk.DocumentTemplate``.
    """


@hookspec
def pingan_letter_kinds() -> list:
    """Kinds of responsibility letter (责任书) the module works with, served by the core.

    Called at start-up. Every key is ``<plugin>.<name>``; a declaration the core cannot serve
    (a key outside the plugin's prefix, a key declared twice, no title or text, an unknown
    party kind or placeholder) stops start-up with a message naming it. A county sees the
    letters of a kind only while its module is enabled; the core keeps the letters, their
    page, API, PDF and reminders (``docs/letters.md``). ``Manifest(letters=…)`` returns them.

    :return: a list of ``sdk.LetterKind`` (key, title, paragraphs, title_en, parties).
    """


@hookspec
def pingan_transfer_kinds() -> list:
    """What the module transfers to another county of the platform (跨县移交), served by the core.

    Called at start-up. Every key is ``<plugin>.<name>`` and names a permission the plugin
    declares; a declaration the core cannot serve stops start-up with a message naming it. The
    core keeps the requests of both counties, their inbox page and API, and the relay that
    brings the payload across only once the receiving county accepts (``docs/transfers.md``).
    ``Manifest(transfers=…)`` returns them.

    :return: a list of ``sdk.TransferKind``.
    """


# --- the audit log ------------------------------------------------------------------------

@hookspec(firstresult=True)
def pingan_audit_labels() -> Any:
    """Words for the plugin's audit entries, shown by the county admin's audit viewer.

    Called at start-up, on each plugin separately (``PluginHost.call_for``), for every installed
    plugin (a county's old entries keep their words after it switches the module off). The
    viewer shows an action, object type, field or coded value by its label; the plugin's
    entries without one show as "<module title>：其他操作" and its unlabelled fields are only
    counted. Keys outside the plugin's own prefix stop start-up (``core.audit_labels.check``).

    :return: an ``sdk.AuditLabels`` (``actions``, ``object_types``, ``fields``, ``values``), or
        None.
    """


# --- the demo county --------------------------------------------------------------------------

@hookspec
def pingan_demo_activity(demo: Any) -> None:
    """Plan the module's share of a year of work in the demo county.

    Called by ``pingan demo`` once, when it creates the demo county, after the modules are
    switched on: on each plugin the county enabled, one at a time, in name order. Never by
    ``pingan tenant load`` or in production.

    :param demo: an ``sdk.DemoActivity`` for this plugin: its own seeded ``random``, the year
        (``start``, ``end``), its share of the volume (``volume``: about how many cases),
        ``every_state``, the county's units, accounts and residents, and ``act(when, username,
        func, …)`` to plan an act. The core plays every module's acts in time order, each at
        its moment (the clock moved there) as its user; inside an act ``demo.work()`` and the
        core's acts (``demo.register``, ``demo.transition`` …) act as that user.
    :return: None.
    """
