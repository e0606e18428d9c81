"""Environment → Settings: names, list and switch syntax, then msgspec's typed conversion."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urlencode

import msgspec

from lending_settings import references
from lending_settings.model import REQUIRED_BY_LAYER, ConfigError, MigrationSettings, Settings

T = TypeVar("T", bound=msgspec.Struct)

# field -> variable, where the variable is not simply the field's name in capitals
RENAMED = {
    "version": "APP_VERSION", "environment": "APP_ENV", "service_name": "POWERTOOLS_SERVICE_NAME",
    "metrics_namespace": "POWERTOOLS_METRICS_NAMESPACE", "metrics": "LENDING_METRICS",
}
SWITCHES = {"on": True, "true": True, "1": True, "off": False, "false": False, "0": False}
_FIELD_PATH = re.compile(r"\$\.(\w+)")


def variable(field: str) -> str:
    return RENAMED.get(field, field.upper())


def _raw(kind: type[T], env: Mapping[str, str]) -> dict[str, Any]:
    info = msgspec.inspect.type_info(kind)
    assert isinstance(info, msgspec.inspect.StructType)
    raw: dict[str, Any] = {}
    for f in info.fields:
        value = env.get(variable(f.name))
        if value is None or not value.strip():
            continue
        value = value.strip()
        if isinstance(f.type, msgspec.inspect.VarTupleType):
            raw[f.name] = [part.strip() for part in value.split(",") if part.strip()]
        elif isinstance(f.type, msgspec.inspect.FloatType) and f.name.endswith("_seconds") and value[:1] in "Pp":
            raw[f.name] = _period_seconds(variable(f.name), value)  # every period also takes ISO 8601
        elif isinstance(f.type, msgspec.inspect.BoolType):
            if value.lower() not in SWITCHES:
                raise ConfigError(f"{variable(f.name)} must be on or off")
            raw[f.name] = SWITCHES[value.lower()]
        else:
            raw[f.name] = value
    return raw


def _period_seconds(name: str, value: str) -> float:
    try:
        return msgspec.convert(value, timedelta, strict=False).total_seconds()
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def read(kind: type[T], env: Mapping[str, str]) -> T:
    """`kind` from `env`; a value of the wrong type is a ConfigError naming its variable."""
    try:
        return msgspec.convert(_raw(kind, env), kind, strict=False)
    except msgspec.ValidationError as exc:
        found = _FIELD_PATH.search(str(exc))
        name = variable(found.group(1)) if found else kind.__name__
        raise ConfigError(f"{name}: {str(exc).split(' - at ')[0]}") from None


def from_env(env: Mapping[str, str], resolve: references.Resolver | None = None,
             *, layers: Iterable[str] = tuple(REQUIRED_BY_LAYER)) -> Settings:
    """Settings from the environment, requiring what the adapters of `layers` need (all of them by default)."""
    env = references.with_references(env, resolve if resolve is not None else references.installed())
    s = read(Settings, env)
    missing = [variable(name) for layer in layers for name in REQUIRED_BY_LAYER.get(layer, ()) if not getattr(s, name)]
    if missing:
        raise ConfigError(f"{missing[0]} is required")
    return msgspec.structs.replace(
        s, oidc_issuer=s.oidc_issuer.rstrip("/"), default_currency=s.default_currency.lower(),
        database_url=_with_tls(s.database_url, s), database_read_url=_with_tls(s.database_read_url, s))


def _with_tls(url: str | None, s: Settings) -> Any:
    """DATABASE_SSLMODE / DATABASE_SSLROOTCERT into a URL that does not name its own sslmode."""
    if not url or not s.database_sslmode or "sslmode=" in url:
        return url
    query = {"sslmode": s.database_sslmode, **({"sslrootcert": s.database_sslrootcert} if s.database_sslrootcert else {})}
    return url + ("&" if "?" in url else "?") + urlencode(query)


@lru_cache(maxsize=8)
def settings(layers: tuple[str, ...] = tuple(REQUIRED_BY_LAYER)) -> Settings:
    """The process's settings, read from the environment once (per set of layers served)."""
    return from_env(os.environ, layers=layers)


def use_resolver(resolve: references.Resolver | None) -> None:
    """Install the resolver `settings()` uses for references, and forget settings read before."""
    references.install(resolve)
    settings.cache_clear()


def migration_settings(env: Mapping[str, str] | None = None) -> MigrationSettings:
    env = references.with_references(os.environ if env is None else env, references.installed())
    if not (env.get("DATABASE_URL") or "").strip():
        raise ConfigError("DATABASE_URL is required")
    return read(MigrationSettings, env)
