"""The one place that reads the environment. Adapters receive values, never os.environ.

Settings are read once per process and validated; a bad setting stops start-up with
a message naming it (and never its value when it is a secret).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote, urlparse, urlunparse


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    database_url: str = field(repr=False)  # may hold a password
    database_read_url: str | None = field(default=None, repr=False)
    database_read_max_lag_seconds: float = 30.0
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_groups_claim: str = "groups"
    librarian_group: str = "librarians"
    librarian_subjects: tuple[str, ...] = ()
    oidc_algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256")
    oidc_leeway_seconds: int = 30
    oidc_jwks_ttl_seconds: int = 300
    oidc_jwks_min_refresh_seconds: float = 10.0
    stripe_api_key: str = field(default="", repr=False)
    stripe_api_base: str | None = None
    stripe_webhook_secret: str = field(default="", repr=False)
    stripe_timeout_seconds: float = 10.0
    stripe_max_retries: int = 2
    stripe_publishable_key: str = ""
    stripe_js_url: str = "https://js.stripe.com/v3/"
    default_currency: str = "usd"
    loan_days: int = 21
    reconcile_grace_seconds: float = 120.0
    db_pool_size: int = 8
    db_timeout_seconds: float = 5.0
    version: str = "dev"
    environment: str = "development"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number") from None


def _csv(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if not raw:
        return default
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def from_env(env: Mapping[str, str], resolve: Resolver | None = None) -> Settings:
    """Settings from the environment; settings held in AWS are fetched through `resolve` (see below)."""
    env = with_references(env, resolve if resolve is not None else _resolver)

    def need(name: str) -> str:
        value = env.get(name, "").strip()
        if not value:
            raise ConfigError(f"{name} is required")
        return value

    database_url = need("DATABASE_URL")
    if urlparse(database_url).scheme not in ("postgresql", "postgres"):
        raise ConfigError("DATABASE_URL must be a postgresql:// URL")
    settings = Settings(
        database_url=database_url,
        database_read_url=env.get("DATABASE_READ_URL") or None,
        database_read_max_lag_seconds=_float(env, "DATABASE_READ_MAX_LAG_SECONDS", 30.0),
        oidc_issuer=need("OIDC_ISSUER").rstrip("/"),
        oidc_audience=need("OIDC_AUDIENCE"),
        oidc_groups_claim=env.get("OIDC_GROUPS_CLAIM") or "groups",
        librarian_group=env.get("LIBRARIAN_GROUP") or "librarians",
        librarian_subjects=_csv(env, "LIBRARIAN_SUBJECTS", ()),
        oidc_algorithms=_csv(env, "OIDC_ALGORITHMS", ("RS256", "ES256", "PS256")),
        oidc_leeway_seconds=_int(env, "OIDC_LEEWAY_SECONDS", 30),
        oidc_jwks_ttl_seconds=_int(env, "OIDC_JWKS_TTL_SECONDS", 300),
        oidc_jwks_min_refresh_seconds=_float(env, "OIDC_JWKS_MIN_REFRESH_SECONDS", 10.0),
        stripe_api_key=need("STRIPE_API_KEY"),
        stripe_api_base=env.get("STRIPE_API_BASE") or None,
        stripe_webhook_secret=env.get("STRIPE_WEBHOOK_SECRET", ""),
        stripe_timeout_seconds=_float(env, "STRIPE_TIMEOUT_SECONDS", 10.0),
        stripe_max_retries=_int(env, "STRIPE_MAX_RETRIES", 2),
        stripe_publishable_key=env.get("STRIPE_PUBLISHABLE_KEY", "").strip(),
        stripe_js_url=env.get("STRIPE_JS_URL") or "https://js.stripe.com/v3/",
        default_currency=(env.get("DEFAULT_CURRENCY") or "usd").lower(),
        loan_days=_int(env, "LOAN_DAYS", 21),
        reconcile_grace_seconds=_float(env, "RECONCILE_GRACE_SECONDS", 120.0),
        db_pool_size=_int(env, "DB_POOL_SIZE", 8),
        db_timeout_seconds=_float(env, "DB_TIMEOUT_SECONDS", 5.0),
        version=env.get("APP_VERSION") or "dev",
        environment=env.get("APP_ENV") or "development",
    )
    _check(settings)
    return settings


def _check(s: Settings) -> None:
    weak = {"none", "HS256", "HS384", "HS512"}
    if not s.oidc_algorithms or weak & set(s.oidc_algorithms):
        raise ConfigError("OIDC_ALGORITHMS may list only asymmetric algorithms (RS*, PS*, ES*)")
    if set(s.oidc_algorithms) - {f"{family}{bits}" for family in ("RS", "PS", "ES") for bits in (256, 384, 512)}:
        raise ConfigError("OIDC_ALGORITHMS may list only RS256/384/512, PS256/384/512, ES256/384/512")
    if s.oidc_jwks_ttl_seconds <= 0 or s.oidc_jwks_min_refresh_seconds < 0:
        raise ConfigError("OIDC_JWKS_TTL_SECONDS must be positive and OIDC_JWKS_MIN_REFRESH_SECONDS not negative")
    if not 0 <= s.oidc_leeway_seconds <= 300:
        raise ConfigError("OIDC_LEEWAY_SECONDS must be between 0 and 300")
    if s.database_read_max_lag_seconds <= 0:
        raise ConfigError("DATABASE_READ_MAX_LAG_SECONDS must be positive")
    if s.stripe_timeout_seconds <= 0 or s.stripe_timeout_seconds > 60:
        raise ConfigError("STRIPE_TIMEOUT_SECONDS must be in (0, 60]")
    if s.is_production:
        # Dev conveniences cannot be reached by accident in production configuration.
        if urlparse(s.oidc_issuer).scheme != "https":
            raise ConfigError("OIDC_ISSUER must be https in production")
        if s.stripe_api_base is not None:
            raise ConfigError("STRIPE_API_BASE (a Stripe stand-in) is not allowed in production")
        if not s.stripe_webhook_secret:
            raise ConfigError("STRIPE_WEBHOOK_SECRET is required in production")
        if s.stripe_js_url != "https://js.stripe.com/v3/":
            raise ConfigError("STRIPE_JS_URL must be Stripe's own https://js.stripe.com/v3/ in production")
    if s.stripe_publishable_key and not s.stripe_publishable_key.startswith("pk_"):
        raise ConfigError("STRIPE_PUBLISHABLE_KEY must be a publishable key (pk_…)")


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process's settings, read from the environment once."""
    return from_env(os.environ)


# -- settings held in AWS ------------------------------------------------------------------------
# In AWS the environment names where a value is kept instead of holding it. They are read once, at
# start-up, through a resolver that the host installs (lending_aws.bootstrap); this module stays
# free of vendor libraries. An explicit variable always wins over its reference.

Resolver = Callable[[str, str], str]
"""resolve(kind, name) -> value; kind is "secret" (Secrets Manager name or ARN) or "parameter" (SSM)."""

# setting: (variable naming a Secrets Manager secret, variable naming an SSM parameter)
REFERENCES = {
    "STRIPE_API_KEY": ("STRIPE_API_KEY_SECRET_ARN", "STRIPE_API_KEY_PARAMETER"),
    "STRIPE_WEBHOOK_SECRET": ("STRIPE_WEBHOOK_SECRET_SECRET_ARN", "STRIPE_WEBHOOK_SECRET_PARAMETER"),
}
DATABASE_SECRET = "DATABASE_SECRET_ARN"  # RDS's JSON: host, port, username, password, dbname
_resolver: Resolver | None = None


def references(env: Mapping[str, str] | None = None) -> list[str]:
    """The reference variables that need resolving (those whose setting is not given explicitly)."""
    env = os.environ if env is None else env
    found = [ref for setting, refs in REFERENCES.items() if not env.get(setting) for ref in refs if env.get(ref)]
    if env.get(DATABASE_SECRET) and not env.get("DATABASE_URL"):
        found.append(DATABASE_SECRET)
    return found


def use_resolver(resolve: Resolver | None) -> None:
    """Install the resolver `settings()` uses for references, and forget settings read before."""
    global _resolver
    _resolver = resolve
    settings.cache_clear()


def _fetch(resolve: Resolver | None, variable: str, kind: str, name: str) -> str:
    if resolve is None:
        raise ConfigError(f"{variable} is set but nothing can read AWS {kind}s here (call lending_aws.bootstrap)")
    try:
        value = resolve(kind, name)
    except Exception as exc:  # noqa: BLE001 - whatever the adapter raises, start-up stops naming the setting
        raise ConfigError(f"{variable}: cannot read the {kind} {name!r}: {exc}") from None
    if not value:
        raise ConfigError(f"{variable}: the {kind} {name!r} is empty")
    return value


def _database_url(raw: str, env: Mapping[str, str]) -> str:
    try:
        secret = json.loads(raw)
        user, password = secret["username"], secret["password"]
        host = secret.get("host") or env.get("DATABASE_HOST")
        port = int(secret.get("port") or env.get("DATABASE_PORT") or 5432)
        dbname = secret.get("dbname") or env.get("DATABASE_NAME") or "postgres"
    except (ValueError, TypeError, KeyError):
        raise ConfigError(f"{DATABASE_SECRET}: the secret is not RDS's JSON (username, password, host, ...)") from None
    if not host:
        raise ConfigError(f"{DATABASE_SECRET}: the secret has no host; set DATABASE_HOST")
    return f"postgresql://{quote(str(user), safe='')}:{quote(str(password), safe='')}@{host}:{port}/{quote(str(dbname))}"


def _with_host(url: str, host: str) -> str:
    parsed = urlparse(url)
    auth = parsed.netloc.rpartition("@")[0]
    netloc = f"{auth}@{host}" if auth else host
    if parsed.port:
        netloc += f":{parsed.port}"
    return urlunparse(parsed._replace(netloc=netloc))


def with_references(env: Mapping[str, str], resolve: Resolver | None) -> Mapping[str, str]:
    """`env` with every setting held in AWS filled in (explicit variables win); `env` itself if none."""
    wanted = references(env)
    read_host = env.get("DATABASE_READ_HOST", "").strip()
    if not wanted and not (read_host and not env.get("DATABASE_READ_URL")):
        return env
    out = dict(env)
    for setting, (secret_var, parameter_var) in REFERENCES.items():
        if secret_var in wanted:
            out[setting] = _fetch(resolve, secret_var, "secret", env[secret_var])
        elif parameter_var in wanted:
            out[setting] = _fetch(resolve, parameter_var, "parameter", env[parameter_var])
    if DATABASE_SECRET in wanted:
        out["DATABASE_URL"] = _database_url(_fetch(resolve, DATABASE_SECRET, "secret", env[DATABASE_SECRET]), env)
    if read_host and not env.get("DATABASE_READ_URL") and out.get("DATABASE_URL"):
        out["DATABASE_READ_URL"] = _with_host(out["DATABASE_URL"], read_host)  # same credentials, the replica's host
    return out
