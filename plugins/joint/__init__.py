"""Joint mechanisms (五联/六联): the county's mechanisms and their live work, joint meetings
whose decisions become tasks through the core's dispatch (POLICY-RULES JNT-1, JNT-2, INT-4).

A built-in plugin, registered like any third-party one: the entry point ``joint`` in the
``pingan.plugins`` group of the platform's pyproject.toml. It imports only ``core.sdk``.
See docs/joint.md.
"""
from __future__ import annotations

from core.sdk import Manifest, MenuItem, Widget

from . import models  # noqa: F401  (the module's tables join the metadata when it loads)
from .analysis import widget
from .indicators import INDICATORS, mechanism_indicators
from .api import blp
from .audit_labels import LABELS
from .permissions import PERMISSIONS, READ, ROLE_TEMPLATES
from .settings import JointSettings
from .web import bp

__version__ = "0.1.0"

manifest = Manifest(
    name="joint", title="联动机制", title_en="Joint mechanisms",
    description="“五联”“六联”联动工作机制：各机制的在办事项和数字，联席会议的议题、出席、纪要和交办决定。",
    version=__version__, permissions=PERMISSIONS, roles=ROLE_TEMPLATES, settings=JointSettings,
    migrations="migrations", api=[blp], web=[bp], indicators=INDICATORS, county_indicators=mechanism_indicators,
    audit_labels=LABELS,
    menu=[MenuItem("joint.index", "联动机制", "joint_web.index", READ, "Joint mechanisms", 60),
          MenuItem("joint.campaigns", "专项整治", "joint_web.campaigns_page", READ, "Hot-spot campaigns", 61),
          MenuItem("joint.analyses", "治安形势分析", "joint_web.analyses_page", READ, "Public-order analysis", 62),
          MenuItem("joint.construction", "中心建设", "joint_web.construction_page", READ, "Centre construction", 63),
          MenuItem("joint.centres", "综治中心", "joint_web.centres_page", READ, "Centres", 64)],
    # RPT-2: the county's warning level on the home page of its users (those holding joint.read:
    # the role templates give it to every core role)
    widgets=[Widget(key="joint.warning_level", title="治安形势预警", title_en="Public-order warning", permission=READ,
                    render=widget, order=5, labels={"level": ("预警等级", "Warning level"), "month": ("月份", "Month")})],
)
manifest.hooks(globals())
