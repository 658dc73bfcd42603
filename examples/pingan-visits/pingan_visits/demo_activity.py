"""The example module's share of the demo county's year (``pingan_demo_activity``): greetings
sent through the year by the townships' accounts, each at its own moment.

The hook only plans (``demo.act``); the core plays every module's acts in time order, with the
clock moved to each act and the act's user signed in (docs/plugin_hooks.md).
"""
from __future__ import annotations

from .demo import NAMES
from .models import VisitsGreeting


def plan(demo) -> None:
    for _ in range(demo.volume):
        village = demo.random.choice(demo.villages)
        demo.act(demo.registered_at(0, 360), demo.handler(village), greet, demo, village)


def greet(demo, village: str) -> None:
    """Runs at its moment, as the township's account."""
    name = demo.random.choice(NAMES)
    demo.session.add(VisitsGreeting(org_unit_id=demo.unit_id(village), recipient=name,
                                   message=f"{demo.settings['greeting_prefix']}{name}！",
                                   created_by_id=demo.user.id))
    demo.count("greetings")
