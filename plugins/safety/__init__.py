"""Safety module (安全隐患排查治理): places to inspect, checklist templates, inspections from a
phone, hazards as cases of the core engine with the rectification notice, re-inspection and
listed supervision, and incident reports (POLICY-RULES SAF-1 … SAF-5, MED-6, JNT-3).

A built-in plugin registered like any other (entry point ``safety`` in the platform's
pyproject.toml); it imports only ``core.sdk``. See docs/safety.md.
"""
from __future__ import annotations

from core.sdk import Manifest, MenuItem, hookimpl

from . import models  # noqa: F401  (the module's tables join the metadata when it loads)
from .audit_labels import LABELS
from .permissions import INCIDENT, PERMISSIONS, READ, ROLE_TEMPLATES
from .indicators import INDICATORS
from .letters import SAFETY_LETTER
from .settings import SafetySettings


manifest = Manifest(
    name="safety", title="安全隐患排查治理", title_en="Safety screening", version="0.1.0",
    description="检查场所登记、检查表、手机检查、隐患整改通知书与复查销号、逾期挂牌督办、事件报告。",
    permissions=PERMISSIONS, roles=ROLE_TEMPLATES, settings=SafetySettings, migrations="migrations", letters=[SAFETY_LETTER], indicators=INDICATORS,
    audit_labels=LABELS,
    menu=[MenuItem("safety.places", "检查场所", "safety_web.places_page", READ, "Places", 60),
          MenuItem("safety.inspect", "安全检查", "safety_web.inspect_page", READ, "Inspections", 61),
          MenuItem("safety.checklists", "检查表", "safety_web.checklists_page", READ, "Checklists", 62),
          MenuItem("safety.incidents", "事件报告", "safety_web.incidents_page", INCIDENT, "Incidents", 63)])
manifest.hooks(globals())


@hookimpl
def pingan_case_types():
    from .hazards import HAZARD
    return [HAZARD]


@hookimpl
def pingan_document_templates():
    from .documents import TEMPLATES
    return TEMPLATES


@hookimpl
def pingan_case_event(session, case, event):
    from .hazards import on_case_event
    on_case_event(session, case, event)


@hookimpl
def pingan_api_blueprints():
    from .api import blp
    return [blp]


@hookimpl
def pingan_web_blueprints():
    from .web import bp
    return [bp]


@hookimpl
def pingan_demo_activity(demo):
    from .demo import plan
    plan(demo)
