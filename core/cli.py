"""The ``pingan`` command.

    pingan demo                      embedded DB + demo county + web server + in-process worker
    pingan serve                     the web server (waitress)
    pingan worker [--burst]          rq worker with scheduler (needs PINGAN_REDIS_URL)
    pingan db upgrade                migrations of the core and every installed plugin, then RLS
    pingan db heads                  the head of each migration branch
    pingan db revision --plugin P -m MSG [--autogenerate]   the plugin's next migration
    pingan db check [--plugin P]     do the plugins' models and migrations agree (exit 1 if not)
    pingan tenant validate PATH      check a tenants/<slug> folder, every error with file and line/key
    pingan tenant load PATH [--demo] create or update the tenant from the folder
    pingan user create …             add a user (password asked, or generated and shown once)
    pingan token create --tenant S --user U [--scope P] [--days N]   a personal access token, printed once
    pingan token list|revoke …       a county's tokens (never their secrets); revoke one
    pingan operator create …         add a platform operator (the /operator console)
    pingan audit verify [--tenant]   recompute the audit hash chains
    pingan stats rebuild [--tenant]  recount the statistics' tallies from the rows (a repair)
    pingan crypto newkey KID         print a fresh data key for PINGAN_DATA_KEYS
    pingan crypto rotate             re-encrypt sensitive fields under the current data key
    pingan jobs failed [--days N]    every county's failed background jobs (exit 1 if any)
    pingan jobs retry SLUG KEY       run one of them again (an outbox key, or jobrun:<id>)
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from sqlalchemy import select

from core.config import Config, ConfigError

REPO_TENANTS = Path(__file__).resolve().parent.parent / "tenants"


def _config(**overrides) -> Config:
    try:
        return Config.from_env(**overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _state(config: Config):
    from core.app import Pingan
    from core.auth import HostResolver
    from core.crypto import configure
    from core.db import Database
    from core.plugins import PluginHost
    import core.schema  # noqa: F401
    configure(config.data_keys, config.index_key, config.instance_dir)
    # workers and CLI commands: the job role's timeouts (longer than a web request's)
    return Pingan(config, Database(config.database_url, app_role=config.set_role, timeouts=config.job_timeouts),
                  PluginHost(), HostResolver(config))


@click.group()
def main() -> None:
    """Pingan (平安): comprehensive-governance centre platform."""


# --- db -----------------------------------------------------------------------------------

@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (core and plugins), then grants and row-level security."""
    from core.migrate import upgrade
    from core.plugins import PluginHost
    config = _config()
    upgrade(config, PluginHost())
    click.echo(f"schema up to date ({config.database_url.split('@')[-1]})")


@db.command("distribute")
@click.option("--shard-count", type=click.IntRange(1, 64000), default=None,
              help="Shards of the county tables (default: the server's citus.shard_count, 32); "
                   "only the first distribution sets it (docs/citus.md).")
def db_distribute(shard_count: int | None) -> None:
    """On a Citus coordinator: reference tables for platform data, every county table distributed
    on tenant_id, co-located, foreign keys kept (docs/citus.md). Idempotent."""
    from core.migrate import distribute
    from core.plugins import PluginHost
    config = _config()
    report = distribute(config, PluginHost(), shard_count)
    click.echo(f"{len(report.reference)} reference and {len(report.distributed)} distributed tables made, "
               f"{report.foreign_keys} foreign keys kept")
    if report.unknown:
        click.echo(f"left as they are (no model of an installed module): {', '.join(report.unknown)}")


@db.command("heads")
def db_heads() -> None:
    from core.migrate import heads
    from core.plugins import PluginHost
    for label, revs in sorted(heads(PluginHost()).items()):
        click.echo(f"{label}: {', '.join(revs)}")


@db.command("revision")
@click.option("--plugin", required=True, help="The installed plugin whose branch gets the revision.")
@click.option("-m", "--message", required=True, help="What the revision changes (its slug names the file).")
@click.option("--autogenerate", is_flag=True,
              help="Fill it with what the plugin's models have that its migrations do not make "
                   "(compared on a throw-away SQLite database; no running database needed).")
def db_revision(plugin: str, message: str, autogenerate: bool) -> None:
    """Write the plugin's next migration, <plugin>_<NNNN>_<slug>.py, in its migrations directory
    and on its branch (docs/plugin_migrations.md)."""
    from core.migrate import MigrationError, revision
    try:
        new = revision(plugin, message, autogenerate)
    except MigrationError as exc:
        raise click.ClickException(str(exc)) from None
    if new.path is None:
        click.echo(f"no changes: the models of {plugin!r} agree with its migrations; nothing written")
        return
    click.echo(f"{new.revision}: {new.path}")
    for change in new.changes:
        click.echo(f"  {change}")
    click.echo("read it before committing it; `pingan db check --plugin " + plugin + "` must then be clean")


@db.command("check")
@click.option("--plugin", "plugins", multiple=True,
              help="A plugin to check (repeatable; default: every installed plugin with migrations).")
def db_check(plugins: tuple[str, ...]) -> None:
    """Do the plugins' models and migrations agree? Exit 1 with each difference."""
    from core.migrate import MigrationError, plugins_drift
    from core.plugins import PluginHost
    host = PluginHost()
    names = plugins or tuple(n for n, c in host.plugins.items() if c.migrations_dir)
    try:
        drifts = plugins_drift(list(names), host)
    except MigrationError as exc:
        raise click.ClickException(str(exc)) from None
    bad = 0
    for name in names:
        drift = drifts[name]
        if drift:
            bad += 1
            click.echo(f"{name}: the models and the migrations differ:", err=True)
            for line in drift:
                click.echo(f"  {line}", err=True)
        else:
            click.echo(f"{name}: models and migrations agree")
    if bad:
        raise SystemExit(1)


# --- tenants ------------------------------------------------------------------------------

@main.group()
def tenant() -> None:
    """Counties (tenants) and their tenants/<slug> folders."""


@tenant.command("validate")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def tenant_validate(path: Path) -> None:
    """Check a tenant folder; print every problem as file:line-or-key: reason."""
    from core.plugins import PluginHost
    from core.tenant_config import validate_folder
    _, issues = validate_folder(path, PluginHost())
    for issue in issues:
        click.echo(f"{path.name}/{issue}", err=True)
    if issues:
        raise SystemExit(1)
    click.echo(f"{path}: ok")


@tenant.command("load")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--demo", is_flag=True, help="Also add demo residents and plugin demo data.")
def tenant_load(path: Path, demo: bool) -> None:
    """Create or update a tenant from its folder (idempotent)."""
    config = _config()
    _refuse_demo_in_production(config, demo)  # before anything is set up
    state = _state(config)
    report = _load(state, path, demo)
    click.echo(f"tenant {path.name}: {'created' if report.created else 'updated'}, "
               f"{report.units_added} units added")
    for username, password in report.users_added.items():
        click.echo(f"  user {username}  one-time password: {password}")


def _refuse_demo_in_production(config: Config, demo: bool) -> None:
    if demo and config.is_production:
        # demo data: known passwords with no forced change, fictional residents
        raise click.ClickException("--demo is refused with PINGAN_ENV=production: it creates accounts with the "
                                   "folder's known demo password and fictional residents. Load the folder "
                                   "without --demo (each user gets a one-time password).")


def _load(state, path: Path, demo: bool):
    from core.context import Actor, acting_as
    from core.tenant_config import apply, validate_folder
    _refuse_demo_in_production(state.config, demo)
    spec, issues = validate_folder(path, state.plugins)
    if issues:
        for issue in issues:
            click.echo(f"{path.name}/{issue}", err=True)
        raise click.ClickException("the tenant folder does not validate; nothing was loaded")
    if spec.data["slug"] == state.config.operator_tenant:
        raise click.ClickException(f"slug {spec.data['slug']!r} is the platform tenant's (PINGAN_OPERATOR_TENANT)")
    with acting_as(Actor(None, "cli:tenant-load")):
        with state.db.Session() as s, s.begin():
            return apply(s, spec, state.plugins, demo=demo)


# --- users --------------------------------------------------------------------------------

@main.group()
def user() -> None:
    """Users of a tenant."""


@user.command("create")
@click.option("--tenant", "slug", required=True)
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--unit", "unit_code", required=True, help="Org unit code (from org_units.csv).")
@click.option("--role", "roles", multiple=True, help="Role key held on that unit (repeatable).")
@click.option("--password", default=None, help="Omit to generate a one-time password.")
def user_create(slug, username, display_name, unit_code, roles, password) -> None:
    """Create a user; the password must be changed at first log-in."""
    from core import auth
    from core.context import Actor, acting_as
    from core.models import OrgUnit, Role, RoleAssignment, Tenant, User
    state = _state(_config())
    with state.db.Session() as s:
        tid = s.scalar(select(Tenant.id).where(Tenant.slug == slug))
    if tid is None:
        raise click.ClickException(f"no tenant {slug!r}")
    generated = password is None
    password = password or auth.one_time_password()
    try:
        with acting_as(Actor(None, "cli:user-create")), state.db.transaction(tid) as s:
            unit = s.scalar(select(OrgUnit).where(OrgUnit.code == unit_code))
            if unit is None:
                raise click.ClickException(f"no unit with code {unit_code!r}")
            if s.scalar(select(User.id).where(User.username == username)):
                raise click.ClickException(f"user {username!r} exists")
            u = User(username=username, display_name=display_name, org_unit_id=unit.id,
                     password_hash=auth.hash_password(password), must_change_password=True)
            s.add(u)
            s.flush()
            for key in roles:
                role = s.scalar(select(Role).where(Role.key == key))
                if role is None:
                    raise click.ClickException(f"no role {key!r}")
                s.add(RoleAssignment(user_id=u.id, role_id=role.id, org_unit_id=unit.id))
    except Exception as exc:
        from core.errors import PinganError
        if isinstance(exc, PinganError):
            raise click.ClickException(exc.message) from None
        raise
    click.echo(f"user {username} created" + (f"; one-time password: {password}" if generated else ""))


# --- personal access tokens ---------------------------------------------------------------

@main.group()
def token() -> None:
    """Personal access tokens of users, for scripts (docs/api_clients.md)."""


def _tenant_id(state, slug: str) -> int:
    from core.models import Tenant
    with state.db.Session() as s:
        tid = s.scalar(select(Tenant.id).where(Tenant.slug == slug))
    if tid is None:
        raise click.ClickException(f"no tenant {slug!r}")
    return tid


@token.command("create")
@click.option("--tenant", "slug", required=True)
@click.option("--user", "username", required=True, help="The user the token acts as.")
@click.option("--scope", "scopes", multiple=True,
              help="A permission code the token is limited to (repeatable, or several separated by spaces); "
                   "default: everything the user may do.")
@click.option("--name", default="cli", show_default=True, help="What the token is for (shown in the token list).")
@click.option("--days", type=click.IntRange(1, 3650), default=None,
              help="Valid for this many days (default: until revoked, as with the API).")
def token_create(slug: str, username: str, scopes: tuple[str, ...], name: str, days: int | None) -> None:
    """Create a token for a user, audited as the API's. The token alone goes to stdout, shown
    this once (only its hash is kept); everything else goes to stderr."""
    from datetime import timedelta
    from core import auth
    from core.context import Actor, acting_as
    from core.db import utcnow
    from core.models import User
    state = _state(_config())
    codes = [code for item in scopes for code in item.split()]
    unknown = [code for code in codes if code not in state.plugins.permissions]
    if unknown:
        raise click.ClickException(f"no permission {unknown[0]!r} (see GET /api/permissions or the role pages)")
    if not 1 <= len(name) <= 100:
        raise click.ClickException("--name must be 1 to 100 characters")
    tid = _tenant_id(state, slug)
    expires_at = utcnow() + timedelta(days=days) if days else None
    with acting_as(Actor(None, "cli:token-create")), state.db.transaction(tid) as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"no user {username!r} in {slug!r}")
        if not auth.may_act(user):
            raise click.ClickException(f"user {username!r} is disabled or locked: a token would not work")
        row, secret = auth.create_access_token(s, user, name, " ".join(dict.fromkeys(codes)), expires_at)
        token_id = row.id
    click.echo(f"token {token_id} ({name!r}) for {username} in {slug}: "
               f"{'scope ' + ' '.join(dict.fromkeys(codes)) if codes else 'all the user’s permissions'}, "
               f"{'expires ' + expires_at.isoformat(timespec='minutes') if expires_at else 'no expiry'}. "
               "It is shown once; send it as  Authorization: Bearer <token>", err=True)
    click.echo(secret)


@token.command("list")
@click.option("--tenant", "slug", required=True)
@click.option("--user", "username", default=None, help="One user's tokens (default: every user's).")
def token_list(slug: str, username: str | None) -> None:
    """The county's tokens (never their secrets): id, user, name, scope, expiry, last use, revocation."""
    from core.models import AccessToken, User
    state = _state(_config())
    tid = _tenant_id(state, slug)
    with state.db.transaction(tid) as s:
        q = (select(AccessToken, User.username).join(User, User.id == AccessToken.user_id)
             .order_by(AccessToken.id))
        rows = s.execute(q.where(User.username == username) if username else q).all()
    for row, owner in rows:
        def when(value) -> str:
            return value.isoformat(timespec="minutes") if value else "-"
        click.echo(f"{row.id}\t{owner}\t{row.name}\t{row.scope or '*'}\texpires {when(row.expires_at)}\t"
                   f"used {when(row.last_used_at)}\t{'revoked ' + when(row.revoked_at) if row.revoked_at else 'active'}")


@token.command("revoke")
@click.option("--tenant", "slug", required=True)
@click.argument("token_id", type=click.IntRange(1))
def token_revoke(slug: str, token_id: int) -> None:
    """Revoke a token now (audited); it stops working at the next request."""
    from core.context import Actor, acting_as
    from core.db import utcnow
    from core.models import AccessToken
    state = _state(_config())
    tid = _tenant_id(state, slug)
    with acting_as(Actor(None, "cli:token-revoke")), state.db.transaction(tid) as s:
        row = s.scalar(select(AccessToken).where(AccessToken.id == token_id))
        if row is None:
            raise click.ClickException(f"no token {token_id} in {slug!r}")
        row.revoked_at = row.revoked_at or utcnow()
    click.echo(f"token {token_id} revoked")


# --- platform operators -------------------------------------------------------------------

@main.group()
def operator() -> None:
    """Platform operators: the users of the platform tenant, who use the /operator console."""


@operator.command("create")
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--domain", "domains", multiple=True,
              help="Host name serving the platform tenant (repeatable), e.g. ops.pingan.example.")
@click.option("--password", default=None, help="Omit to generate a one-time password.")
def operator_create(username, display_name, domains, password) -> None:
    """Create an operator (and the platform tenant on first use); the password must be changed at first log-in."""
    from core.context import Actor, acting_as
    from core.errors import PinganError
    from core.platform import create_operator
    state = _state(_config())
    try:
        with acting_as(Actor(None, "cli:operator-create")):
            generated = create_operator(state.db, state.config, username, display_name, list(domains), password)
    except PinganError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"operator {username} created in tenant {state.config.operator_tenant!r}"
               + (f"; one-time password: {generated}" if generated else ""))


# --- audit --------------------------------------------------------------------------------

def _tenants(state, slug: str | None) -> list[tuple[int, str]]:
    """(id, slug) of the tenant named ``--tenant`` (an error if there is none), or of every tenant."""
    from core.models import Tenant
    with state.db.Session() as s:
        q = select(Tenant.id, Tenant.slug)
        tenants = [tuple(r) for r in s.execute(q.where(Tenant.slug == slug) if slug else q.order_by(Tenant.id))]
    if slug and not tenants:
        raise click.ClickException(f"no tenant {slug!r}")
    return tenants


@main.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
@click.option("--tenant", "slug", default=None, help="One tenant (default: all).")
def audit_verify(slug) -> None:
    """Recompute each tenant's hash chain; exit 1 and name the entry if one is broken."""
    from core import audit as audit_mod
    state = _state(_config())
    bad = 0
    for tid, tslug in _tenants(state, slug):
        with state.db.transaction(tid) as s:
            result = audit_mod.verify(s, tid)
        if result.ok:
            click.echo(f"{tslug}: ok ({result.entries} entries)")
        else:
            bad += 1
            click.echo(f"{tslug}: BROKEN after {result.entries} good entries: {result.problem}", err=True)
    if bad:
        raise SystemExit(1)


@main.group("stats")
def stats_group() -> None:
    """The statistics' tallies."""


@stats_group.command("rebuild")
@click.option("--tenant", "slug", default=None, help="One tenant (default: all).")
def stats_rebuild(slug) -> None:
    """Recount each county's tallies from its case and limit rows, one transaction a county (a
    repair: the writers keep them in step; see docs/cases.md, "Fast at a million cases")."""
    from core.cases import tally
    from core.context import Actor, acting_as
    state = _state(_config())
    for tid, tslug in _tenants(state, slug):
        started = time.perf_counter()
        with acting_as(Actor(None, "system:stats.rebuild")), state.db.transaction(tid) as s:
            tally.rebuild(s)
        click.echo(f"{tslug}: tallies recounted in {time.perf_counter() - started:.1f} s")


# --- calendar -----------------------------------------------------------------------------

@main.group("calendar")
def calendar_group() -> None:
    """The national holiday calendar (docs/calendar.md)."""


@calendar_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def calendar_import(path: Path) -> None:
    """Load a year of the State Council's holiday schedule from a file, then recompute every
    county's provisional time limits. A bad file is refused whole, with every error named."""
    import getpass
    from core import national_calendar
    from core.cases import recompute
    try:
        schedule = national_calendar.parse(path.read_bytes())
    except national_calendar.CalendarFileError as exc:
        for error in exc.errors:
            click.echo(f"error: {error}", err=True)
        raise SystemExit(1) from None
    state = _state(_config())
    national_calendar.import_year(state.db, state.config, schedule, f"cli:{getpass.getuser()}")
    click.echo(f"{schedule.year}: {schedule.holidays} holidays, {schedule.workdays} adjusted working days "
               f"({schedule.notice} {schedule.notice_number})")

    def tick(done: int, total: int, result) -> None:
        click.echo(f"  {done}/{total} counties · {recompute.describe(result)}")
    result = recompute.run_all(state.db, state.plugins, tick)
    click.echo(f"recomputed: {recompute.describe(result)}")


@calendar_group.command("status")
def calendar_status() -> None:
    """Which years the platform knows (loaded, or in the chinese-calendar package)."""
    from core import national_calendar
    state = _state(_config())
    with state.db.transaction() as s:
        for row in national_calendar.years(s):
            click.echo(f"{row.year}: loaded {row.loaded_at:%Y-%m-%d} by {row.loaded_by} · {row.notice} {row.notice_number}")
        missing = national_calendar.uncovered_years(s)
    click.echo("uncovered: " + (", ".join(map(str, missing)) if missing else "none"))


# --- crypto -------------------------------------------------------------------------------

@main.group()
def crypto() -> None:
    """Keys of sensitive fields."""


@crypto.command("newkey")
@click.argument("kid")
def crypto_newkey(kid: str) -> None:
    """Print ``KID:base64key``; put it first in PINGAN_DATA_KEYS, then run ``crypto rotate``."""
    from core.crypto import new_key_line
    click.echo(new_key_line(kid))


@crypto.command("rotate")
def crypto_rotate() -> None:
    """Re-encrypt every sensitive value not yet under the current data key."""
    from sqlalchemy import text
    from core.crypto import Encrypted, ring
    from core.db import Base, TENANT, table_class
    from core.models import Tenant
    state = _state(_config())
    with state.db.Session() as s:
        tenant_ids = s.scalars(select(Tenant.id)).all()
    total = 0
    for table in Base.metadata.sorted_tables:
        cols = [c.name for c in table.columns if isinstance(c.type, Encrypted)]
        if not cols or table_class(table) != TENANT:
            continue
        for tid in tenant_ids:
            with state.db.transaction(tid) as s:
                for col in cols:
                    rows = s.execute(text(f'SELECT id, "{col}" FROM "{table.name}" WHERE tenant_id = :t AND "{col}" IS NOT NULL'),
                                     {"t": tid}).all()
                    for rid, stored in rows:
                        if ring().needs_rotation(stored):
                            s.execute(text(f'UPDATE "{table.name}" SET "{col}" = :v WHERE tenant_id = :t AND id = :i'),
                                      {"v": ring().encrypt(ring().decrypt(stored)), "t": tid, "i": rid})
                            total += 1
    click.echo(f"re-encrypted {total} values")


# --- jobs ---------------------------------------------------------------------------------

@main.group("jobs")
def jobs_group() -> None:
    """Background jobs: what failed, and running it again."""


@jobs_group.command("failed")
@click.option("--days", default=7, show_default=True, help="Long jobs that failed within this many days.")
def jobs_failed(days: int) -> None:
    """Every county's failed outbox jobs and failed or stalled long jobs; exit 1 if there are any."""
    import datetime as dt
    from core import ledgers, outbox
    from core.db import bind_tenant, utcnow
    from core.models import Tenant
    state = _state(_config())
    with state.db.Session() as s:
        tenants = s.execute(select(Tenant.id, Tenant.slug).order_by(Tenant.slug)).all()
    since = utcnow() - dt.timedelta(days=days)
    lines = []
    for tid, slug in tenants:
        with bind_tenant(tid), state.db.transaction(tid) as s:
            for entry in outbox.failed(s):
                lines.append((slug, entry.key, entry.job, str(entry.attempts), entry.last_error or ""))
            for job, why in ledgers.troubled(s, since):
                lines.append((slug, f"jobrun:{job.id}", f"{job.kind} {why}: {job.title}", "-", job.message or ""))
    if not lines:
        click.echo("no failed jobs")
        return
    click.echo("tenant\tkey\tjob\tattempts\tlast error")
    for line in lines:
        click.echo("\t".join(v.replace("\t", " ").replace("\n", " ") for v in line))
    raise SystemExit(1)


@jobs_group.command("retry")
@click.argument("slug")
@click.argument("key")
def jobs_retry(slug: str, key: str) -> None:
    """Run a failed job again: an outbox KEY, or jobrun:<id> (both as `pingan jobs failed` lists them)."""
    import re as _re
    from core import jobs, ledgers, outbox
    from core.context import Actor, acting_as
    from core.db import bind_tenant
    from core.models import JobRun, Tenant
    state = _state(_config())
    jobs.bind_state(state)
    with state.db.Session() as s:
        tid = s.scalar(select(Tenant.id).where(Tenant.slug == slug))
    if tid is None:
        raise click.ClickException(f"no tenant {slug!r}")
    with acting_as(Actor(None, "cli:jobs-retry")), bind_tenant(tid), state.db.transaction(tid) as s:
        if not outbox.retry(s, key):
            m = _re.fullmatch(r"jobrun:([0-9]{1,18})", key)
            job = s.scalar(select(JobRun).where(JobRun.id == int(m.group(1)))) if m else None
            if job is None or ledgers.trouble(job) is None:
                raise click.ClickException(f"{slug}: no failed job {key!r} (see `pingan jobs failed`)")
            ledgers.requeue(s, job)
    q = jobs.queue(state.config)
    if isinstance(q, jobs.InProcessQueue):  # no worker to hand it to: run it here, now
        q.run_pending()
        click.echo(f"{slug}: {key} ran again (see `pingan jobs failed` for the outcome)")
    else:
        click.echo(f"{slug}: {key} queued again for the workers")


# --- serving ------------------------------------------------------------------------------

def web_server(app, host: str, port: int, threads: int):
    """The waitress server of ``pingan serve`` (``.run()`` serves; the proxy test runs it too)."""
    from waitress import create_server
    # the forwarding headers go to the app, which honours them only from PINGAN_TRUSTED_PROXIES
    # (core/proxies.py); waitress would otherwise drop them, having no trusted_proxy of its own
    return create_server(app, host=host, port=port, threads=threads, ident="pingan",
                         clear_untrusted_proxy_headers=False)


def _serve(app, host: str, port: int, threads: int) -> None:
    """Serve until SIGTERM or SIGINT, then finish the requests in flight within
    ``PINGAN_SHUTDOWN_GRACE_SECONDS`` and return (``core.serving``; docs/operations.md)."""
    from core.runtime import settle_heap
    from core.serving import serve
    server = web_server(app, host, port, threads)
    settle_heap()  # start-up done: its objects leave the garbage collector's sight
    serve(server, app.extensions["pingan"].config.shutdown_grace_seconds)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--threads", default=8, show_default=True)
def serve(host: str, port: int, threads: int) -> None:
    """Serve the web app (and, without Redis, run jobs in-process). SIGTERM or SIGINT stops it
    gracefully: no new connections, the requests in flight finish (``PINGAN_SHUTDOWN_GRACE_SECONDS``)."""
    from core import jobs
    from core.app import create_app, pingan
    app = create_app(_config())
    if not app.extensions["pingan"].config.redis_url:
        # jobs on a database connection of their own, with the job role's timeouts, not the web's
        jobs.start_inprocess(_state(pingan(app).config))
    click.echo(f"Pingan on http://{host}:{port}/")
    _serve(app, host, port, threads)


@main.command()
@click.option("--burst", is_flag=True, help="Run what is queued, then exit.")
@click.option("--queue", "which", type=click.Choice(["all", "urgent"]), default="all", show_default=True,
              help="all: urgent jobs first, then bulk ones (exports, imports, recomputes); urgent: urgent jobs only.")
def worker(burst: bool, which: str) -> None:
    """An rq worker with rq's scheduler and the periodic jobs as threads of this process.

    SIGTERM or SIGINT: take no new job, give the running one ``PINGAN_SHUTDOWN_GRACE_SECONDS``
    to finish — else kill its work horse and put the job back at the front of its queue — and
    exit; a second one (a second or more later) kills the running job's work horse and exits at
    once (a long job is queued again by the sweep once its lease runs out)."""
    from core import jobs
    jobs.serve_jobs(_state(_config()), burst=burst, which=which)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--tenant-folder", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=REPO_TENANTS / "demo", show_default=True)
@click.option("--no-serve", is_flag=True, help="Set up and exit (for measurements and CI).")
@click.option("--cases", type=click.IntRange(0, 5000), default=None,
              help="Cases in the year of demo activity made when the county is created (default: 200 "
                   "for tenants/demo, none for another folder; 0: none, the modules stay as the folder says).")
def demo(host: str, port: int, tenant_folder: Path, no_serve: bool, cases: int | None) -> None:
    """Embedded default with the demo county: SQLite, in-process worker, web server.

    When it creates the county it also switches every built-in module on and plays a year of
    activity ending now through the real services, each module its own share through the hook
    ``pingan_demo_activity`` (core/demo_activity.py, docs/demo.md). The
    log-in page lists the demo accounts (this command only; never in production)."""
    started = time.perf_counter()
    from core import jobs
    from core.app import create_app, pingan
    from core.migrate import upgrade
    from core.models import Tenant
    import tomllib
    slug = tomllib.loads((tenant_folder / "tenant.toml").read_text(encoding="utf-8")).get("slug", "demo")
    config = _config(default_tenant=slug)
    _refuse_demo_in_production(config, True)
    app = create_app(config)
    state = pingan(app)
    upgrade(config, state.plugins)
    with state.db.Session() as s:
        exists = s.scalar(select(Tenant.id).where(Tenant.slug == slug))
    if not exists:
        report = _load(state, tenant_folder, demo=True)
        click.echo(f"loaded demo county: {report.units_added} units, {len(report.users_added)} users")
        if cases is None:  # the activity is laid out for tenants/demo's accounts and units
            from core.demo_activity import DEFAULT_CASES
            cases = DEFAULT_CASES if tenant_folder.resolve() == (REPO_TENANTS / "demo").resolve() else 0
        if cases:
            from core.demo_activity import generate, switch_on_modules
            on = switch_on_modules(state, report.tenant_id)
            click.echo(f"modules switched on: {', '.join(on) or 'none (already on)'}; playing a year of activity …")
            summary = generate(app, report.tenant_id, cases=cases)
            click.echo(f"demo activity: {summary.line()}")
            if summary.skipped:
                click.echo(f"  {len(summary.skipped)} acts refused by the services (see the log)", err=True)
    _show_demo_accounts(state, slug, tenant_folder)
    ready = time.perf_counter() - started
    click.echo(f"ready in {ready:.2f}s  database: {config.database_url}")
    click.echo(f"open http://{host}:{port}/   (accounts and password: on the log-in page and in docs/demo.md)")
    if no_serve:
        return
    jobs.start_inprocess(_state(config))  # the job role's connections and timeouts
    _serve(app, host, port, 8)


def _show_demo_accounts(state, slug: str, tenant_folder: Path) -> None:
    """Tell the web app it runs as the demo: its log-in page then lists the county's accounts
    and the folder's demo password (``core.web`` reads ``config.extra["demo_login"]``). Only
    this command sets it, and it refuses production."""
    import tomllib
    from core.demo import login_accounts
    from core.models import Tenant
    password = tomllib.loads((tenant_folder / "tenant.toml").read_text(encoding="utf-8")).get("demo_password")
    with state.db.Session() as s:
        tid = s.scalar(select(Tenant.id).where(Tenant.slug == slug))
    if tid is None or not password:
        return
    with state.db.transaction(tid) as s:
        accounts = login_accounts(s, state.plugins.case_types_for(state.plugins.enabled(s, tid)))
    state.config.extra["demo_login"] = {"tenant_id": tid, "password": password, "accounts": accounts}


if __name__ == "__main__":
    sys.exit(main())
