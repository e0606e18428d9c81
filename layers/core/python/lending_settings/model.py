"""The typed settings and the rules between them."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlparse

import msgspec

ENVIRONMENTS = ("development", "test", "production")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")  # the standard library's, any case
LAMBDA_LIMIT = timedelta(seconds=29)  # API Gateway's integration timeout; the functions' Timeout too
_ASYMMETRIC = {f"{family}{bits}" for family in ("RS", "PS", "ES") for bits in (256, 384, 512)}
SECRET_FIELDS = frozenset({"database_url", "database_read_url", "stripe_api_key", "stripe_webhook_secret", "smtp_url"})


class ConfigError(Exception):
    pass


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every setting with its default; the variable is the field's name in capitals (see reader.RENAMED)."""

    database_url: str = ""
    database_read_url: str | None = None
    database_read_max_lag_seconds: float = 30.0
    database_sslmode: str | None = None  # added to the database URLs that do not say (verify-full on AWS)
    database_sslrootcert: str | None = None  # the CA bundle verify-full checks the server against
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_groups_claim: str = "groups"
    librarian_group: str = "librarians"
    librarian_subjects: tuple[str, ...] = ()
    oidc_algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256")
    oidc_leeway_seconds: int = 30
    oidc_jwks_ttl_seconds: int = 300
    oidc_jwks_min_refresh_seconds: float = 10.0
    oidc_jwks_max_stale: timedelta = timedelta(hours=1)  # how long cached keys serve during a provider outage
    stripe_api_key: str = ""
    stripe_api_base: str | None = None
    stripe_webhook_secret: str = ""
    stripe_timeout_seconds: float = 10.0
    stripe_max_retries: int = 2
    stripe_publishable_key: str = ""
    stripe_js_url: str = "https://js.stripe.com/v3/"
    default_currency: str = "usd"
    loan_days: int = 21
    loan_period: timedelta | None = None  # LOAN_PERIOD (ISO 8601, e.g. P21D) wins over LOAN_DAYS
    max_holds_per_patron: int = 10  # waiting or ready holds one patron may have at once
    hold_pickup_period: timedelta = timedelta(days=7)  # how long a copy waits on the hold shelf
    max_renewals: int = 2  # per loan
    late_fee_cents: int = 25  # per started FEE_INTERVAL past the due date (docs/fees.md)
    fee_interval: timedelta = timedelta(days=1)
    fee_grace_period: timedelta = timedelta(days=1)  # no late fee within it
    lost_after: timedelta = timedelta(days=60)  # overdue this long: the overdue job declares the copy lost
    max_balance_cents: int = 1000  # a balance over it blocks borrowing, renewing and holds
    block_overdue_after: timedelta = timedelta(days=14)  # so does a loan overdue by more than this
    reconcile_grace_seconds: float = 120.0
    reconcile_retry_first: timedelta = timedelta(minutes=5)  # backoff for a payment reconcile could not settle
    reconcile_retry_max: timedelta = timedelta(hours=6)
    idempotency_retention: timedelta = timedelta(days=2)  # a finished key replays its answer this long, then goes
    processor_event_retention: timedelta = timedelta(days=30)  # a seen processor event id is kept this long
    retention_batch_size: int = 1000  # rows per DELETE of the retention job
    jobs_interval: timedelta | None = None  # make run's scheduler: every job at this period instead of its schedule
    db_pool_size: int = 8
    db_timeout_seconds: float = 5.0
    db_statement_timeout: timedelta = timedelta(seconds=5)  # server-side, per connection (0 = none)
    db_lock_timeout: timedelta = timedelta(seconds=2)
    request_budget: timedelta = timedelta(seconds=25)  # every step of a request ends within it (< nginx 30 s, Lambda 29 s)
    version: str = "dev"
    environment: str = "development"
    service_name: str = "lending"
    log_level: str = "INFO"
    metrics_namespace: str = "LibraryLending"
    metrics: bool = True
    # notices (docs/notices.md)
    reminder_before_due: timedelta = timedelta(days=2)  # a due-soon notice this long before the due date
    overdue_second_notice_after: timedelta = timedelta(days=7)  # the second overdue notice, after the due date
    notice_max_attempts: int = 5  # sends refused for now, then the notice is failed
    notice_retry_first: timedelta = timedelta(minutes=5)  # backoff between attempts, doubling up to the max
    notice_retry_max: timedelta = timedelta(hours=6)
    notice_batch_size: int = 200  # notices one send_notices run sends at most
    smtp_url: str = ""  # smtp://, smtp+starttls:// or smtps://, with user:password when the server wants AUTH
    smtp_timeout_seconds: float = 10.0
    mail_from: str = ""  # the sender address (on AWS: the SES identity in the template)
    library_name: str = "The Library"
    library_timezone: str = "UTC"  # dates in mails (IANA name, zoneinfo)
    public_base_url: str = "http://127.0.0.1:8000"  # links in mails go to its account page
    # the librarian's desk (issue 15)
    max_import_bytes: int = 10_000_000  # POST /imports: a bigger file is 413
    import_batch_size: int = 500  # records per transaction of an import
    import_borrow_fee_cents: int = 199  # the borrow fee of an imported copy whose record names none

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__struct_fields__ if name not in SECRET_FIELDS)
        return f"Settings({shown})"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def loan(self) -> timedelta:
        return self.loan_period if self.loan_period is not None else timedelta(days=self.loan_days)

    def __post_init__(self) -> None:
        _check_values(self)
        _check_notices(self)
        if self.is_production:
            _check_production(self)


def _check_values(s: Settings) -> None:
    if s.environment not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}")
    if s.log_level.upper() not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    if s.database_url and urlparse(s.database_url).scheme not in ("postgresql", "postgres"):
        raise ConfigError("DATABASE_URL must be a postgresql:// URL")
    if not s.oidc_algorithms or set(s.oidc_algorithms) & {"none", "HS256", "HS384", "HS512"}:
        raise ConfigError("OIDC_ALGORITHMS may list only asymmetric algorithms (RS*, PS*, ES*)")
    if set(s.oidc_algorithms) - _ASYMMETRIC:
        raise ConfigError("OIDC_ALGORITHMS may list only RS256/384/512, PS256/384/512, ES256/384/512")
    if s.oidc_jwks_ttl_seconds <= 0 or s.oidc_jwks_min_refresh_seconds < 0:
        raise ConfigError("OIDC_JWKS_TTL_SECONDS must be positive and OIDC_JWKS_MIN_REFRESH_SECONDS not negative")
    if not 0 <= s.oidc_leeway_seconds <= 300:
        raise ConfigError("OIDC_LEEWAY_SECONDS must be between 0 and 300")
    if s.database_read_max_lag_seconds <= 0:
        raise ConfigError("DATABASE_READ_MAX_LAG_SECONDS must be positive")
    if s.stripe_timeout_seconds <= 0 or s.stripe_timeout_seconds > 60:
        raise ConfigError("STRIPE_TIMEOUT_SECONDS must be in (0, 60]")
    if s.stripe_publishable_key and not s.stripe_publishable_key.startswith("pk_"):
        raise ConfigError("STRIPE_PUBLISHABLE_KEY must be a publishable key (pk_…)")
    if s.database_sslmode not in (None, "disable", "allow", "prefer", "require", "verify-ca", "verify-full"):
        raise ConfigError("DATABASE_SSLMODE must be one of disable, allow, prefer, require, verify-ca, verify-full")
    if s.db_pool_size < 1:
        raise ConfigError("DB_POOL_SIZE must be at least 1")
    for name in ("oidc_jwks_max_stale", "reconcile_retry_first", "reconcile_retry_max", "db_statement_timeout",
                 "db_lock_timeout"):
        if getattr(s, name) < timedelta(0):
            raise ConfigError(f"{name.upper()} must not be negative")
    if not timedelta(0) < s.request_budget < LAMBDA_LIMIT:
        raise ConfigError("REQUEST_BUDGET must be positive and under 29 s (API Gateway's and Lambda's limit; "
                          "nginx's proxy_read_timeout is 30 s)")
    if s.max_holds_per_patron < 1:
        raise ConfigError("MAX_HOLDS_PER_PATRON must be at least 1")
    if s.hold_pickup_period <= timedelta(0):
        raise ConfigError("HOLD_PICKUP_PERIOD must be positive")
    if s.max_renewals < 0:
        raise ConfigError("MAX_RENEWALS must not be negative")
    if s.loan_period is not None and s.loan_period <= timedelta(0):
        raise ConfigError("LOAN_PERIOD must be positive")
    for name in ("idempotency_retention", "processor_event_retention"):
        if getattr(s, name) <= timedelta(0):
            raise ConfigError(f"{name.upper()} must be positive")
    if s.retention_batch_size < 1:
        raise ConfigError("RETENTION_BATCH_SIZE must be at least 1")
    if s.late_fee_cents < 0 or s.max_balance_cents < 0:
        raise ConfigError("LATE_FEE_CENTS and MAX_BALANCE_CENTS must not be negative")
    for name in ("fee_interval", "lost_after"):
        if getattr(s, name) <= timedelta(0):
            raise ConfigError(f"{name.upper()} must be positive")
    for name in ("fee_grace_period", "block_overdue_after"):
        if getattr(s, name) < timedelta(0):
            raise ConfigError(f"{name.upper()} must not be negative")
    if s.jobs_interval is not None and s.jobs_interval <= timedelta(0):
        raise ConfigError("JOBS_INTERVAL must be positive")
    _check_desk(s)


def _check_desk(s: Settings) -> None:
    if s.max_import_bytes < 1 or s.import_batch_size < 1 or s.import_borrow_fee_cents < 1:
        raise ConfigError("MAX_IMPORT_BYTES, IMPORT_BATCH_SIZE and IMPORT_BORROW_FEE_CENTS must be positive")
    # LIBRARY_TIMEZONE (also the reports' days) is checked with the notices' settings


def _check_notices(s: Settings) -> None:
    for name in ("reminder_before_due", "overdue_second_notice_after", "notice_retry_first", "notice_retry_max"):
        if getattr(s, name) <= timedelta(0):
            raise ConfigError(f"{name.upper()} must be positive")
    if s.notice_max_attempts < 1 or s.notice_batch_size < 1:
        raise ConfigError("NOTICE_MAX_ATTEMPTS and NOTICE_BATCH_SIZE must be at least 1")
    if s.smtp_url and urlparse(s.smtp_url).scheme not in ("smtp", "smtp+starttls", "smtps"):
        raise ConfigError("SMTP_URL must be smtp://, smtp+starttls:// or smtps://")
    if s.mail_from and s.mail_from.find("@") < 1:
        raise ConfigError("MAIL_FROM must be an address")
    if urlparse(s.public_base_url).scheme not in ("http", "https"):
        raise ConfigError("PUBLIC_BASE_URL must be an http(s) URL")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(s.library_timezone)
    except (ValueError, LookupError) as exc:
        raise ConfigError(f"LIBRARY_TIMEZONE: no time zone {s.library_timezone!r}") from exc


def _check_production(s: Settings) -> None:
    """Dev conveniences cannot be reached by accident in production configuration."""
    if urlparse(s.oidc_issuer).scheme != "https":
        raise ConfigError("OIDC_ISSUER must be https in production")
    if s.stripe_api_base is not None:
        raise ConfigError("STRIPE_API_BASE (a Stripe stand-in) is not allowed in production")
    if s.stripe_api_key and not s.stripe_webhook_secret:
        raise ConfigError("STRIPE_WEBHOOK_SECRET is required in production")
    if s.stripe_js_url != "https://js.stripe.com/v3/":
        raise ConfigError("STRIPE_JS_URL must be Stripe's own https://js.stripe.com/v3/ in production")


# What each layer's adapter cannot start without: a host checks the layers it serves, so a function
# that never talks to Stripe starts without a Stripe key (and is never given one).
REQUIRED_BY_LAYER: dict[str, tuple[str, ...]] = {
    "database": ("database_url",),
    "auth": ("oidc_issuer", "oidc_audience"),
    "payments": ("stripe_api_key",),
}
# The mail layer's SMTP_URL and MAIL_FROM are checked when its adapter is built (lending_mail.mailer_from:
# the send_notices job fails naming the missing one), not at start-up: chalice local and the VMs serve
# every function, and must not refuse to serve loans on a machine that has no mail server configured yet.
MAIL_REQUIRED = ("smtp_url", "mail_from")


class MigrationSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What `make migrate` and a deploy's migration step need, and nothing else."""

    database_url: str
    allow_destructive_migrations: bool = False
    db_migration_statement_timeout: timedelta = timedelta(minutes=10)
    db_migration_lock_timeout: timedelta = timedelta(seconds=10)
