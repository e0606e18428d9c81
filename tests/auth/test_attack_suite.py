"""Forged, stale and foreign tokens against the real HTTP endpoints: every one must be a 401.

The service runs under chalice local and fetches its keys over HTTP from an issuer the
suite controls. Each attack goes to GET /me and to POST /books (a librarian write, with
the forged token claiming librarian rights). The suite counts rejections and fails on
any acceptance; a valid token, sent the same way, passes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from jose import jwt

from tests.auth.conftest import service_trusting
from tests.auth.forge import hmac_signed, unsigned, with_claims
from tests.conftest import sql
from tests.support.issuer import SigningKey, TestIssuer
from tests.support.stack import ChaliceServer

STAFF = {"realm_access": {"roles": ["staff"]}}  # librarian rights under this server's rule
BOOK = {"isbn": "9780141439518", "title": "Attack suite copy", "author": "Nobody", "price_cents": 100,
        "borrow_fee_cents": 50, "currency": "usd"}


@dataclass
class Stack:
    server: ChaliceServer
    log: Path
    trusted: TestIssuer
    intruder: TestIssuer
    retired: SigningKey


@pytest.fixture(scope="module")
def stack(service_env: dict[str, str], run_dir: Path) -> Iterator[Stack]:
    trusted, intruder = TestIssuer(), TestIssuer()
    log = run_dir / "auth-attacks.log"
    settings = {"OIDC_GROUPS_CLAIM": "realm_access.roles", "LIBRARIAN_GROUP": "staff",
                "LIBRARIAN_SUBJECTS": "chief", "OIDC_JWKS_MIN_REFRESH_SECONDS": "0"}
    try:
        with service_trusting(trusted.url, trusted.audience, service_env, log, **settings) as server:
            yield Stack(server, log, trusted, intruder, _retire_a_key(server.url, trusted))
    finally:
        trusted.close()
        intruder.close()


def _retire_a_key(base: str, issuer: TestIssuer) -> SigningKey:
    """A key the service has accepted, then saw removed from the JWKS: a key rotated out."""
    retired = SigningKey()
    issuer.published = [issuer.key, retired]
    assert _me(base, issuer.token("alice", key=retired)).status_code == 200
    issuer.published = [issuer.key]
    hits = issuer.jwks_hits
    # Any unknown kid makes the service refresh its keys and so learn of the removal.
    assert _me(base, issuer.token("alice", key=SigningKey())).status_code == 401
    assert issuer.jwks_hits > hits
    return retired


def _me(base: str, token: str) -> requests.Response:
    return requests.get(f"{base}/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def attacks(s: Stack) -> dict[str, str | None]:
    """name -> full Authorization header value (None: no header at all)."""
    t = s.trusted
    now = int(time.time())
    forged = t.claims("mallory", **STAFF)
    kid = t.key.kid
    valid = t.token("alice")
    cases: dict[str, str] = {
        # the list
        "alg none": unsigned({"alg": "none", "typ": "JWT", "kid": kid}, forged),
        "HS256 keyed with the public key (PEM)": hmac_signed(
            t.key.public_pem.encode(), {"alg": "HS256", "typ": "JWT", "kid": kid}, forged),
        "expired": t.token("mallory", exp=now - 600, iat=now - 1200, **STAFF),
        "no exp": t.token("mallory", exp=None, **STAFF),
        "no aud": t.token("mallory", aud=None, **STAFF),
        "wrong aud": t.token("mallory", aud="another-app", **STAFF),
        "wrong iss": t.token("mallory", iss="https://login.example.net", **STAFF),
        "tampered payload": with_claims(valid, sub="chief", **STAFF),
        "unknown kid": t.token("mallory", key=SigningKey(), **STAFF),
        "a key rotated out": t.token("mallory", key=s.retired, **STAFF),
        "second issuer with its own valid keys": s.intruder.token("mallory", **STAFF),
        # variations on the same themes
        "alg None (capitalised)": unsigned({"alg": "None", "kid": kid}, forged),
        "alg none without a signature segment or kid": unsigned({"alg": "none"}, forged),
        "HS256 keyed with the public JWK": hmac_signed(
            json.dumps(t.key.jwk).encode(), {"alg": "HS256", "kid": kid}, forged),
        "RS256 header over an HS256 signature": hmac_signed(
            t.key.public_pem.encode(), {"alg": "RS256", "kid": kid}, forged),
        "second issuer claiming our iss": s.intruder.token("mallory", iss=t.url, **STAFF),
        "second issuer's key under our kid": s.intruder.token("mallory", iss=t.url, headers={"kid": kid}, **STAFF),
        "unknown key and no kid": t.token("mallory", key=SigningKey(kid=""), **STAFF),
        "iss with a trailing slash": t.token("mallory", iss=t.url + "/", **STAFF),
        "no iss": t.token("mallory", iss=None, **STAFF),
        "no sub": jwt.encode({k: v for k, v in forged.items() if k != "sub"}, t.key.pem, algorithm="RS256",
                             headers={"kid": kid}),
        "no iat": t.token("mallory", iat=None, **STAFF),
        "exp as a string far ahead": t.token("mallory", exp=str(now + 10**6), **STAFF),
        "not valid yet (nbf)": t.token("mallory", nbf=now + 3600, **STAFF),
        "issued in the future (iat)": t.token("mallory", iat=now + 3600, **STAFF),
        "several audiences, no azp": t.token("mallory", aud=[t.audience, "another-app"], **STAFF),
        "several audiences, azp of another app": t.token(
            "mallory", aud=[t.audience, "another-app"], azp="another-app", **STAFF),
        "signature cut off": valid.rsplit(".", 1)[0] + ".",
        "signature of another token": valid.rsplit(".", 1)[0] + "." + t.token("bob").rsplit(".", 1)[1],
    }
    headers: dict[str, str | None] = {name: f"Bearer {token}" for name, token in cases.items()}
    headers.update({
        "no Authorization header": None,
        "empty bearer": "Bearer ",
        "not a JWT": "Bearer not-a-token",
        "Basic credentials": "Basic YWxpY2U6c2VjcmV0",
        "token without the Bearer scheme": valid,
        "five-part JWE-like token": f"Bearer {valid}.x.y",
        "oversized token": "Bearer " + "a" * 20_000 + ".b.c",
    })
    return headers


def _rejected_properly(r: requests.Response, header: str | None) -> str | None:
    """What is wrong with this answer to an attack, or None if it is a proper 401."""
    if r.status_code != 401:
        return f"answered {r.status_code}"
    challenge = r.headers.get("WWW-Authenticate", "")
    if header is None or not header.lower().startswith("bearer "):
        # RFC 6750 3.1: no credentials (or another scheme) -> a challenge without an error code.
        if challenge != 'Bearer realm="library-lending"':
            return f"WWW-Authenticate is {challenge!r}"
    elif not challenge.startswith('Bearer realm="library-lending", error="invalid_token"') \
            or 'error_description="' not in challenge:
        return f"WWW-Authenticate is {challenge!r}"
    if r.headers.get("Content-Type") != "application/problem+json":
        return f"Content-Type is {r.headers.get('Content-Type')!r}"
    body = r.json()
    if body.get("status") != 401 or body.get("title") != "Unauthorized" or not body.get("detail"):
        return f"problem body is {body!r}"
    for part in _secrets_of(header):
        if part in r.text or any(part in value for value in r.headers.values()):
            return "the token is echoed"
    return None


def _secrets_of(header: str | None) -> list[str]:
    """Distinctive pieces of a sent token (payload and signature segments, and the whole)."""
    if not header:
        return []
    token = header.partition(" ")[2] or header
    return [p for p in [token, *token.split(".")[1:]] if len(p) >= 16]


def test_every_attack_is_rejected_with_401_and_a_valid_token_passes(stack: Stack, pool) -> None:
    base = stack.server.url
    books_before = _attack_books(pool)
    cases = attacks(stack)
    rejections, failures = 0, []
    for name, header in cases.items():
        sent = {"Authorization": header} if header is not None else {}
        for method, path, body in (("GET", "/me", None), ("POST", "/books", BOOK)):
            r = requests.request(method, base + path, json=body, headers=sent, timeout=30)
            problem = _rejected_properly(r, header)
            if problem is None:
                rejections += 1
            else:
                failures.append(f"{name}: {method} {path} {problem}")
    assert not failures, "attacks not properly rejected:\n" + "\n".join(failures)
    assert rejections == 2 * len(cases) and len(cases) >= 30
    assert _attack_books(pool) == books_before, "an attack wrote to the database"

    log = stack.log.read_text(errors="replace")
    leaked = [name for name, header in cases.items() if any(p in log for p in _secrets_of(header))]
    assert not leaked, f"tokens written to the service log: {leaked}"

    valid = {"Authorization": f"Bearer {stack.trusted.token('chief')}"}
    assert requests.get(base + "/me", headers=valid, timeout=30).json()["sub"] == "chief"
    created = requests.post(base + "/books", json=BOOK, headers=valid, timeout=30)
    assert created.status_code == 201, created.text
    assert _attack_books(pool) == books_before + 1


def test_identity_and_the_configured_librarian_rule(stack: Stack) -> None:
    t, base = stack.trusted, stack.server.url
    patron = _me(base, t.token("ann", name="Ann Patron", preferred_username=None, nickname="annie",
                                email="ann@example.org"))
    assert patron.status_code == 200
    assert patron.json() == {"iss": t.url, "sub": "ann", "name": "Ann Patron", "handle": "annie",
                             "email": "ann@example.org", "is_librarian": False}
    assert _me(base, t.token("rita", **STAFF)).json()["is_librarian"] is True
    assert _me(base, t.token("gus", groups=["librarians", "staff"])).json()["is_librarian"] is False
    assert _me(base, t.token("chief")).json()["is_librarian"] is True  # LIBRARIAN_SUBJECTS

    forbidden = requests.post(f"{base}/books", json=BOOK, timeout=30,
                              headers={"Authorization": f"Bearer {t.token('ann')}"})
    assert forbidden.status_code == 403
    assert forbidden.headers["Content-Type"] == "application/problem+json"
    assert "WWW-Authenticate" not in forbidden.headers


def _attack_books(pool: Any) -> int:
    return int(sql(pool, "SELECT count(*) FROM books WHERE title = :t", t=BOOK["title"])[0][0])
