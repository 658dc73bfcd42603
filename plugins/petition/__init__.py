"""Petition module (信访): petitions from registration to 复核 on the core's case engine.

A built-in plugin, registered like any third-party one: the entry point ``petition`` in the
``pingan.plugins`` group of the platform's pyproject.toml. It imports only ``core.sdk``.
See docs/petition.md.
"""
from __future__ import annotations

from pathlib import Path

from core.sdk import hookimpl

from . import models  # noqa: F401  (the module's tables join the metadata when it loads)
from .permissions import PERMISSIONS, ROLE_TEMPLATES

__version__ = "0.1.0"


@hookimpl
def pingan_plugin_info():
    return {"title": "信访", "title_en": "Petitions (letters and visits)",
            "description": "信访事项登记、转送交办、受理、办理、答复、复查、复核，法定时限和本县时限，重信重访识别。",
            "version": __version__}


@hookimpl
def pingan_permissions():
    return PERMISSIONS


@hookimpl
def pingan_default_roles():
    return ROLE_TEMPLATES


@hookimpl
def pingan_settings_schema():
    from .settings import PetitionSettings
    return PetitionSettings


@hookimpl
def pingan_migrations_dir():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def pingan_case_types():
    from .cases import PETITION
    return [PETITION]


@hookimpl
def pingan_api_blueprints():
    from .api import blp, public_blp
    return [blp, public_blp]


@hookimpl
def pingan_web_blueprints():
    from .web import bp
    return [bp]


@hookimpl
def pingan_indicators():
    from .quotas import indicators
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
def pingan_menu_items():
    from core.sdk import MenuItem
    from .permissions import READ
    return [MenuItem("petition.quotas", "上访指标", "petition_web.quotas_page", READ, "Petition quotas", 40),
            MenuItem("petition.watch", "重点关注", "petition_web.watch_page", READ, "Watch list", 41),
            MenuItem("petition.reports", "信访月报", "petition_web.report_page", READ, "Monthly report", 42)]


@hookimpl
def pingan_audit_labels():
    from .audit_labels import LABELS
    return LABELS


@hookimpl
def pingan_demo_activity(demo):
    from .demo import plan
    plan(demo)
