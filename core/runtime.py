"""The running process's state, reachable from every layer without importing the app factory.

A process holds one :class:`Pingan` (config, database, plugins, host resolver): the web app
keeps it in ``app.extensions["pingan"]`` (made by ``core.app.create_app``), a worker or CLI
command binds its own with :func:`bind_state` (``core.cli``, ``core.jobs.serve_jobs``).
Services, the API and the web pages ask for it here — :func:`pingan` inside an app context,
:func:`running` where the code may also run in a job, :func:`worker_state` in a job — so no
module below the app factory imports ``core.app`` (the layers, docs/architecture.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app, has_app_context

if TYPE_CHECKING:  # types only: this module imports nothing of the core at run time
    from core.auth import HostResolver
    from core.config import Config
    from core.db import Database
    from core.plugins import PluginHost


@dataclass
class Pingan:
    """What the running app holds: config, database, plugins. ``app.extensions["pingan"]``."""

    config: Config
    db: Database
    plugins: PluginHost
    resolver: HostResolver


_state: Pingan | None = None  # the worker's (or CLI command's) Pingan, set by ``bind_state``


def pingan(app: Flask | None = None) -> Pingan:
    """The state of ``app``, else of the app of the current app context."""
    return (app or current_app).extensions["pingan"]


def bind_state(state: Pingan | None) -> None:
    """Make ``state`` the running state of this process outside any app context (a worker)."""
    global _state
    _state = state


def running(optional: bool = False) -> Pingan | None:
    """The Pingan (config, db, plugins) this code runs in: the web app's inside a request or
    app context, else the worker's bound state; None when ``optional`` and there is neither."""
    if has_app_context():
        return pingan()
    if _state is None and not optional:
        raise RuntimeError("neither an app context nor a bound worker state (core.jobs.bind_state)")
    return _state


def worker_state() -> Pingan:
    """The running Pingan (config, db, plugins) of this worker or embedded web process."""
    if _state is None:
        raise RuntimeError("no worker state bound (core.jobs.bind_state)")
    return _state


# the young generation is collected after this many net allocations (CPython's default: 700)
GC_YOUNG_THRESHOLD = 20_000


def settle_heap() -> None:
    """Once a serving process has started (``pingan serve``, ``pingan worker``): what start-up
    built — modules, mappers, the plugins' schemas, ~270,000 objects — leaves the cyclic garbage
    collector's sight (``gc.freeze``), and the young generation is collected every
    :data:`GC_YOUNG_THRESHOLD` allocations instead of 700. Every full collection otherwise walks
    all of start-up's objects again: a 100,000-row ledger import spent 6.7 of its 31 s in the
    collector, 0.35 s after this (3,221 → 4,183 rows/s, the same peak memory; bench/results/
    imports_quiet.md). Forked work horses inherit the frozen heap. Not in tests: an app made and
    dropped per test would stay frozen in memory."""
    import gc
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 100)
