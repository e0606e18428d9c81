"""The verified-token cache: a token's claims kept by its hash until its exp, bounded, never past exp.

The clock is moved, not waited for; each signature check is counted to see when the cache answered.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from jose import jwt

import lending_oidc.verifier as verifier_module
from lending.errors import AuthenticationRequired
from lending_oidc import KeySet, OidcVerifier
from tests.support.issuer import SigningKey

ISSUER, AUDIENCE, NOW = "https://idp.example.org", "library-ui", 1_800_000_000
LEEWAY = 30


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


class Keys:
    def __init__(self, *keys: SigningKey) -> None:
        self.jwks = [k.jwk for k in keys]

    def fetch(self, url: str) -> dict[str, Any]:
        if url.endswith("/.well-known/openid-configuration"):
            return {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"}
        return {"keys": self.jwks}


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey()


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token whose signature is checked."""
    seen: list[str] = []
    real = verifier_module.signature.verifies

    def counted(compact: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(compact.signing_input.decode() + "." + base64.urlsafe_b64encode(compact.signature).rstrip(b"=").decode())
        return real(compact, *args, **kwargs)

    monkeypatch.setattr(verifier_module.signature, "verifies", counted)
    return seen


def token(key: SigningKey, sub: str = "alice", exp: int = NOW + 600) -> str:
    return jwt.encode({"iss": ISSUER, "sub": sub, "aud": AUDIENCE, "iat": NOW - 10, "exp": exp}, key.pem,
                      algorithm="RS256", headers={"kid": key.kid})


def make(clock: Clock, keys: Keys, cache_size: int = 16) -> OidcVerifier:
    # A long JWKS TTL: the key set is not refetched while the clock moves.
    return OidcVerifier(KeySet(ISSUER, fetch=keys.fetch, ttl=10**9), audience=AUDIENCE,
                        leeway_seconds=LEEWAY, clock=clock, cache_size=cache_size)


def test_a_verified_token_is_not_checked_again_before_it_expires(key: SigningKey, checks: list[str]) -> None:
    clock = Clock()
    v = make(clock, Keys(key))
    raw = token(key)
    assert v.verify(raw)["sub"] == "alice"
    clock.now = NOW + 599
    assert v.verify(raw)["sub"] == "alice"
    assert checks == [raw]


def test_past_exp_the_cache_never_answers(key: SigningKey, checks: list[str]) -> None:
    clock = Clock()
    v = make(clock, Keys(key))
    raw = token(key, exp=NOW + 60)
    v.verify(raw)
    clock.now = NOW + 60  # at exp: checked in full again (within the leeway it still passes that check)
    assert v.verify(raw)["sub"] == "alice"
    assert len(checks) == 2
    clock.now = NOW + 60 + LEEWAY  # past exp and the leeway: refused, cached or not
    with pytest.raises(AuthenticationRequired, match="expired"):
        v.verify(raw)


def test_a_token_whose_key_was_removed_is_refused_even_when_cached(key: SigningKey) -> None:
    keys, clock = Keys(key), Clock()
    ks = KeySet(ISSUER, fetch=keys.fetch, ttl=60, clock=clock)  # its TTL runs on the same moved clock
    v = OidcVerifier(ks, audience=AUDIENCE, leeway_seconds=LEEWAY, clock=clock)
    raw = token(key)
    v.verify(raw)
    keys.jwks = [SigningKey().jwk]  # rotated: the old key is gone
    clock.now = NOW + 120  # past the JWKS TTL: the key set is fetched again
    with pytest.raises(AuthenticationRequired):
        v.verify(raw)


def test_the_cache_is_bounded(key: SigningKey, checks: list[str]) -> None:
    clock = Clock()
    v = make(clock, Keys(key), cache_size=3)
    raws = [token(key, sub=f"user{i}") for i in range(5)]
    for raw in raws:
        v.verify(raw)
    assert len(v._cache) == 3  # type: ignore[attr-defined]
    checks.clear()
    v.verify(raws[-1])  # recent: cached
    v.verify(raws[0])  # the oldest was dropped: checked again
    assert checks == [raws[0]]


def test_a_refused_token_is_never_cached(key: SigningKey, checks: list[str]) -> None:
    v = make(Clock(), Keys(key))
    other = SigningKey()
    forged = jwt.encode({"iss": ISSUER, "sub": "mallory", "aud": AUDIENCE, "iat": NOW, "exp": NOW + 600},
                        other.pem, algorithm="RS256", headers={"kid": key.kid})
    for _ in range(2):
        with pytest.raises(AuthenticationRequired):
            v.verify(forged)
    assert len(checks) == 2


def test_a_cache_of_size_zero_keeps_nothing_and_one_of_size_one_keeps_a_token(key: SigningKey, checks: list[str]) -> None:
    raw = token(key)
    off = make(Clock(), Keys(key), cache_size=0)
    off.verify(raw)
    off.verify(raw)
    assert checks == [raw, raw]
    checks.clear()
    one = make(Clock(), Keys(key), cache_size=1)
    one.verify(raw)
    one.verify(raw)
    assert checks == [raw]


def test_a_token_verified_at_its_exp_is_not_cached_and_evicts_nothing(key: SigningKey, checks: list[str]) -> None:
    v = make(Clock(), Keys(key), cache_size=1)
    kept = token(key)
    v.verify(kept)
    v.verify(token(key, sub="bob", exp=NOW))  # at its exp: within the leeway it passes, but is not kept
    checks.clear()
    v.verify(kept)
    assert checks == []
