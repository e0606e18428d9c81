"""Issue 19: only ID tokens issued to us; keys follow the provider's discovery, are not used
too long into an outage, and are never fetched through a downgrading or foreign redirect.

Real signed tokens, keys fetched over real HTTP(S) from a provider the test serves
(tests/auth/served.py); the key cache's clock is the test's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from jose import jwt

from lending.errors import AuthenticationRequired, IdentityProviderUnavailable
from lending_oidc import KeySet, OidcVerifier
from lending_oidc.fetch import JsonOverHttp, redirect_allowed
from tests.auth.served import Served
from tests.support.issuer import SigningKey

AUDIENCE = "library-ui"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey()


@pytest.fixture
def provider(key: SigningKey) -> Iterator[Served]:
    served = Served()
    served.publish("/jwks", [key.jwk])
    yield served
    served.close()


@pytest.fixture
def tls_provider() -> Iterator[Served]:
    served = Served(tls=True)
    yield served
    served.close()


def verifier(issuer: Served, clock: Clock | None = None, *, ttl: float = 60, max_stale: float = 3600,
             trust: Served | None = None) -> OidcVerifier:
    context = (trust or issuer).client_context
    fetch = JsonOverHttp(ssl_context=context)
    keys = KeySet(issuer.url, ttl=ttl, min_refresh_interval=0, max_stale=max_stale, fetch=fetch,
                  clock=clock or Clock())
    return OidcVerifier(keys, audience=AUDIENCE)


def token(issuer: Served, key: SigningKey, headers: dict[str, Any] | None = None, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": issuer.url, "sub": "alice", "aud": AUDIENCE, "iat": now, "exp": now + 600, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key.pem, algorithm="RS256",
                      headers={"kid": key.kid, **(headers or {})})


def rejected(v: OidcVerifier, raw: str) -> str:
    with pytest.raises(AuthenticationRequired) as caught:
        v.verify(raw)
    return caught.value.detail


# -- azp ------------------------------------------------------------------------------------------
def test_azp_when_present_must_be_our_client_id(provider: Served, key: SigningKey) -> None:
    v = verifier(provider)
    assert v.verify(token(provider, key, azp=AUDIENCE))["sub"] == "alice"
    assert rejected(v, token(provider, key, azp="another-client")) == "The token was issued to another client."
    assert rejected(v, token(provider, key, aud=[AUDIENCE, "api"], azp="api")).startswith("The token has several")


# -- ID tokens only -------------------------------------------------------------------------------
@pytest.mark.parametrize(("headers", "claims"), [
    ({"typ": "at+jwt"}, {}),                                     # RFC 9068 2.1
    ({"typ": "application/at+jwt"}, {}),
    ({"typ": "logout+jwt"}, {}),                                 # back-channel logout token
    ({}, {"client_id": AUDIENCE, "scope": "openid profile"}),    # RFC 9068 2.2 claims, no ID-token claim
    ({}, {"scope": "openid"}),
    ({}, {"token_use": "access"}),                               # Cognito's access token
    ({}, {"typ": "Bearer"}),                                     # Keycloak's access token
])
def test_an_access_token_from_the_same_issuer_for_the_same_audience_is_refused(
        provider: Served, key: SigningKey, headers: dict[str, Any], claims: dict[str, Any]) -> None:
    assert "not an ID token" in rejected(verifier(provider), token(provider, key, headers, **claims))


@pytest.mark.parametrize(("headers", "claims"), [
    ({}, {}),
    ({"typ": "JWT"}, {}),
    ({"typ": "application/jwt"}, {}),
    ({}, {"scope": "openid", "nonce": "n-1"}),   # extra claims on a real ID token (it has a nonce)
    ({}, {"client_id": AUDIENCE, "auth_time": 1_700_000_000}),
    ({}, {"token_use": "id"}),
    ({}, {"typ": "ID"}),
])
def test_id_tokens_of_the_usual_shapes_pass(provider: Served, key: SigningKey, headers: dict[str, Any],
                                            claims: dict[str, Any]) -> None:
    assert verifier(provider).verify(token(provider, key, headers, **claims))["sub"] == "alice"


# -- key lifecycle --------------------------------------------------------------------------------
def test_a_jwks_uri_moved_in_discovery_is_followed(provider: Served, key: SigningKey) -> None:
    clock, new = Clock(), SigningKey()
    v = verifier(provider, clock, ttl=60)
    assert v.verify(token(provider, key))["sub"] == "alice"
    provider.publish("/keys/v2", [new.jwk])  # the provider moves its keys; the old document stays up, stale

    assert v.verify(token(provider, new))["sub"] == "alice"  # an unknown kid: rediscovered at once
    assert provider.hits["/keys/v2"] == 1
    clock.now += 61
    assert rejected(v, token(provider, key)) == "The token was signed by an unknown key."


def test_cached_keys_serve_an_outage_for_at_most_max_stale(provider: Served, key: SigningKey) -> None:
    clock = Clock()
    v = verifier(provider, clock, ttl=60, max_stale=3600)
    raw = token(provider, key)
    assert v.verify(raw)["sub"] == "alice"
    provider.down = True

    clock.now += 60 + 3600  # the TTL ran out an hour ago: still the keys we had
    assert v.verify(raw)["sub"] == "alice"
    assert provider.hits["/.well-known/openid-configuration"] >= 2  # and we did try to refresh
    clock.now += 1
    with pytest.raises(IdentityProviderUnavailable):
        v.verify(raw)
    provider.down = False
    assert v.verify(raw)["sub"] == "alice"  # back with fresh keys


# -- redirects ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("source", "target", "allowed"), [
    ("https://idp.example/a", "http://idp.example/b", False),
    ("https://idp.example/a", "https://cdn.example/b", True),
    ("http://idp.example/a", "http://idp.example:80/b", True),
    ("http://idp.example/a", "http://idp.example:8080/b", False),
    ("http://idp.example/a", "http://evil.example/b", False),
    ("http://idp.example/a", "https://cdn.example/b", True),
    ("http://idp.example/a", "file:///etc/passwd", False),
])
def test_the_redirect_rule(source: str, target: str, allowed: bool) -> None:
    assert redirect_allowed(source, target) is allowed


def test_an_https_provider_redirecting_to_http_is_not_followed(tls_provider: Served, provider: Served,
                                                               key: SigningKey) -> None:
    tls_provider.routes["/.well-known/openid-configuration"] = ("redirect", f"{provider.url}/.well-known/openid-configuration")
    provider.routes["/.well-known/openid-configuration"] = {"issuer": tls_provider.url, "jwks_uri": f"{provider.url}/jwks"}
    v = verifier(tls_provider)

    with pytest.raises(IdentityProviderUnavailable):
        v.verify(token(tls_provider, key))
    assert provider.hits["/.well-known/openid-configuration"] == 0  # never asked over plain http


def test_keys_are_fetched_through_same_origin_and_https_redirects_only(provider: Served, tls_provider: Served,
                                                                       key: SigningKey) -> None:
    elsewhere = Served()
    try:
        elsewhere.routes["/jwks"] = {"keys": [key.jwk]}
        provider.routes["/jwks"] = ("redirect", f"{elsewhere.url}/jwks")  # http to another http origin
        with pytest.raises(IdentityProviderUnavailable):
            verifier(provider).verify(token(provider, key))
        assert elsewhere.hits["/jwks"] == 0

        provider.routes["/jwks"] = ("redirect", "/keys/current")  # same origin: followed
        provider.routes["/keys/current"] = {"keys": [key.jwk]}
        assert verifier(provider).verify(token(provider, key))["sub"] == "alice"

        tls_provider.routes["/jwks"] = {"keys": [key.jwk]}
        provider.routes["/jwks"] = ("redirect", f"{tls_provider.url}/jwks")  # to https anywhere: followed
        assert verifier(provider, trust=tls_provider).verify(token(provider, key))["sub"] == "alice"
        assert tls_provider.hits["/jwks"] == 1
    finally:
        elsewhere.close()
