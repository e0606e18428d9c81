"""KeySet with a provider and a clock the test controls: discovery, TTL, refresh limits, outages."""

from __future__ import annotations

import http.client
from typing import Any

import pytest

from lending.errors import IdentityProviderUnavailable
from lending_oidc import KeySet

ISSUER = "https://idp.example.org"
JWKS_URI = "https://keys.example.org/certs"


def rsa(kid: str | None, **extra: Any) -> dict[str, Any]:
    key = {"kty": "RSA", "use": "sig", "n": f"n-{kid}", "e": "AQAB", **extra}
    if kid is not None:
        key["kid"] = kid
    return key


class Provider:
    def __init__(self, keys: list[dict[str, Any]], issuer: str = ISSUER, jwks_uri: str = JWKS_URI) -> None:
        self.discovery: dict[str, Any] = {"issuer": issuer, "jwks_uri": jwks_uri}
        self.keys = keys
        self.jwks: dict[str, Any] | None = None  # a whole document, when a test wants a broken one
        self.down: Exception | None = None
        self.calls: list[str] = []

    def __call__(self, url: str) -> dict[str, Any]:
        self.calls.append(url)
        if self.down is not None:
            raise self.down
        if url == f"{ISSUER}/.well-known/openid-configuration":
            return self.discovery
        if url == self.discovery["jwks_uri"]:
            return self.jwks if self.jwks is not None else {"keys": self.keys}
        raise OSError(f"404 {url}")

    def jwks_fetches(self) -> int:
        return self.calls.count(self.discovery["jwks_uri"])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def keyset(provider: Provider, clock: Clock, issuer: str = ISSUER) -> KeySet:
    return KeySet(issuer, ttl=300, min_refresh_interval=10, fetch=provider, clock=clock)


def kids(keys: list[dict[str, Any]]) -> list[str | None]:
    return [k.get("kid") for k in keys]


def test_keys_come_from_the_jwks_uri_named_by_discovery_and_are_cached_for_the_ttl() -> None:
    provider, clock = Provider([rsa("a")]), Clock()
    keys = keyset(provider, clock)
    assert kids(keys.keys_for("a", "RS256")) == ["a"]
    assert provider.calls == [f"{ISSUER}/.well-known/openid-configuration", JWKS_URI]
    clock.now += 299
    keys.keys_for("a", "RS256")
    assert len(provider.calls) == 2
    clock.now += 2
    keys.keys_for("a", "RS256")
    # Each refresh reads discovery again, so a provider that moves its jwks_uri is followed.
    assert provider.calls[2:] == [f"{ISSUER}/.well-known/openid-configuration", JWKS_URI]


def test_an_unknown_kid_refreshes_once_and_a_flood_of_them_is_rate_limited() -> None:
    provider, clock = Provider([rsa("a")]), Clock()
    keys = keyset(provider, clock)
    keys.keys_for("a", "RS256")
    provider.keys = [rsa("a"), rsa("b")]
    clock.now += 10
    assert kids(keys.keys_for("b", "RS256")) == ["b"]  # new key, no restart
    assert provider.jwks_fetches() == 2
    for n in range(100):
        assert keys.keys_for(f"made-up-{n}", "RS256") == []
    assert provider.jwks_fetches() == 2
    clock.now += 10
    keys.keys_for("made-up", "RS256")
    assert provider.jwks_fetches() == 3


def test_a_removed_key_stops_being_a_candidate_after_refresh() -> None:
    provider, clock = Provider([rsa("old"), rsa("new")]), Clock()
    keys = keyset(provider, clock)
    assert kids(keys.keys_for("old", "RS256")) == ["old"]
    provider.keys = [rsa("new")]
    clock.now += 301
    assert keys.keys_for("old", "RS256") == []


def test_keys_without_kid_serve_every_token() -> None:
    provider, clock = Provider([rsa(None), rsa(None, n="other")]), Clock()
    keys = keyset(provider, clock)
    assert len(keys.keys_for(None, "RS256")) == 2
    assert len(keys.keys_for("whatever", "RS256")) == 2
    provider.keys = [rsa("a"), rsa(None)]
    clock.now += 301
    assert kids(keys.keys_for("a", "RS256")) == ["a"]
    assert kids(keys.keys_for("b", "RS256")) == [None]
    assert kids(keys.keys_for(None, "RS256")) == ["a", None]


def test_only_keys_that_can_verify_the_algorithm_are_candidates() -> None:
    provider = Provider([
        {"kty": "oct", "k": "c2VjcmV0", "kid": "a"},          # a shared secret is never a verification key
        rsa("a", use="enc"),                                   # an encryption key
        rsa("a", alg="PS256"),                                 # pinned to another algorithm
        {"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "kid": "a"},
        rsa("a", alg="RS256"),
    ])
    keys = keyset(provider, Clock())
    assert keys.keys_for("a", "RS256") == [rsa("a", alg="RS256")]
    assert [k["kty"] for k in keys.keys_for("a", "ES256")] == ["EC"]
    assert keys.keys_for("a", "HS256") == []


@pytest.mark.parametrize("failure", [OSError("refused"), TimeoutError(), ValueError("not JSON"),
                                     http.client.IncompleteRead(b"")])
def test_cached_keys_keep_working_while_the_provider_is_down(failure: Exception) -> None:
    provider, clock = Provider([rsa("a")]), Clock()
    keys = keyset(provider, clock)
    keys.keys_for("a", "RS256")
    provider.down = failure
    clock.now += 3600
    assert kids(keys.keys_for("a", "RS256")) == ["a"]
    assert keys.keys_for("unknown", "RS256") == []


def test_no_keys_at_all_is_unavailable_and_the_provider_is_not_hammered() -> None:
    provider, clock = Provider([rsa("a")]), Clock()
    provider.down = OSError("refused")
    keys = keyset(provider, clock)
    for _ in range(50):
        with pytest.raises(IdentityProviderUnavailable):
            keys.keys_for("a", "RS256")
    assert len(provider.calls) == 1
    provider.down = None
    clock.now += 10
    assert kids(keys.keys_for("a", "RS256")) == ["a"]


@pytest.mark.parametrize("discovery", [
    {"issuer": "https://evil.example.org", "jwks_uri": JWKS_URI},
    {"issuer": None, "jwks_uri": JWKS_URI},
    {"issuer": ISSUER},
    {"issuer": ISSUER, "jwks_uri": 42},
    {"issuer": ISSUER, "jwks_uri": "file:///etc/passwd"},
    {"issuer": ISSUER, "jwks_uri": "http://keys.example.org/certs"},  # downgrade from an https issuer
])
def test_a_discovery_document_we_cannot_trust_gives_no_keys(discovery: dict[str, Any]) -> None:
    provider = Provider([rsa("a")])
    provider.discovery = discovery
    with pytest.raises(IdentityProviderUnavailable):
        keyset(provider, Clock()).keys_for("a", "RS256")


@pytest.mark.parametrize("jwks", [{"keys": "nope"}, {}, {"keys": [1, "x"]}])
def test_a_malformed_jwks_gives_no_keys(jwks: dict[str, Any]) -> None:
    provider = Provider([])
    provider.jwks = jwks
    with pytest.raises(IdentityProviderUnavailable):
        keyset(provider, Clock()).keys_for("a", "RS256")


def test_the_issuer_is_named_exactly_as_discovery_says() -> None:
    provider = Provider([rsa("a")], issuer=ISSUER + "/")
    keys = keyset(provider, Clock(), issuer=ISSUER + "/")
    keys.keys_for("a", "RS256")
    assert keys.issuer_name == ISSUER + "/"
    assert provider.calls[0] == f"{ISSUER}/.well-known/openid-configuration"
