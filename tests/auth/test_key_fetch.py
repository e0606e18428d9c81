"""How the keys are fetched (lending_oidc.fetch): one connection per origin for a refresh's discovery
and JWKS, over real HTTP(S) from a provider the test serves; through a proxy when one is configured."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from jose import jwt

from lending.errors import IdentityProviderUnavailable
from lending_oidc import KeySet, OidcVerifier
from lending_oidc.fetch import MAX_BYTES, JsonOverHttp
from tests.auth.served import Served
from tests.support.issuer import SigningKey

AUDIENCE = "library-ui"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey()


@pytest.fixture(autouse=True)
def no_proxy_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("https_proxy", "http_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def signed(issuer: Served, key: SigningKey) -> str:
    now = int(time.time())
    return jwt.encode({"iss": issuer.url, "sub": "alice", "aud": AUDIENCE, "iat": now, "exp": now + 600}, key.pem,
                      algorithm="RS256", headers={"kid": key.kid})


def verifier(issuer: Served, fetch: JsonOverHttp | None = None) -> OidcVerifier:
    keys = KeySet(issuer.url, min_refresh_interval=0, fetch=fetch or JsonOverHttp(ssl_context=issuer.client_context))
    return OidcVerifier(keys, audience=AUDIENCE)


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_refresh_reads_discovery_and_keys_on_one_connection_and_closes_it(key: SigningKey, tls: bool) -> None:
    provider = Served(tls=tls, keep_alive=True)
    try:
        provider.publish("/jwks", [key.jwk])
        fetch = JsonOverHttp(ssl_context=provider.client_context)
        assert verifier(provider, fetch).verify(signed(provider, key))["sub"] == "alice"
        assert (provider.hits["/.well-known/openid-configuration"], provider.hits["/jwks"]) == (1, 1)
        assert provider.connections == 1  # urllib.request opened one per fetch
        assert fetch._open == {}  # closed with the refresh
    finally:
        provider.close()


def test_a_provider_closing_each_connection_is_read_on_a_new_one() -> None:
    provider = Served()  # HTTP/1.0: the server closes after every answer
    try:
        provider.routes["/a"] = {"n": 1}
        provider.routes["/b"] = {"n": 2}
        fetch = JsonOverHttp()
        assert (fetch(f"{provider.url}/a"), fetch(f"{provider.url}/b")) == ({"n": 1}, {"n": 2})
        assert provider.connections == 2
        fetch.close()
    finally:
        provider.close()


def test_a_kept_connection_the_provider_dropped_is_replaced_once() -> None:
    provider = Served(keep_alive=True)
    try:
        provider.routes["/a"] = {"n": 1}
        fetch = JsonOverHttp()
        assert fetch(f"{provider.url}/a") == {"n": 1}
        assert len(fetch._open) == 1
        for connection in fetch._open.values():  # the provider's side of it is gone; ours does not know yet
            assert connection.sock is not None
            connection.sock.shutdown(2)
        assert fetch(f"{provider.url}/a") == {"n": 1}
        assert provider.connections == 2
    finally:
        provider.close()


def test_an_answer_that_is_not_a_json_object_or_too_large_or_not_200_is_refused() -> None:
    provider = Served(keep_alive=True)
    try:
        provider.routes["/list"] = [1, 2]
        provider.routes["/large"] = {"padding": "x" * MAX_BYTES}
        fetch = JsonOverHttp()
        with pytest.raises(ValueError, match="JSON object"):
            fetch(f"{provider.url}/list")
        with pytest.raises(ValueError):
            fetch(f"{provider.url}/large")  # cut at MAX_BYTES: not JSON
        with pytest.raises(OSError, match="404"):
            fetch(f"{provider.url}/missing")
        provider.routes["/list"] = {"fine": True}
        assert fetch(f"{provider.url}/list") == {"fine": True}  # the connection is still in step after all three
    finally:
        provider.close()


def test_only_http_and_https_urls_are_fetched() -> None:
    with pytest.raises(ValueError, match="http"):
        JsonOverHttp()("file:///etc/passwd")


def test_with_a_proxy_configured_the_keys_are_fetched_through_it(key: SigningKey,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy is a server the test serves: it answers the absolute URLs a forward proxy is sent."""
    provider, proxy = Served(), Served()
    try:
        provider.publish("/jwks", [key.jwk])
        for path, body in provider.routes.items():
            proxy.routes[f"{provider.url}{path}"] = body
        monkeypatch.setenv("http_proxy", proxy.url)
        assert verifier(provider).verify(signed(provider, key))["sub"] == "alice"
        assert proxy.hits[f"{provider.url}/jwks"] == 1 and provider.hits["/jwks"] == 0

        proxy.down = True  # through the proxy or not at all
        with pytest.raises(IdentityProviderUnavailable):
            verifier(provider).verify(signed(provider, key))
        assert provider.hits["/jwks"] == 0
    finally:
        provider.close()
        proxy.close()


@pytest.fixture
def provider_down() -> Iterator[Served]:
    served = Served()
    served.down = True
    yield served
    served.close()


def test_a_provider_that_is_down_leaves_no_connection_behind(provider_down: Served, key: SigningKey) -> None:
    fetch = JsonOverHttp()
    keys = KeySet(provider_down.url, min_refresh_interval=0, fetch=fetch)
    with pytest.raises(IdentityProviderUnavailable):
        OidcVerifier(keys, audience=AUDIENCE).verify(signed(provider_down, key))
    assert fetch._open == {}
