"""``pingan db upgrade``: run the core's and every installed plugin's migrations, then secure.

Migrations run as the schema owner (the login role of ``PINGAN_MIGRATION_DATABASE_URL``,
else of ``PINGAN_DATABASE_URL``), never as the app role. After them, on PostgreSQL, ``core.db.secure_schema`` (re)applies grants and
row-level security to every table, plugin tables included. Its connection has timeouts of its
own (``Config.migration_timeouts``, docs/configuration.md "Timeouts and 503").
"""
from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from alembic import command
from alembic.autogenerate import compare_metadata, produce_migrations, render_python_code
from alembic.autogenerate import render as alembic_render
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Table, UniqueConstraint, create_engine
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

from core import citus
from core.config import Config
import core.schema  # noqa: F401  (every core table in the metadata)
from core.db import TENANT, Base, secure_schema, table_class, timeout_connect_args
from core.plugins import PluginHost

HERE = Path(__file__).parent / "migrations"


def _owner_engine(config: Config):
    """The schema owner's engine, with the migration role's timeouts."""
    url = config.migration_url
    return create_engine(url, connect_args=timeout_connect_args(url, config.migration_timeouts))


DEADLOCK_RETRIES = 3


def _in_one_transaction(engine, work: Callable[[Connection], object]):
    """``work`` in one transaction as the schema owner; again, from the start, when PostgreSQL
    reports a deadlock (``40P01``). Securing the schema takes every table's exclusive lock in
    turn, so a live request holding one table while it waits for another can deadlock with it;
    PostgreSQL then rolls back one side, and the work is idempotent: running it again is what an
    operator would do."""
    import logging
    import time

    from sqlalchemy.exc import OperationalError
    for attempt in range(1, DEADLOCK_RETRIES + 1):
        try:
            with engine.begin() as conn:
                return work(conn)
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != "40P01" or attempt == DEADLOCK_RETRIES:
                raise
            logging.getLogger("pingan.migrate").warning(
                "deadlock with live traffic while securing the schema; again (%d of %d)", attempt + 1, DEADLOCK_RETRIES)
            time.sleep(0.5 * attempt)


def distribute(config: Config, host: PluginHost, shard_count: int | None = None) -> citus.Report:
    """``pingan db distribute``: the schema on Citus (core.citus), as the schema owner, with the
    migration role's timeouts."""
    engine = _owner_engine(config)

    def work(conn: Connection) -> citus.Report:
        report = citus.distribute(conn, shard_count)
        secure_schema(conn, config.db_app_role)
        return report
    try:
        return _in_one_transaction(engine, work)
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

    def work(conn: Connection) -> None:
        command.upgrade(alembic_config(host, conn), target)
        secure_schema(conn, config.db_app_role)
    try:
        _in_one_transaction(engine, work)
    finally:
        engine.dispose()


# --- a plugin's migrations: generate and check (``pingan db revision``, ``pingan db check``) ---
#
# Both compare the models with a throw-away SQLite database upgraded to every branch's head, so
# an author needs no running database. Only the tables the plugin owns are compared: the core's
# and the other plugins' tables never get an operation (docs/plugin_migrations.md).

class MigrationError(Exception):
    """A revision cannot be written or a plugin checked; the message tells the author why."""


def _package_of(host: PluginHost, plugin: str) -> str:
    """The module the plugin was registered as (its package), or its object's class's module."""
    obj = host.pm.get_plugin(plugin)
    return obj.__name__ if isinstance(obj, ModuleType) else type(obj).__module__


def _ownership(host: PluginHost, plugin: str) -> tuple[set[str], set[str]]:
    """(tables of the models defined in ``plugin``'s package, tables mapped by any model)."""
    packages = {name: _package_of(host, name) for name in host.names}

    def owner(module: str) -> str | None:
        found = [n for n, p in packages.items() if module == p or module.startswith(p + ".")]
        return max(found, key=lambda n: len(packages[n])) if found else None

    owned: set[str] = set()
    mapped: set[str] = set()
    for mapper in Base.registry.mappers:
        table = mapper.local_table
        if not isinstance(table, Table) or Base.metadata.tables.get(table.name) is not table:
            continue
        mapped.add(table.name)
        if owner(mapper.class_.__module__) == plugin:
            owned.add(table.name)
    return owned, mapped


def plugin_owns(host: PluginHost, plugin: str) -> Callable[[str], bool]:
    """Whether a table (in the models or only in a database) is ``plugin``'s: a table of a model
    defined in its package, or one named ``<plugin>_…`` that no model of the core or of another
    plugin maps (a table whose model was removed still belongs to the plugin that made it)."""
    owned, mapped = _ownership(host, plugin)
    prefix = plugin + "_"
    return lambda name: name in owned or (name.startswith(prefix) and name not in mapped)


def plugin_tables(host: PluginHost, plugin: str) -> set[str]:
    """The tables of the models that ``plugin`` owns (see :func:`plugin_owns`)."""
    owns = plugin_owns(host, plugin)
    return {name for name in Base.metadata.tables if owns(name)}


def _installed(host: PluginHost, plugin: str):
    if plugin == "core":
        raise MigrationError("the core's migrations are written by hand in core/migrations/versions "
                             "(docs/plugin_migrations.md); --plugin names an installed plugin")
    if plugin not in host.plugins:
        raise MigrationError(f"no installed plugin {plugin!r} (installed: {', '.join(host.names) or 'none'})")
    contrib = host.plugins[plugin]
    if not contrib.migrations_dir:
        raise MigrationError(f"plugin {plugin!r} has no migrations directory: implement the hook "
                             "pingan_migrations_dir() returning the folder of its migrations")
    return contrib


@contextlib.contextmanager
def scratch_database(host: PluginHost) -> Iterator[Connection]:
    """A connection to a temporary SQLite database upgraded to every branch's head (core and
    every plugin of ``host``); the file is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="pingan-migrate-") as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'scratch.sqlite3'}")
        try:
            with engine.begin() as conn:
                command.upgrade(alembic_config(host, conn), "heads")
            with engine.connect() as conn:
                yield conn
        finally:
            engine.dispose()


def _comparison(conn: Connection, owns: Callable[[str], bool]) -> MigrationContext:
    """Autogenerate's context limited to the tables ``owns`` accepts (reflected and modelled)."""
    def include_name(name, type_, parent_names) -> bool:
        return type_ != "table" or owns(name)

    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        return type_ != "table" or owns(name)

    return MigrationContext.configure(conn, opts={
        "target_metadata": Base.metadata, "compare_type": True, "render_as_batch": True,
        "include_name": include_name, "include_object": include_object})


def _columns(cols) -> str:
    return ", ".join(c.name for c in cols)


def describe(diff) -> str:
    """One difference found by ``alembic.autogenerate.compare_metadata``, in words."""
    if isinstance(diff, list):  # the modify_* differences of one column
        return "; ".join(describe(d) for d in diff)
    kind = diff[0]
    where = "in the models but not in the migrations" if kind.startswith("add_") \
        else "in the migrations but in no model"
    if kind in ("add_table", "remove_table"):
        return f"{diff[1].name}: table {where}"
    if kind in ("add_column", "remove_column"):
        return f"{diff[2]}.{diff[3].name}: column {where}"
    if kind in ("add_index", "remove_index"):
        idx = diff[1]
        return f"{idx.table.name}: index {idx.name} ({_columns(idx.columns)}) {where}"
    if kind in ("add_constraint", "remove_constraint"):
        c = diff[1]
        return f"{c.table.name}: constraint {c.name} ({_columns(c.columns)}) {where}"
    if kind in ("add_fk", "remove_fk"):
        fk = diff[1]
        return f"{fk.parent.name}: foreign key {fk.name} ({_columns(fk.columns)}) → {fk.referred_table.name} {where}"
    if kind.startswith("modify_"):
        _, _, table, column, _, migrated, modelled = diff
        return f"{table}.{column}: {kind[len('modify_'):]} is {migrated!r} in the migrations, {modelled!r} in the model"
    return repr(diff)


def tenant_key_problems(table: Table) -> list[str]:
    """A county table must lead its primary key, unique keys, indexes and foreign keys to other
    county tables with ``tenant_id`` (the Citus distribution column, and the ORM guard's)."""
    if table_class(table) != TENANT:
        return []
    problems = []

    def leads(cols) -> bool:
        return [c.name for c in cols][:1] == ["tenant_id"]

    if not leads(table.primary_key.columns):
        problems.append(f"{table.name}: primary key ({_columns(table.primary_key.columns)}) must start with tenant_id")
    for c in table.constraints:
        if isinstance(c, UniqueConstraint) and not leads(c.columns):
            problems.append(f"{table.name}: unique key ({_columns(c.columns)}) must start with tenant_id")
    for idx in table.indexes:
        if not leads(idx.columns):
            problems.append(f"{table.name}: index {idx.name} ({_columns(idx.columns)}) must start with tenant_id")
    for fk in table.foreign_key_constraints:
        if table_class(fk.referred_table) == TENANT and not leads(fk.columns):
            problems.append(f"{table.name}: foreign key ({_columns(fk.columns)}) → {fk.referred_table.name} must "
                            "start with tenant_id (write it with core.sdk.tenant_fk)")
    return problems


def plugin_drift(plugin: str, host: PluginHost | None = None) -> list[str]:
    """How ``plugin``'s models and its migrations differ, one line each; empty when they agree.

    Builds its own temporary SQLite database (every branch upgraded to its head) and compares
    only the plugin's tables: callable from a test with just the plugin's name."""
    return plugins_drift([plugin], host)[plugin]


def plugins_drift(plugins: list[str], host: PluginHost | None = None) -> dict[str, list[str]]:
    """:func:`plugin_drift` of each of ``plugins``, over one temporary database (upgrading it
    through every branch is most of the work: once for all of them, not once each)."""
    host = host or PluginHost()
    for plugin in plugins:
        _installed(host, plugin)
    out = {}
    with scratch_database(host) as conn:
        for plugin in plugins:
            diffs = compare_metadata(_comparison(conn, plugin_owns(host, plugin)), Base.metadata)
            out[plugin] = [describe(d) for d in diffs]
    return out


@dataclass
class NewRevision:
    revision: str
    path: Path | None  # None: nothing to write (no change in the models)
    changes: list[str]


def _slug(message: str) -> str:
    words = re.findall(r"[a-z0-9]+", message.lower())
    return "_".join(words)[:40].strip("_") or "change"


def _render_type(type_: str, obj, autogen_context):
    """Our column types (``AwareDateTime``, ``Encrypted``) are written as what they store, so a
    migration never imports the core."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return alembic_render._repr_type(obj.impl_instance, autogen_context)
    return False


def revision(plugin: str, message: str, autogenerate: bool = False, host: PluginHost | None = None) -> NewRevision:
    """Write the next revision of ``plugin``'s branch into its migrations directory.

    ``<plugin>_<NNNN>_<slug>.py`` with revision id ``<plugin>_<NNNN>``, after the branch's head;
    the branch's first revision carries the label ``plugin`` and ``depends_on`` the core's head.
    With ``autogenerate``, the operations that bring the plugin's tables from what its
    migrations make to what its models say; nothing is written when they agree. A county
    table whose keys do not lead with ``tenant_id`` is refused, named."""
    host = host or PluginHost()
    contrib = _installed(host, plugin)
    if not message.strip():
        raise MigrationError("a revision needs a message (-m): what it changes")
    folder = Path(contrib.migrations_dir).resolve()
    branch_heads = heads(host)
    head = branch_heads.get(plugin, [])
    if len(head) > 1:
        raise MigrationError(f"the branch {plugin!r} has {len(head)} heads ({', '.join(head)}): merge them first")
    script = ScriptDirectory.from_config(alembic_config(host))
    numbers = [int(m.group(1)) for r in script.walk_revisions()
               if (m := re.fullmatch(rf"{re.escape(plugin)}_(\d+)", r.revision))]
    numbers += [int(m.group(1)) for p in folder.glob(f"{plugin}_*.py")
                if (m := re.match(rf"{re.escape(plugin)}_(\d+)_", p.name))]
    rev_id = f"{plugin}_{max(numbers, default=0) + 1:04d}"
    template: dict = {"upgrades": "pass", "downgrades": "pass"}
    changes: list[str] = []
    if autogenerate:
        problems = [p for name in sorted(plugin_tables(host, plugin))
                    for p in tenant_key_problems(Base.metadata.tables[name])]
        if problems:
            raise MigrationError("fix the model first:\n  " + "\n  ".join(problems))
        with scratch_database(host) as conn:
            context = _comparison(conn, plugin_owns(host, plugin))
            changes = [describe(d) for d in compare_metadata(context, Base.metadata)]
            if not changes:
                return NewRevision(rev_id, None, [])
            ops = produce_migrations(context, Base.metadata)
            for key, side in (("upgrades", ops.upgrade_ops), ("downgrades", ops.downgrade_ops)):
                template[key] = render_python_code(side, render_as_batch=True, render_item=_render_type,
                                                   migration_context=context).strip()
    folder.mkdir(parents=True, exist_ok=True)
    first = not head
    script.file_template = f"%(rev)s_{_slug(message)}"  # ASCII file names, whatever the message
    script.messaging_opts = {"quiet": True}
    written = script.generate_revision(
        rev_id, message.strip(), head=head[0] if head else "base", branch_labels=[plugin] if first else None,
        version_path=str(folder), depends_on=branch_heads["core"][0] if first else None, **template)
    return NewRevision(rev_id, Path(written.path), changes)
