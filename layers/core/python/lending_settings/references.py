"""Settings held in AWS: the environment names where a value is kept instead of holding it.

They are read once, at start-up, through a resolver that the host installs (lending_aws uses
Powertools Parameters); this package stays free of AWS libraries. An explicit variable always
wins over its reference.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from urllib.parse import quote, urlparse, urlunparse

from lending_settings.model import ConfigError

Resolver = Callable[[str, str], str]
"""resolve(kind, name) -> value; kind is "secret" (Secrets Manager name or ARN) or "parameter" (SSM)."""

# setting: (variable naming a Secrets Manager secret, variable naming an SSM parameter)
REFERENCES = {
    "STRIPE_API_KEY": ("STRIPE_API_KEY_SECRET_ARN", "STRIPE_API_KEY_PARAMETER"),
    "STRIPE_WEBHOOK_SECRET": ("STRIPE_WEBHOOK_SECRET_SECRET_ARN", "STRIPE_WEBHOOK_SECRET_PARAMETER"),
    "SMTP_URL": ("SMTP_URL_SECRET_ARN", "SMTP_URL_PARAMETER"),  # e.g. SES's SMTP credentials in the URL
}
DATABASE_SECRET = "DATABASE_SECRET_ARN"  # RDS's JSON: host, port, username, password, dbname
_resolver: Resolver | None = None


def installed() -> Resolver | None:
    return _resolver


def install(resolve: Resolver | None) -> None:
    global _resolver
    _resolver = resolve


def references(env: Mapping[str, str] | None = None) -> list[str]:
    """The reference variables that need resolving (those whose setting is not given explicitly)."""
    env = os.environ if env is None else env
    found = [ref for setting, refs in REFERENCES.items() if not env.get(setting) for ref in refs if env.get(ref)]
    if env.get(DATABASE_SECRET) and not env.get("DATABASE_URL"):
        found.append(DATABASE_SECRET)
    return found


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
