"""Configuration from environment variables.

Every setting Pingan reads is declared once in ``SETTINGS`` below; ``docs/configuration.md``
is checked against this table by ``tests/test_contracts.py``. Nothing else in the code base
reads ``os.environ`` for Pingan settings.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(RuntimeError):
    """The environment does not describe a runnable Pingan."""


@dataclass(frozen=True)
class Setting:
    env: str
    default: str | None
    doc: str


SETTINGS: tuple[Setting, ...] = (
    Setting("PINGAN_ENV", "development",
            "`development`, `test` or `production`. Production refuses to start without a real "
            "secret key and data keys."),
    Setting("PINGAN_DATABASE_URL", None,
            "SQLAlchemy URL. Unset: an SQLite file under `PINGAN_INSTANCE_DIR` (embedded default). "
            "PostgreSQL: `postgresql+psycopg://user@host/db`."),
    Setting("PINGAN_REDIS_URL", None,
            "Redis URL for the job queue (`redis://host:6379/0`). Unset: jobs run in an in-process "
            "worker thread (embedded default)."),
    Setting("PINGAN_DB_APP_ROLE", "pingan_app",
            "PostgreSQL role the application runs as. It owns no table and has no BYPASSRLS; "
            "`pingan db upgrade` creates it (if missing) and grants it what it may do. With "
            "`PINGAN_MIGRATION_DATABASE_URL` set (production) `PINGAN_DATABASE_URL` logs in as this "
            "role itself; without it (development, tests) the login role of `PINGAN_DATABASE_URL` is "
            "the schema owner and switches to this role with `SET ROLE` on connect."),
    Setting("PINGAN_MIGRATION_DATABASE_URL", None,
            "PostgreSQL: the schema owner's URL, used only by `pingan db upgrade` (migrations, grants, "
            "row-level security). Set it, and `PINGAN_DATABASE_URL` logs in as `PINGAN_DB_APP_ROLE` "
            "(no `SET ROLE`: an injected `RESET ROLE` has no owner to fall back to). Required in "
            "production on PostgreSQL. Unset: `PINGAN_DATABASE_URL` serves both."),
    Setting("PINGAN_SECRET_KEY", None,
            "Key for signing cookies and CSRF tokens. Required in production (32+ characters)."),
    Setting("PINGAN_DATA_KEYS", None,
            "Keys for sensitive fields at rest: `kid:base64key[,kid:base64key…]`, 32-byte keys, the "
            "first encrypts, all decrypt (key rotation: put the new key first, run "
            "`pingan crypto rotate`). Required in production."),
    Setting("PINGAN_INDEX_KEY", None,
            "Key for the keyed-hash blind index of sensitive fields (base64, 32 bytes). Required in "
            "production; never rotate it without `pingan crypto reindex`."),
    Setting("PINGAN_DEFAULT_TENANT", None,
            "Slug of the tenant served on host names that map to no tenant (single-county "
            "installs and the demo)."),
    Setting("PINGAN_BASE_DOMAIN", None,
            "Tenants are also served at `<slug>.<PINGAN_BASE_DOMAIN>`."),
    Setting("PINGAN_OPERATOR_TENANT", "platform",
            "Slug of the platform tenant: its users are the platform operators (console `/operator`, "
            "served on that tenant's host names). Created with its first operator by `pingan operator "
            "create`; see docs/ui.md."),
    Setting("PINGAN_TENANTS_DIR", None,
            "Folder of `tenants/<slug>` folders the operator console offers to create a county from. "
            "Unset: the `tenants/` folder next to the code."),
    Setting("PINGAN_INSTANCE_DIR", "instance",
            "Folder for the embedded database, uploads and other local state."),
    Setting("PINGAN_LOG_LEVEL", "INFO", "Log level of the JSON log on standard error."),
    Setting("PINGAN_SHUTDOWN_GRACE_SECONDS", "30",
            "On SIGTERM or SIGINT `pingan serve` stops accepting connections and gives the requests "
            "in flight this long to finish before it exits; `pingan worker` gives its running job "
            "this long, then queues it again (docs/operations.md)."),
    Setting("PINGAN_SESSION_IDLE_MINUTES", "30", "Web session idle timeout."),
    Setting("PINGAN_SESSION_MAX_HOURS", "12", "Web session absolute timeout."),
    Setting("PINGAN_LOGIN_MAX_FAILURES", "5",
            "Failed logins in a row that lock an account."),
    Setting("PINGAN_LOGIN_LOCK_MINUTES", "15", "How long a locked account stays locked."),
    Setting("PINGAN_ONE_TIME_PASSWORD_HOURS", "24",
            "How long a one-time password set by an admin (new account, reset) stays good."),
    Setting("PINGAN_LOGIN_IP_LIMIT", "20",
            "Failed logins from one address per 10 minutes before that address is refused (429)."),
    Setting("PINGAN_COOKIE_SECURE", "auto",
            "`true`, `false` or `auto` (secure cookies in production)."),
    Setting("PINGAN_TRUSTED_PROXIES", None,
            "Addresses or networks of the reverse proxies in front, comma-separated (`127.0.0.1`, "
            "`10.0.0.5,10.0.0.0/24`). Only a request arriving from one of them has its "
            "X-Forwarded-For/-Proto/-Host honoured (the client is the right-most X-Forwarded-For "
            "address that is not a proxy of the list); from anyone else those headers are dropped. "
            "Unset: trust none. See Production checklist."),
    Setting("PINGAN_STORAGE_DIR", None,
            "Where attachments and generated files (exports, documents) are stored. Unset: "
            "`files/` under `PINGAN_INSTANCE_DIR`. Every worker and web process must see the same "
            "folder (a shared volume in a multi-host setup)."),
    Setting("PINGAN_UPLOAD_MAX_MB", "20", "Largest attachment accepted, in MiB."),
    Setting("PINGAN_IDEMPOTENCY_HOURS", "24",
            "How long a write's `Idempotency-Key` (or a form's one-time token) and its answer are kept: "
            "a retry with the same key within this time gets the first answer and writes nothing again."),
    Setting("PINGAN_SMTP_URL", None,
            "Mail server for e-mail notifications: `smtp://user:password@host:587` (STARTTLS) or "
            "`smtps://…:465`. Unset: no e-mail; the in-app inbox still works."),
    Setting("PINGAN_MAIL_FROM", None, "Sender address of notification e-mails (required with `PINGAN_SMTP_URL`)."),
    # --- database timeouts per role and the web request deadline (issue 25; docs/configuration.md,
    # "Timeouts and 503"): seconds, decimals allowed, 0 = no limit
    Setting("PINGAN_WEB_STATEMENT_TIMEOUT_SECONDS", "15",
            "Web requests: longest single SQL statement (PostgreSQL `statement_timeout`); a request "
            "whose statement runs longer answers 503 `timeout` and saves nothing."),
    Setting("PINGAN_SEARCH_TIMEOUT_SECONDS", "3",
            "Keyword search (`q` of the case list): longest statement of a search (PostgreSQL); a "
            "search that cannot be answered in time answers 503 `search_timeout` with a message asking "
            "for more specific words or a narrower scope. 0 = the web statement limit only."),
    Setting("PINGAN_WEB_LOCK_TIMEOUT_SECONDS", "5",
            "Web requests: longest wait for a row or table lock (PostgreSQL `lock_timeout`; SQLite: the "
            "busy timeout on the write lock). Also bounds the wait for a free pooled connection and for "
            "connecting to PostgreSQL (at least 2 s)."),
    Setting("PINGAN_WEB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", "60",
            "Web requests: PostgreSQL ends a session left idle inside a transaction this long "
            "(`idle_in_transaction_session_timeout`), releasing its locks."),
    Setting("PINGAN_WEB_REQUEST_TIMEOUT_SECONDS", "20",
            "Whole-request deadline: a request still running this long after a server thread took it "
            "up does not commit (503 `timeout`, rolled back); once it has committed a write, later "
            "commits of the same request go through. The time it queued for a free thread is not "
            "counted: keep the deadline plus that wait below the time clients and the reverse proxy "
            "wait, so a write is never saved after its client gave up."),
    Setting("PINGAN_JOB_STATEMENT_TIMEOUT_SECONDS", "600",
            "Background jobs (`pingan worker`) and CLI commands: longest single SQL statement."),
    Setting("PINGAN_JOB_LOCK_TIMEOUT_SECONDS", "30",
            "Background jobs and CLI commands: longest wait for a lock (SQLite: the busy timeout)."),
    Setting("PINGAN_JOB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", "600",
            "Background jobs and CLI commands: longest idle time inside a transaction."),
    Setting("PINGAN_MIGRATION_STATEMENT_TIMEOUT_SECONDS", "0",
            "`pingan db upgrade`: longest single SQL statement; 0 (no limit), a data migration over a "
            "big table may take long."),
    Setting("PINGAN_MIGRATION_LOCK_TIMEOUT_SECONDS", "10",
            "`pingan db upgrade`: longest wait for a table lock. A schema change queued behind a long "
            "transaction would stall every request behind it; it gives up instead (run it again)."),
    Setting("PINGAN_MIGRATION_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", "600",
            "`pingan db upgrade`: longest idle time inside its transaction."),
    # --- long jobs owned by the database (issue 25; docs/cases.md, "Reminders, jobs and the outbox")
    Setting("PINGAN_JOB_LEASE_SECONDS", "60",
            "A long job (export, import, recompute) is owned by the worker running it for this long "
            "after its last sign of life (a heartbeat every third of it); then the sweep queues it "
            "again. Also how long a queued long job may wait before the sweep checks that its queue "
            "entry still exists."),
    Setting("PINGAN_JOB_MAX_ATTEMPTS", "3",
            "Interrupted attempts of a long job (its worker died or stopped answering) after which "
            "the sweep gives up and marks it failed."),
    Setting("PINGAN_IMPORT_MAX_ROWS", "200000",
            "Most data rows of one ledger import file (台账导入); a longer file fails with the bound "
            "named (`too_many_rows`) and nothing imported. The import streams the file and writes in "
            "chunks, so memory does not grow with it; the bound caps how long one import holds its "
            "transaction (bench/results/imports.md)."),
    Setting("PINGAN_PDF_FONT", None,
            "A TrueType/OpenType font file with Chinese glyphs to embed in generated PDFs (e.g. "
            "`/usr/share/fonts/truetype/wqy/wqy-microhei.ttc`). Unset: the standard Adobe Chinese "
            "font STSong-Light is referenced, which PDF readers supply (nothing is embedded)."),
)

_BY_ENV = {s.env: s for s in SETTINGS}


def env(name: str) -> str | None:
    """Read one declared setting (unknown names are a programming error)."""
    setting = _BY_ENV[name]
    value = os.environ.get(name)
    return setting.default if value in (None, "") else value


@dataclass(frozen=True)
class DbTimeouts:
    """One role's database timeouts in seconds; 0 is no limit (``core.db.make_engine``)."""

    statement: float = 0
    lock: float = 0
    idle_in_transaction: float = 0


WEB_TIMEOUTS = DbTimeouts(15, 5, 60)
JOB_TIMEOUTS = DbTimeouts(600, 30, 600)
MIGRATION_TIMEOUTS = DbTimeouts(0, 10, 600)


@dataclass
class Config:
    env: str = "development"
    database_url: str = ""
    migration_database_url: str | None = None
    redis_url: str | None = None
    db_app_role: str = "pingan_app"
    secret_key: str = ""
    data_keys: str | None = None
    index_key: str | None = None
    default_tenant: str | None = None
    base_domain: str | None = None
    instance_dir: Path = Path("instance")
    log_level: str = "INFO"
    shutdown_grace_seconds: int = 30
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    login_ip_limit: int = 20
    one_time_password_hours: int = 24
    cookie_secure: bool = False
    trusted_proxies: tuple = ()  # ipaddress networks of the reverse proxies (``proxy_networks``)
    storage_dir: Path | None = None
    upload_max_mb: int = 20
    idempotency_hours: int = 24
    smtp_url: str | None = None
    mail_from: str | None = None
    pdf_font: str | None = None
    operator_tenant: str = "platform"
    tenants_dir: Path | None = None
    web_timeouts: DbTimeouts = WEB_TIMEOUTS
    job_timeouts: DbTimeouts = JOB_TIMEOUTS
    migration_timeouts: DbTimeouts = MIGRATION_TIMEOUTS
    request_timeout_seconds: float = 20.0
    job_lease_seconds: int = 60
    job_max_attempts: int = 3
    import_max_rows: int = 200000
    extra: dict = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def migration_url(self) -> str:
        """The URL ``pingan db upgrade`` connects with: the schema owner's."""
        return self.migration_database_url or self.database_url

    @property
    def set_role(self) -> str | None:
        """The role the app's connections ``SET ROLE`` to: none on SQLite, none when the app
        logs in as the app role itself (``PINGAN_MIGRATION_DATABASE_URL`` set: production)."""
        if not self.is_postgres or self.migration_database_url:
            return None
        return self.db_app_role or None

    @classmethod
    def from_env(cls, **overrides) -> "Config":
        instance = Path(env("PINGAN_INSTANCE_DIR") or "instance").resolve()
        cfg = cls(
            env=env("PINGAN_ENV") or "development",
            database_url=env("PINGAN_DATABASE_URL") or "",
            migration_database_url=env("PINGAN_MIGRATION_DATABASE_URL"),
            redis_url=env("PINGAN_REDIS_URL"),
            db_app_role=env("PINGAN_DB_APP_ROLE") or "",
            secret_key=env("PINGAN_SECRET_KEY") or "",
            data_keys=env("PINGAN_DATA_KEYS"),
            index_key=env("PINGAN_INDEX_KEY"),
            default_tenant=env("PINGAN_DEFAULT_TENANT"),
            base_domain=env("PINGAN_BASE_DOMAIN"),
            instance_dir=instance,
            log_level=(env("PINGAN_LOG_LEVEL") or "INFO").upper(),
            shutdown_grace_seconds=_int("PINGAN_SHUTDOWN_GRACE_SECONDS"),
            session_idle_minutes=_int("PINGAN_SESSION_IDLE_MINUTES"),
            session_max_hours=_int("PINGAN_SESSION_MAX_HOURS"),
            login_max_failures=_int("PINGAN_LOGIN_MAX_FAILURES"),
            login_lock_minutes=_int("PINGAN_LOGIN_LOCK_MINUTES"),
            login_ip_limit=_int("PINGAN_LOGIN_IP_LIMIT"),
            one_time_password_hours=_int("PINGAN_ONE_TIME_PASSWORD_HOURS"),
            trusted_proxies=env("PINGAN_TRUSTED_PROXIES") or (),
            storage_dir=Path(env("PINGAN_STORAGE_DIR")).resolve() if env("PINGAN_STORAGE_DIR") else None,
            upload_max_mb=_int("PINGAN_UPLOAD_MAX_MB"),
            idempotency_hours=_int("PINGAN_IDEMPOTENCY_HOURS"),
            smtp_url=env("PINGAN_SMTP_URL"),
            mail_from=env("PINGAN_MAIL_FROM"),
            pdf_font=env("PINGAN_PDF_FONT"),
            operator_tenant=env("PINGAN_OPERATOR_TENANT") or "platform",
            tenants_dir=Path(env("PINGAN_TENANTS_DIR")).resolve() if env("PINGAN_TENANTS_DIR") else None,
            web_timeouts=_timeouts("WEB"),
            job_timeouts=_timeouts("JOB"),
            migration_timeouts=_timeouts("MIGRATION"),
            request_timeout_seconds=_seconds("PINGAN_WEB_REQUEST_TIMEOUT_SECONDS"),
            job_lease_seconds=_int("PINGAN_JOB_LEASE_SECONDS"),
            job_max_attempts=_int("PINGAN_JOB_MAX_ATTEMPTS"),
            import_max_rows=_int("PINGAN_IMPORT_MAX_ROWS"),
        )
        secure = (env("PINGAN_COOKIE_SECURE") or "auto").lower()
        cfg.cookie_secure = cfg.is_production if secure == "auto" else secure == "true"
        for key, value in overrides.items():
            setattr(cfg, key, value)
        cfg.finish()
        return cfg

    def finish(self) -> None:
        """Fill embedded defaults, then refuse what production must not run with."""
        if not self.database_url:
            self.instance_dir.mkdir(parents=True, exist_ok=True)
            self.database_url = f"sqlite:///{self.instance_dir / 'pingan.sqlite3'}"
        if self.storage_dir is None:
            self.storage_dir = self.instance_dir / "files"
        if self.tenants_dir is None:
            self.tenants_dir = Path(__file__).resolve().parent.parent / "tenants"
        self.trusted_proxies = proxy_networks(self.trusted_proxies)
        if self.smtp_url and not self.mail_from:
            raise ConfigError("PINGAN_MAIL_FROM must be set when PINGAN_SMTP_URL is")
        if self.job_lease_seconds < 1 or self.job_max_attempts < 1:
            raise ConfigError("PINGAN_JOB_LEASE_SECONDS and PINGAN_JOB_MAX_ATTEMPTS must be at least 1")
        if self.import_max_rows < 1:
            raise ConfigError("PINGAN_IMPORT_MAX_ROWS must be at least 1")
        if self.is_production:
            problems = []
            if len(self.secret_key) < 32:
                problems.append("PINGAN_SECRET_KEY must be set to a random string of 32+ characters")
            if not self.data_keys:
                problems.append("PINGAN_DATA_KEYS must be set (see docs/configuration.md)")
            if not self.index_key:
                problems.append("PINGAN_INDEX_KEY must be set (see docs/configuration.md)")
            problems += self._production_database_problems()
            if problems:
                raise ConfigError("refusing to start in production: " + "; ".join(problems))
        else:
            self.secret_key = self.secret_key or _dev_secret(self.instance_dir)


    def _production_database_problems(self) -> list[str]:
        """On PostgreSQL the app logs in as the app role, never as the schema owner: an
        injected ``RESET ROLE`` (or ``SET ROLE`` to the owner) would step past row-level security."""
        if not self.is_postgres:
            return []
        from sqlalchemy.engine import make_url
        if not self.migration_database_url:
            return ["PINGAN_MIGRATION_DATABASE_URL must be set to the schema owner's URL, and PINGAN_DATABASE_URL "
                    f"log in as the app role {self.db_app_role!r} (see docs/configuration.md)"]
        try:
            app_user = make_url(self.database_url).username
            owner = make_url(self.migration_database_url).username
        except Exception:  # noqa: BLE001 — an unreadable URL is a problem to report, not a crash
            return ["PINGAN_DATABASE_URL or PINGAN_MIGRATION_DATABASE_URL is not a valid URL"]
        if app_user != self.db_app_role:
            return [f"PINGAN_DATABASE_URL must log in as the app role {self.db_app_role!r} (PINGAN_DB_APP_ROLE), "
                    f"not {app_user!r}"]
        if owner == app_user:
            return ["PINGAN_MIGRATION_DATABASE_URL must log in as the schema owner, not as the app role"]
        return []


def _int(name: str) -> int:
    raw = env(name)
    try:
        return int(raw or "0")
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _seconds(name: str) -> float:
    raw = env(name)
    try:
        value = float(raw or "0")
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from exc
    if not 0 <= value < 10 ** 7:  # also refuses nan and inf
        raise ConfigError(f"{name} must be 0 (no limit) or a positive number of seconds, got {raw!r}")
    return value


def _timeouts(role: str) -> DbTimeouts:
    """``PINGAN_<ROLE>_{STATEMENT,LOCK,IDLE_IN_TRANSACTION}_TIMEOUT_SECONDS`` as one value."""
    return DbTimeouts(_seconds(f"PINGAN_{role}_STATEMENT_TIMEOUT_SECONDS"),
                      _seconds(f"PINGAN_{role}_LOCK_TIMEOUT_SECONDS"),
                      _seconds(f"PINGAN_{role}_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS"))


def proxy_networks(raw) -> tuple:
    """``PINGAN_TRUSTED_PROXIES`` (a comma-separated string or a sequence) as ip networks."""
    import ipaddress
    items = [p.strip() for p in raw.split(",")] if isinstance(raw, str) else list(raw or ())
    out = []
    for item in items:
        if isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            out.append(item)
            continue
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            hint = " (it lists the proxies' addresses now, not how many there are)" if item.isdigit() else ""
            raise ConfigError(f"PINGAN_TRUSTED_PROXIES: {item!r} is not an address or network{hint}") from exc
    return tuple(out)


def _dev_secret(instance_dir: Path) -> str:
    """A per-install random secret for development, kept so sessions survive restarts."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / "dev-secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
