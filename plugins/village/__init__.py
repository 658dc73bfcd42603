"""Village affairs module (村务“五事”, seed 001 doc 5): cadres ask, people speak, collective
deliberation, open handling and the two-ballot evaluation (POLICY-RULES VIL-1 … VIL-5).

A built-in plugin, registered like any third-party one: the entry point ``village`` in the
``pingan.plugins`` group of the platform's pyproject.toml. It imports only ``core.sdk``.
See docs/village.md.
"""
from __future__ import annotations

from core.sdk import Indicator, Manifest, MenuItem, hookimpl

from . import models  # noqa: F401  (the module's tables join the metadata when it loads)
from .api import blp, public_blp
from .audit_labels import LABELS
from .evaluations import below_threshold, rectifications_open
from .permissions import PERMISSIONS, READ, ROLE_TEMPLATES
from .opinions import POINTS as OPINION_POINTS
from .opinions_api import blp as opinions_blp, public_blp as opinions_public_blp
from .opinions_web import bp as opinions_bp
from .registers import CONTACTS, HEARINGS
from .settings import VillageSettings
from .web import bp

__version__ = "0.1.0"

manifest = Manifest(
    name="village", title="村务五事", title_en="Village affairs",
    description="干部问事、群众说事、集中议事、公开办事、两票评事：村级项目的提议、两委讨论、村民（代表）会议表决，"
                "村务公开页，年度两票评议和限期整改。",
    version=__version__, permissions=PERMISSIONS, roles=ROLE_TEMPLATES, settings=VillageSettings,
    migrations="migrations", api=[blp, public_blp, opinions_blp, opinions_public_blp], web=[bp, opinions_bp],
    registers=[CONTACTS, HEARINGS, OPINION_POINTS],
    menu=[MenuItem("village.projects", "集中议事", "village_web.projects_page", READ, "Village projects", 60),
          MenuItem("village.figures", "联系定额", "village_web.figures_page", READ, "Contacts against the quota", 64),
          MenuItem("village.opinions", "群众意见", "village_opinions_web.opinions_page", READ, "Villagers' opinions", 65),
          MenuItem("village.evaluations", "两票评议", "village_web.evaluations_page", READ, "Two-ballot evaluation", 61)],
    indicators=[Indicator("village.evaluations_below", "两票评议满意率未达标数", below_threshold,
                          "Evaluations under the satisfaction threshold", "次"),
                Indicator("village.rectifications_open", "两票评议整改未完成数", rectifications_open,
                          "Rectifications not yet finished", "件")],
    audit_labels=LABELS,
)
manifest.hooks(globals())


@hookimpl
def pingan_case_types():
    from .cases import COMMITMENT, RECTIFICATION
    return [RECTIFICATION, COMMITMENT]


@hookimpl
def pingan_demo_activity(demo):
    from .demo import plan
    plan(demo)
