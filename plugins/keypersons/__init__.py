"""Key persons module (重点人员): the registers of people a county follows up — released
prisoners, community-corrections subjects and the other categories the county enables —
with purpose-bound access, visits on the county's cadence, retention and figures.

A built-in plugin (entry point ``keypersons`` in the platform's pyproject.toml), built on
``core.sdk`` only. See docs/keypersons.md.
"""
from __future__ import annotations

from core.sdk import Indicator, Manifest, MenuItem, ScheduledJob, hookimpl

from . import models  # noqa: F401  (the module's tables join the metadata when it loads)
from .api import blp as api_blueprint
from .audit_labels import LABELS
from .jobs import retention, visits_due
from .permissions import PERMISSIONS, RENTAL_READ, ROLE_TEMPLATES, USE
from .rental import RENTAL_LETTER
from .rental_api import blp as rental_api_blueprint
from .rental_web import bp as rental_web_blueprint
from .settings import KeypersonsSettings
from .transfer import RECORD_TRANSFER
from .web import bp as web_blueprint


def _reoffences(session, unit_id, period_start, period_end) -> float:
    from .figures import reoffence_indicator
    return reoffence_indicator(session, unit_id, period_start, period_end)


manifest = Manifest(
    name="keypersons",
    title="重点人员", title_en="Key persons",
    description="刑满释放人员、社区矫正对象等重点人员的列管、按事由查阅、走访帮教、保存期限和统计；出租房屋、承租人和房主星级。",
    version="0.1.0",
    permissions=PERMISSIONS,
    roles=ROLE_TEMPLATES,
    settings=KeypersonsSettings,
    migrations="migrations",
    menu=[MenuItem("keypersons.records", "重点人员", "keypersons_web.records_page", USE, "Key persons", 60),
          MenuItem("keypersons.rental", "出租房屋", "keypersons_rental_web.houses_page", RENTAL_READ, "Rental houses", 61)],
    api=[api_blueprint, rental_api_blueprint], web=[web_blueprint, rental_web_blueprint],
    letters=[RENTAL_LETTER],
    transfers=[RECORD_TRANSFER],
    jobs=[ScheduledJob(name="visits_due", func=visits_due, every_minutes=60),
          ScheduledJob(name="retention", func=retention, every_minutes=24 * 60)],
    indicators=[Indicator(key="keypersons.reoffences", title="刑满释放人员和社区服刑人员又犯罪", title_en="Re-offences",
                          unit="人", compute=_reoffences)],
    audit_labels=LABELS,
)
manifest.hooks(globals())


@hookimpl
def pingan_case_event(session, case, event):
    from .links import on_case_event
    on_case_event(session, case, event)


@hookimpl
def pingan_demo_activity(demo):
    from .demo import plan
    plan(demo)
