"""Patrol and mass prevention (群防群治): patrol teams and their members, patrol points on the
county's lines of defence, routes, the duty roster, rounds checked in from a phone with their
compliance and results (POLICY-RULES PAT-1, PAT-2, PAT-5).

A built-in plugin registered like any third-party one (entry point ``patrol``); it imports only
``core.sdk``. See docs/patrol.md.
"""
from __future__ import annotations

from core.sdk import Manifest, MenuItem, hookimpl

from . import models  # noqa: F401  (the module's tables join the metadata when it loads)
from .audit_labels import LABELS
from .permissions import CAMERA_INSPECT, CLUE_REPORT, PERMISSIONS, READ, ROLE_TEMPLATES
from .cameras import CAMERAS
from .groups import GROUPS, JOINT_DEFENCE
from .indicators import INDICATORS
from .registers import POINTS, TEAMS
from .settings import PatrolSettings

__version__ = "0.1.0"


def _api():
    from .api import blp
    return blp


def _web():
    from .web import bp
    return bp


manifest = Manifest(
    name="patrol", title="群防群治", title_en="Patrol and mass prevention", version=__version__,
    description="巡防队伍与队员、治安防线上的巡逻点、巡逻路线与排班、手机巡逻打卡、到点率与巡逻战果。",
    permissions=PERMISSIONS, roles=ROLE_TEMPLATES, settings=PatrolSettings, migrations="migrations",
    registers=[TEAMS, POINTS, GROUPS, CAMERAS], letters=[JOINT_DEFENCE], indicators=INDICATORS,
    menu=[MenuItem("patrol.rounds", "巡逻打卡", "patrol_web.index", READ, "Patrol rounds", 59),
          MenuItem("patrol.clue", "报送线索", "patrol_web.clue_page", CLUE_REPORT, "Report a clue", 62),
          MenuItem("patrol.inspect", "探头巡检", "patrol_web.inspection_page", CAMERA_INSPECT, "Camera inspection", 64)],
    api=[_api()], web=[_web()], audit_labels=LABELS)
manifest.hooks(globals())


@hookimpl
def pingan_case_types():
    from .cameras import REPAIR_TICKET
    from .clues import CLUE
    return [CLUE, REPAIR_TICKET]
