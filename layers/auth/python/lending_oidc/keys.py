"""The issuer's signing keys: discovery, a TTL cache, and rate-limited refresh."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from lending.errors import IdentityProviderUnavailable

Fetch = Callable[[str], dict[str, Any]]


def http_fetch_json(url: str, timeout: float = 5.0) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - https/http issuer only
        if response.status != 200:
            raise OSError(f"{url} answered {response.status}")
        value = json.loads(response.read(1_000_000))
    if not isinstance(value, dict):
        raise ValueError(f"{url} did not return a JSON object")
    return value


class KeySet:
    """JWKS of one issuer, found through its discovery document.

    Keys are cached for `ttl` seconds. An unknown `kid` forces a refresh at most once
    every `min_refresh_interval` seconds, so made-up kids cannot hammer the provider.
    If the provider is down, the keys we have keep working.
    """

    def __init__(self, issuer: str, *, ttl: float = 300.0, min_refresh_interval: float = 10.0,
                 fetch: Fetch = http_fetch_json, clock: Callable[[], float] = time.monotonic) -> None:
        self.issuer = issuer.rstrip("/")
        self._ttl = ttl
        self._min_interval = min_refresh_interval
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: list[dict[str, Any]] = []
        self._fetched_at: float | None = None
        self._last_attempt: float | None = None
        self._jwks_uri: str | None = None

    def keys_for(self, kid: str | None) -> list[dict[str, Any]]:
        """Candidate keys for a token header's kid (all keys if the JWKS has no kids)."""
        now = self._clock()
        if self._fetched_at is None or now - self._fetched_at > self._ttl:
            self._refresh(force=self._fetched_at is None)
        found = self._match(kid)
        if not found and kid is not None:
            self._refresh(force=False)
            found = self._match(kid)
        if not self._keys:
            raise IdentityProviderUnavailable("The identity provider's signing keys cannot be fetched.")
        return found

    def _match(self, kid: str | None) -> list[dict[str, Any]]:
        keys = [k for k in self._keys if k.get("use", "sig") == "sig"]
        if kid is None:
            return [k for k in keys if "kid" not in k] or keys
        exact = [k for k in keys if k.get("kid") == kid]
        return exact or [k for k in keys if "kid" not in k]

    def _refresh(self, *, force: bool) -> None:
        with self._lock:
            now = self._clock()
            if not force and self._last_attempt is not None and now - self._last_attempt < self._min_interval:
                return
            self._last_attempt = now
            try:
                if self._jwks_uri is None:
                    discovery = self._fetch(f"{self.issuer}/.well-known/openid-configuration")
                    if discovery.get("issuer", "").rstrip("/") != self.issuer:
                        raise ValueError("discovery document names another issuer")
                    self._jwks_uri = str(discovery["jwks_uri"])
                jwks = self._fetch(self._jwks_uri)
                keys = jwks.get("keys")
                if not isinstance(keys, list):
                    raise ValueError("JWKS has no keys list")
            except (OSError, ValueError, KeyError):
                return  # keep what we have; with nothing cached, keys_for answers 503
            self._keys = [k for k in keys if isinstance(k, dict)]
            self._fetched_at = now
