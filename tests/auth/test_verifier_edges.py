"""The verifier's limits at their edges: the longest token accepted, the longest name kept."""

from __future__ import annotations

import dataclasses
import json

import pytest
from jose import jws, jwt

from lending.errors import AuthenticationRequired
from lending_oidc import LibrarianRule, OidcVerifier
from lending_oidc.verifier import _Verified
from tests.auth.test_token_checks import AUDIENCE, NOW, claims, verifier
from tests.support.issuer import SigningKey


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey()


def token_of_length(key: SigningKey, length: int) -> str:
    """A validly signed token exactly `length` characters long: a padding claim makes up the payload,
    and a header field reaches the lengths base64 skips."""
    for extra in range(4):
        headers = {"kid": key.kid, "x": "h" * extra}
        header, _, signature = jws.sign(b"{}", key.pem, headers=headers, algorithm="RS256").split(".")
        room = length - len(header) - len(signature) - 2  # characters left for the payload segment
        size = next((n for n in range(room) if -(-4 * n // 3) == room), None)  # bytes that encode to `room`
        if size is None:
            continue
        base = json.dumps(claims(pad=""), separators=(",", ":"))
        payload = json.dumps(claims(pad="p" * (size - len(base))), separators=(",", ":")).encode()
        token = jws.sign(payload, key.pem, headers=headers, algorithm="RS256")
        assert len(token) == length
        return token
    raise AssertionError(f"no token of {length} characters")


def test_a_token_of_the_longest_length_is_accepted_and_one_character_more_is_not(key: SigningKey) -> None:
    v = verifier([key.jwk])
    assert v.authenticate(f"Bearer {token_of_length(key, 16_384)}").subject == "alice"
    with pytest.raises(AuthenticationRequired, match="Bearer"):
        v.authenticate(f"Bearer {token_of_length(key, 16_385)}")


def test_names_are_kept_to_200_characters(key: SigningKey) -> None:
    token = jwt.encode(claims(name="n" * 300, preferred_username="u" * 200, email="e" * 201), key.pem,
                       algorithm="RS256", headers={"kid": key.kid})
    user = verifier([key.jwk]).authenticate(f"Bearer {token}")
    assert (user.name, user.handle, user.email) == ("n" * 200, "u" * 200, "e" * 200)


def test_the_preferred_username_wins_over_the_nickname(key: SigningKey) -> None:
    token = jwt.encode(claims(preferred_username="alice", nickname="ali", name=""), key.pem, algorithm="RS256",
                       headers={"kid": key.kid})
    user = verifier([key.jwk]).authenticate(f"Bearer {token}")
    assert (user.handle, user.name, user.email) == ("alice", None, None)


def test_the_default_leeway_is_30_seconds(key: SigningKey) -> None:
    keys = verifier([key.jwk])._keys  # type: ignore[attr-defined]
    v = OidcVerifier(keys, audience=AUDIENCE, clock=lambda: NOW)
    sign = lambda body: jwt.encode(body, key.pem, algorithm="RS256", headers={"kid": key.kid})  # noqa: E731
    assert v.verify(sign(claims(exp=NOW - 29)))["sub"] == "alice"
    with pytest.raises(AuthenticationRequired, match="expired"):
        v.verify(sign(claims(exp=NOW - 30)))


def test_the_default_cache_keeps_4096_tokens(key: SigningKey) -> None:
    v = OidcVerifier(verifier([key.jwk])._keys, audience=AUDIENCE)  # type: ignore[attr-defined]
    entry = _Verified({"sub": "alice"}, float(NOW), key.kid, "RS256", key.jwk)
    for i in range(4097):
        v._remember(i.to_bytes(2, "big"), entry)  # type: ignore[attr-defined]
    assert len(v._cache) == 4096 and (0).to_bytes(2, "big") not in v._cache  # type: ignore[attr-defined]


def test_a_librarian_rule_is_a_value_shared_safely_as_the_default() -> None:
    rule = LibrarianRule()
    assert hash(rule) == hash(LibrarianRule()) and rule == LibrarianRule()
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.value = "everyone"  # type: ignore[misc]
