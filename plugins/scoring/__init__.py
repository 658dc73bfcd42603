"""Scoring module (考核评比): rubrics as county configuration, periods scored live from every
module's indicators (``pingan_indicators``), published results frozen, explained item by item,
ranked, vetoed and appealed. Built on ``core.sdk`` only; see docs/scoring.md."""
from __future__ import annotations

from core.sdk import Manifest, MenuItem

from . import models  # noqa: F401  (the module's tables join the metadata when it loads)
from .api import blp
from .audit_labels import LABELS
from .permissions import MANAGE, PERMISSIONS, READ, ROLE_TEMPLATES
from .settings import ScoringSettings
from .web import bp

manifest = Manifest(
    name="scoring", title="考核评比", title_en="Scoring", version="0.1.0",
    description="考核细则、季度竞赛和年度考核：按各模块指标实时计分，公布后冻结，逐项可查，一票否决，申诉复核。",
    permissions=PERMISSIONS, roles=ROLE_TEMPLATES, settings=ScoringSettings, migrations="migrations",
    api=[blp], web=[bp], audit_labels=LABELS,
    menu=[MenuItem("scoring.periods", "考核评比", "scoring_web.index", READ, "Scoring", 70),
          MenuItem("scoring.rubrics", "考核细则", "scoring_web.rubrics_page", MANAGE, "Rubrics", 71)])
manifest.hooks(globals())
