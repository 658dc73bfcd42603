"""pingan-visits: the reference plugin (走访问候). Thin hook implementations only.

Registered by ``pyproject.toml`` under the entry-point group ``pingan.plugins`` as
``visits``; installed is not enabled — a county switches it on at ``PUT /api/modules/visits``.
Every hook of ``core/hookspecs.py`` is implemented here so this package is the
reference for every hook and the plugin the platform's tests load. A new module of the
usual shape starts from ``examples/pingan-hello`` instead (a register in ~150 lines).
"""
from __future__ import annotations

from pathlib import Path

from core.sdk import AuditLabels, Indicator, MenuItem, ScheduledJob, Widget, hookimpl

from . import models  # noqa: F401  (the plugin's tables join the metadata when the plugin loads)
from .permissions import PERMISSIONS, READ, ROLE_TEMPLATES

__version__ = "1.0.0"


@hookimpl
def pingan_plugin_info():
    return {"title": "走访问候（参考模块）", "title_en": "Visits and greetings (reference)",
            "description": "插件参考模块：实现每一个钩子——向辖区内的群众发送问候并统计数量，登记走访案件。", "version": __version__}


@hookimpl
def pingan_permissions():
    return PERMISSIONS


@hookimpl
def pingan_default_roles():
    return ROLE_TEMPLATES


@hookimpl
def pingan_settings_schema():
    from .settings import VisitsSettings
    return VisitsSettings


@hookimpl
def pingan_migrations_dir():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def pingan_api_blueprints():
    from .api import blp
    return [blp]


@hookimpl
def pingan_web_blueprints():
    from .views import bp
    return [bp]


@hookimpl
def pingan_menu_items():
    return [MenuItem(key="visits", title="问候", title_en="Greetings", endpoint="visits_web.index",
                     permission=READ, order=900)]


@hookimpl
def pingan_dashboard_widgets():
    from .widgets import latest_greetings
    return [Widget(key="visits.latest", title="最新问候", title_en="Latest greetings", permission=READ,
                   render=latest_greetings, order=900,
                   labels={"total": ("问候总数", "Greetings"), "latest": ("最新一条", "Newest")})]


@hookimpl
def pingan_scheduled_jobs():
    from .jobs import count_greetings
    return [ScheduledJob(name="count_greetings", func=count_greetings, every_minutes=60)]


@hookimpl
def pingan_demo_data(session, settings):
    from .demo import add_demo_greetings
    add_demo_greetings(session, settings)


@hookimpl
def pingan_case_types():
    from .cases import VISIT
    return [VISIT]


@hookimpl
def pingan_case_event(session, case, event):
    # A plugin may react to any case's events in its county; this one only logs overdue visits.
    if case.case_type == "visits.visit" and event.kind == "overdue":
        import logging
        logging.getLogger("pingan.visits").info("visit %s is overdue", case.number)


@hookimpl
def pingan_indicators():
    from .indicators import greetings_sent
    return [Indicator(key="visits.greetings_sent", title="发送问候数", title_en="Greetings sent", unit="条",
                      compute=greetings_sent)]


@hookimpl
def pingan_document_templates():
    from .documents import VISIT_NOTICE
    return [VISIT_NOTICE]


@hookimpl
def pingan_audit_labels():
    return AuditLabels(
        object_types={"visits_greeting": ("问候", "Greeting"), "visits_tally": ("问候统计", "Greeting count"),
                      "visits_visit": ("走访记录", "Visit")},
        fields={"recipient": ("问候对象", "Recipient"), "message": ("问候语", "Message"),
                "greetings": ("问候数", "Greetings"), "counted_at": ("统计时间", "Counted at"), "visit_kind": ("走访方式", "Kind of visit"),
                "result": ("走访结果", "Result")},
        values={"visits_visit.visit_kind": {"home": ("上门走访", "home visit"), "phone": ("电话回访", "phone call")}})


@hookimpl
def pingan_demo_activity(demo):
    from .demo_activity import plan
    plan(demo)
