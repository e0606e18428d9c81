"""The issuer's signing keys: discovery, a TTL cache, rate-limited refresh, a bound on staleness.

Fetches (lending_oidc.fetch) never follow a redirect from https to http, nor to another origin unless
it is https; a refresh's fetches share one connection per origin, closed when the refresh is done.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from lending.errors import IdentityProviderUnavailable
from lending_oidc.fetch import JsonOverHttp

Fetch = Callable[[str], dict[str, Any]]

# Which JWK key type can verify which JWS algorithm family. Symmetric ("oct") keys never can.
_KTY_OF_FAMILY = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
_FETCH_ERRORS = (OSError, ValueError, KeyError, TypeError, http.client.HTTPException)


class KeySet:
    """JWKS of one issuer, found through its discovery document.

    Keys are cached for `ttl` seconds. Every refresh after the first is rate-limited to
    one per `min_refresh_interval` seconds, so a flood of made-up kids (or a provider
    that is down) cannot make us hammer the provider. If the provider is down, the keys
    we have keep working for at most `max_stale` seconds past their TTL; with none (or
    only older ones), `keys_for` raises IdentityProviderUnavailable. Each refresh reads the
    discovery document again, so a provider that moves its `jwks_uri` is followed.
    """

    def __init__(self, issuer: str, *, ttl: float = 300.0, min_refresh_interval: float = 10.0,
                 max_stale: float = 3600.0, fetch: Fetch | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.issuer = issuer.rstrip("/")
        self._issuer_name: str | None = None
        self._ttl = ttl
        self._max_stale = max_stale
        self._min_interval = min_refresh_interval
        self._fetch: Fetch = fetch or JsonOverHttp()
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: list[dict[str, Any]] = []
        self._fetched_at: float | None = None
        self._last_attempt: float | None = None
        self._jwks_uri: str | None = None

    @property
    def issuer_name(self) -> str:
        """The issuer exactly as its discovery document names it (tokens' `iss` must equal it)."""
        return self._issuer_name or self.issuer

    def keys_for(self, kid: str | None, alg: str) -> list[dict[str, Any]]:
        """Keys that may have signed a token with this header `kid` and `alg`.

        A JWKS whose keys carry no `kid` still works: those keys are candidates for any token.
        An unknown `kid` triggers one (rate-limited) refresh.
        """
        if self._fetched_at is None or self._clock() - self._fetched_at > self._ttl:
            self._refresh()
        if not self._usable():
            raise IdentityProviderUnavailable("The identity provider's signing keys cannot be fetched.")
        found = self._match(kid, alg)
        if not found and kid is not None:
            self._refresh()
            found = self._match(kid, alg)
        return found

    def _usable(self) -> bool:
        """Keys we have, fetched no longer ago than their TTL plus the staleness we tolerate in an outage."""
        fetched_at = self._fetched_at
        return bool(self._keys) and fetched_at is not None and \
            self._clock() - fetched_at <= self._ttl + self._max_stale

    def _match(self, kid: str | None, alg: str) -> list[dict[str, Any]]:
        usable = [k for k in self._keys if _can_verify(k, alg)]
        if kid is None:
            return usable
        return [k for k in usable if k.get("kid") == kid] or [k for k in usable if "kid" not in k]

    def _refresh(self) -> None:
        # Whoever holds keys does not queue behind a slow provider: the refresh in flight will do.
        if not self._lock.acquire(blocking=not self._usable()):
            return
        try:
            now = self._clock()
            if self._last_attempt is not None and now - self._last_attempt < self._min_interval:
                return
            self._last_attempt = now
            try:
                keys = self._download()
            except _FETCH_ERRORS:
                return  # keep what we have; with nothing cached, keys_for answers 503
            self._keys = keys
            self._fetched_at = now
        finally:
            self._lock.release()

    def _download(self) -> list[dict[str, Any]]:
        try:
            return self._discover_and_fetch()
        finally:
            close = getattr(self._fetch, "close", None)
            if close is not None:
                close()  # the refresh's connections: the next one is minutes away

    def _discover_and_fetch(self) -> list[dict[str, Any]]:
        try:
            self._discover()
        except _FETCH_ERRORS:
            if self._jwks_uri is None:
                raise  # no other way to the keys; with one known, try it (the keys may still answer)
        assert self._jwks_uri is not None
        keys = self._fetch(self._jwks_uri).get("keys")
        if not isinstance(keys, list):
            raise ValueError("the JWKS has no keys list")
        return [k for k in keys if isinstance(k, dict)]

    def _discover(self) -> None:
        discovery = self._fetch(f"{self.issuer}/.well-known/openid-configuration")
        # Every discovery document must pass these, the first one as every later one.
        named = discovery.get("issuer")
        if not isinstance(named, str) or named.rstrip("/") != self.issuer:
            raise ValueError("the discovery document names another issuer")
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str) or urlparse(jwks_uri).scheme not in ("http", "https"):
            raise ValueError("the discovery document has no usable jwks_uri")
        if urlparse(self.issuer).scheme == "https" and urlparse(jwks_uri).scheme != "https":
            raise ValueError("an https issuer must publish its keys over https")
        self._issuer_name, self._jwks_uri = named, jwks_uri


def _can_verify(key: dict[str, Any], alg: str) -> bool:
    return (key.get("use", "sig") == "sig"
            and key.get("kty") == _KTY_OF_FAMILY.get(alg[:2])
            and key.get("alg") in (None, alg))
