"""``pingan db upgrade``: run the core's and every installed plugin's migrations, then secure.

Migrations run as the schema owner (the login role of ``PINGAN_MIGRATION_DATABASE_URL``,
else of ``PINGAN_DATABASE_URL``), never as the app role. After them, on PostgreSQL, ``core.db.secure_schema`` (re)applies grants and
row-level security to every table, plugin tables included. Its connection has timeouts of its
own (``Config.migration_timeouts``, docs/configuration.md "Timeouts and 503").
"""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from core import citus
from core.config import Config
import core.schema  # noqa: F401  (every core table in the metadata)
from core.db import secure_schema, timeout_connect_args
from core.plugins import PluginHost

HERE = Path(__file__).parent / "migrations"


def _owner_engine(config: Config):
    """The schema owner's engine, with the migration role's timeouts."""
    url = config.migration_url
    return create_engine(url, connect_args=timeout_connect_args(url, config.migration_timeouts))


def distribute(config: Config, host: PluginHost, shard_count: int | None = None) -> citus.Report:
    """``pingan db distribute``: the schema on Citus (core.citus), as the schema owner, with the
    migration role's timeouts."""
    engine = _owner_engine(config)
    try:
        with engine.begin() as conn:
            report = citus.distribute(conn, shard_count)
            secure_schema(conn, config.db_app_role)
        return report
    finally:
        engine.dispose()


def alembic_config(host: PluginHost, connection=None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(HERE))
    locations = [str(HERE / "versions")]
    for contrib in host.plugins.values():
        if contrib.migrations_dir:
            locations.append(str(Path(contrib.migrations_dir).resolve()))
    cfg.set_main_option("version_locations", " ".join(locations))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["connection"] = connection
    return cfg


def heads(host: PluginHost) -> dict[str, list[str]]:
    """Branch label → its heads (a healthy tree has exactly one per branch).

    Walked by ``down_revision`` only: a plugin revision that ``depends_on`` a core revision
    does not make that core revision any less the core branch's head.
    """
    script = ScriptDirectory.from_config(alembic_config(host))
    revs = {r.revision: r for r in script.walk_revisions()}

    def downs(rev) -> tuple:
        d = rev.down_revision
        return tuple(x for x in (d if isinstance(d, tuple) else (d,)) if x)

    def label(rev) -> str | None:
        while rev is not None:
            if rev.branch_labels:
                return sorted(rev.branch_labels)[0]
            rev = revs.get(downs(rev)[0]) if downs(rev) else None
        return None

    parents = {d for r in revs.values() for d in downs(r)}
    out: dict[str, list[str]] = {}
    for rev in revs.values():
        if rev.revision not in parents:
            out.setdefault(label(rev) or "(unlabelled)", []).append(rev.revision)
    return out


def upgrade(config: Config, host: PluginHost, target: str = "heads") -> None:
    """Migrate with the migration role's timeouts (``PINGAN_MIGRATION_*_TIMEOUT_SECONDS``): no
    statement limit, a short lock timeout so a schema change never queues every request behind it."""
    engine = _owner_engine(config)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(host, conn), target)
            secure_schema(conn, config.db_app_role)
    finally:
        engine.dispose()
