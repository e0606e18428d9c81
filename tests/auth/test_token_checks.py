"""OidcVerifier and check_claims with real signed tokens and in-memory keys (no network)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jws, jwt

from lending.errors import AuthenticationRequired
from lending_oidc import KeySet, LibrarianRule, OidcVerifier
from lending_oidc.verifier import check_claims
from lending_settings import ConfigError, from_env
from tests.auth.forge import b64url
from tests.support.issuer import SigningKey

ISSUER, AUDIENCE, NOW = "https://idp.example.org", "library-ui", 1_800_000_000


def claims(**overrides: Any) -> dict[str, Any]:
    base = {"iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": NOW - 10, "exp": NOW + 600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def verifier(jwks: list[dict[str, Any]], algorithms: tuple[str, ...] = ("RS256",), leeway: int = 30,
             rule: LibrarianRule = LibrarianRule()) -> OidcVerifier:
    def fetch(url: str) -> dict[str, Any]:
        if url.endswith("/.well-known/openid-configuration"):
            return {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"}
        return {"keys": jwks}

    return OidcVerifier(KeySet(ISSUER, fetch=fetch), audience=AUDIENCE, algorithms=algorithms,
                        leeway_seconds=leeway, librarians=rule, clock=lambda: NOW)


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey()


def signed(key: SigningKey, body: dict[str, Any], **headers: Any) -> str:
    return jwt.encode(body, key.pem, algorithm="RS256", headers={"kid": key.kid, **headers})


def rejected(v: OidcVerifier, token: str) -> str:
    with pytest.raises(AuthenticationRequired) as caught:
        v.verify(token)
    assert token not in caught.value.detail and '"' not in caught.value.detail
    return caught.value.detail


@pytest.mark.parametrize(("overrides", "accepted"), [
    ({"exp": NOW - 29}, True), ({"exp": NOW - 30}, False),
    ({"iat": NOW + 30}, True), ({"iat": NOW + 31}, False),
    ({"nbf": NOW + 30}, True), ({"nbf": NOW + 31}, False),
    ({"nbf": NOW - 100}, True),
])
def test_time_claims_have_the_configured_leeway(overrides: dict[str, Any], accepted: bool) -> None:
    body = claims(**overrides)
    if accepted:
        check_claims(body, issuer=ISSUER, audience=AUDIENCE, leeway=30, now=NOW)
    else:
        with pytest.raises(AuthenticationRequired):
            check_claims(body, issuer=ISSUER, audience=AUDIENCE, leeway=30, now=NOW)
    with pytest.raises(AuthenticationRequired):  # with no leeway, only the past is fine
        check_claims(claims(exp=NOW, iat=NOW + 1), issuer=ISSUER, audience=AUDIENCE, leeway=0, now=NOW)


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"iss": None}, "no iss claim"), ({"sub": None}, "no sub claim"), ({"aud": None}, "no aud claim"),
    ({"exp": None}, "no exp claim"), ({"iat": None}, "no iat claim"),
    ({"iss": ISSUER + "/"}, "another issuer"), ({"iss": ISSUER.upper()}, "another issuer"),
    ({"sub": ""}, "subject"), ({"sub": 42}, "subject"), ({"sub": "x" * 256}, "subject"),
    ({"aud": "other"}, "another audience"), ({"aud": ["other", "more"]}, "another audience"),
    ({"aud": 7}, "malformed"), ({"aud": [AUDIENCE, 7]}, "malformed"),
    ({"aud": [AUDIENCE, "other"]}, "several audiences"),
    ({"aud": [AUDIENCE, "other"], "azp": "other"}, "several audiences"),
    ({"exp": str(NOW + 600)}, "exp claim is not a number"), ({"exp": True}, "exp claim is not a number"),
    ({"exp": [NOW + 600]}, "exp claim is not a number"), ({"exp": float("inf")}, "exp claim is not a number"),
    ({"iat": "now"}, "iat claim is not a number"), ({"nbf": {"t": 1}}, "nbf claim is not a number"),
])
def test_claims_that_are_missing_or_wrong_are_rejected(overrides: dict[str, Any], reason: str) -> None:
    with pytest.raises(AuthenticationRequired, match=reason):
        check_claims(claims(**overrides), issuer=ISSUER, audience=AUDIENCE, leeway=30, now=NOW)


@pytest.mark.parametrize("overrides", [
    {"aud": [AUDIENCE]}, {"aud": [AUDIENCE, "other"], "azp": AUDIENCE}, {"exp": NOW + 1.5}, {"azp": AUDIENCE},
    {"sub": "a"}, {"sub": "x" * 255},
])
def test_acceptable_claim_shapes(overrides: dict[str, Any]) -> None:
    check_claims(claims(**overrides), issuer=ISSUER, audience=AUDIENCE, leeway=30, now=NOW)


def test_a_valid_token_gives_the_user_by_issuer_and_subject(key: SigningKey) -> None:
    token = signed(key, claims(name="Alice A.", nickname="ali", email="a@example.org", groups="patrons,librarians"))
    user = verifier([key.jwk]).authenticate(f"Bearer {token}")
    assert (user.issuer, user.subject, user.name, user.handle, user.email) == (
        ISSUER, "alice", "Alice A.", "ali", "a@example.org")
    assert user.is_librarian


def test_the_signature_is_checked_with_the_issuers_keys(key: SigningKey) -> None:
    v = verifier([key.jwk])
    token = signed(key, claims())
    head, payload, signature = token.split(".")
    assert "signature" in rejected(v, f"{head}.{b64url(json.dumps(claims(sub='bob')).encode())}.{signature}")
    assert "unknown key" in rejected(v, signed(SigningKey(), claims()))
    assert "signature" in rejected(v, signed(SigningKey(kid=""), claims(), kid=key.kid))
    assert "extensions" in rejected(v, signed(key, claims(), crit=["exp"]))
    assert "malformed" in rejected(v, "%%%.e30.x")
    assert "algorithm" in rejected(v, "e30." + payload + ".")  # no alg at all
    assert "algorithm" in rejected(v, b64url(b'{"alg":"none"}') + "." + payload + ".")
    assert "algorithm" in rejected(v, jwt.encode(claims(), "secret", algorithm="HS256", headers={"kid": key.kid}))
    assert "key id" in rejected(v, signed(key, claims(), kid=["a"]))
    assert "not JSON" in rejected(v, jws.sign(b"hello", key.pem, algorithm="RS256", headers={"kid": key.kid}))
    assert "not a JSON object" in rejected(v, jws.sign(b"[1,2]", key.pem, algorithm="RS256", headers={"kid": key.kid}))


def test_elliptic_curve_keys_without_kid_work_when_allowed() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    numbers = private.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": b64url(numbers.x.to_bytes(32, "big")),
           "y": b64url(numbers.y.to_bytes(32, "big"))}
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    token = jwt.encode(claims(), pem.decode(), algorithm="ES256")
    assert verifier([jwk], algorithms=("RS256", "ES256")).verify(token)["sub"] == "alice"
    assert "algorithm" in rejected(verifier([jwk], algorithms=("RS256",)), token)


@pytest.mark.parametrize("broken", [{"kty": "RSA", "n": 123, "e": "AQAB"}, {"kty": "RSA"}, {"kty": "RSA", "n": None},
                                    {"kty": "RSA", "n": ["a"], "e": "AQAB"}, {"kty": "RSA", "n": "!!", "e": "AQAB"}])
def test_a_malformed_key_in_the_jwks_does_not_break_the_good_ones(key: SigningKey, broken: dict[str, Any]) -> None:
    kidless = SigningKey(kid="")
    token = jwt.encode(claims(), kidless.pem, algorithm="RS256")
    assert verifier([broken, kidless.jwk]).verify(token)["sub"] == "alice"
    assert "signature" in rejected(verifier([broken]), token)


def test_only_asymmetric_algorithms_can_be_configured() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        verifier([], algorithms=("HS256", "none"))
    assert verifier([], algorithms=("HS256", "RS256"))._algorithms == {"RS256"}
    env = {"DATABASE_URL": "postgresql://u@127.0.0.1/db", "OIDC_ISSUER": ISSUER, "OIDC_AUDIENCE": AUDIENCE,
           "STRIPE_API_KEY": "sk_test_x"}
    for algorithms in ("HS256", "none", "RS256,hs256", "XYZ", "RS256,None"):
        with pytest.raises(ConfigError, match="OIDC_ALGORITHMS"):
            from_env({**env, "OIDC_ALGORITHMS": algorithms})
    assert from_env({**env, "OIDC_ALGORITHMS": "ES384, PS512"}).oidc_algorithms == ("ES384", "PS512")
    with pytest.raises(ConfigError, match="OIDC_JWKS"):
        from_env({**env, "OIDC_JWKS_TTL_SECONDS": "0"})


@pytest.mark.parametrize("header", [None, "", "Basic YWxpY2U6c2VjcmV0", "Bearer", "Bearer a.b", "bearer a.b.c.d",
                                    "Bearer " + "a" * 16_384 + ".b.c"])
def test_the_authorization_header_must_be_a_bearer_jwt(header: str | None) -> None:
    with pytest.raises(AuthenticationRequired, match="Bearer"):
        verifier([]).authenticate(header)


@pytest.mark.parametrize(("rule", "body", "librarian"), [
    (LibrarianRule(), {"groups": ["librarians"]}, True),
    (LibrarianRule(), {"groups": "patrons librarians"}, True),
    (LibrarianRule(), {"groups": ["librarians-2"]}, False),
    (LibrarianRule(), {"groups": {"librarians": True}}, False),
    (LibrarianRule(), {}, False),
    (LibrarianRule("roles", "staff"), {"roles": ["staff"], "groups": ["librarians"]}, True),
    (LibrarianRule("roles", "staff"), {"groups": ["staff"]}, False),
    (LibrarianRule("realm_access.roles", "staff"), {"realm_access": {"roles": ["staff"]}}, True),
    (LibrarianRule("realm_access.roles", "staff"), {"realm_access": ["staff"]}, False),
    (LibrarianRule("https://library.example/roles", "staff"), {"https://library.example/roles": ["staff"]}, True),
    (LibrarianRule(subjects=("1098", "2001")), {"sub": "2001"}, True),
    (LibrarianRule(subjects=("1098",)), {"sub": "10"}, False),
])
def test_the_librarian_rule_is_configurable(rule: LibrarianRule, body: dict[str, Any], librarian: bool) -> None:
    assert rule.applies({"sub": "someone", **body}) is librarian

