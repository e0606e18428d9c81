"""The one place that reads the environment. Adapters receive values, never os.environ.

Settings are read once per process and validated; a bad setting stops start-up with
a message naming it (and never its value when it is a secret).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlparse


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    database_url: str
    database_read_url: str | None = None
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


def from_env(env: Mapping[str, str]) -> Settings:
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
