"""Mediation module (矛盾纠纷排查调处): screening rounds, tiered mediation, linkage of people's,
administrative and judicial mediation, agreements under the People's Mediation Law, ledgers.

A built-in plugin, registered like any third-party one: the entry point ``mediation`` in the
``pingan.plugins`` group of the platform's pyproject.toml. It imports only ``core.sdk``.
See docs/mediation.md.
"""
from __future__ import annotations

from pathlib import Path

from core.sdk import hookimpl

from . import models  # noqa: F401  (the module's tables join the metadata when it loads)
from .permissions import PERMISSIONS, ROLE_TEMPLATES

__version__ = "0.1.0"


@hookimpl
def pingan_plugin_info():
    return {"title": "矛盾纠纷调解", "title_en": "Dispute mediation",
            "description": "矛盾纠纷排查报送、逐级调处、三调联动、人民调解协议与司法确认、三本台账和统计。",
            "version": __version__}


@hookimpl
def pingan_permissions():
    return PERMISSIONS


@hookimpl
def pingan_default_roles():
    return ROLE_TEMPLATES


@hookimpl
def pingan_settings_schema():
    from .settings import MediationSettings
    return MediationSettings


@hookimpl
def pingan_migrations_dir():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def pingan_case_types():
    from .cases import DISPUTE
    return [DISPUTE]


@hookimpl
def pingan_api_blueprints():
    from .api import blp
    return [blp]


@hookimpl
def pingan_web_blueprints():
    from .web import bp
    return [bp]


@hookimpl
def pingan_indicators():
    from .reports import indicators
    return indicators()


@hookimpl
def pingan_case_event(session, case, event):
    from .cases import on_case_event
    on_case_event(session, case, event)


@hookimpl
def pingan_document_templates():
    from .documents import TEMPLATES
    return TEMPLATES


@hookimpl
def pingan_scheduled_jobs():
    from core.sdk import ScheduledJob
    from .screening import scheduled_check
    return [ScheduledJob(name="screening_check", func=scheduled_check, every_minutes=60)]


@hookimpl
def pingan_menu_items():
    from core.sdk import MenuItem
    from .permissions import READ
    return [MenuItem("mediation.screening", "排查报送", "mediation_web.screening_page", READ, "Screening reports", 50),
            MenuItem("mediation.reports", "调解统计", "mediation_web.report_page", READ, "Mediation statistics", 51),
            MenuItem("mediation.weekly", "结案周报", "mediation_web.weekly_page", READ, "Weekly report", 52),
            MenuItem("mediation.registers", "三本台账", "mediation_web.register_index", READ, "Ledgers", 53)]


@hookimpl
def pingan_audit_labels():
    from .audit_labels import LABELS
    return LABELS


@hookimpl
def pingan_demo_activity(demo):
    from .demo import plan
    plan(demo)
