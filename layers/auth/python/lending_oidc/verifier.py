"""Strict ID-token verification: alg allow-list, token type, signature, then iss, aud/azp, exp, iat, nbf.

Only ID tokens are accepted, not an access token from the same issuer for the same audience:
- a JWT header `typ` other than `JWT` is refused (RFC 8725 3.11 explicit typing; RFC 9068 2.1
  types JWT access tokens `at+jwt`; logout and other event tokens have types of their own);
- a payload that says it is another kind is refused (Cognito `token_use` other than `id`,
  Keycloak `typ` other than `ID`);
- a token with the access-token claims of RFC 9068 2.2 (`client_id`, `scope`) and none of the
  claims only an ID token carries (OIDC Core 2 and 3.1.3.6: `nonce`, `auth_time`, `at_hash`)
  is refused: OIDC Core defines neither `client_id` nor `scope` for ID tokens.
`azp`, when present, must be our client id (OIDC Core 2: "the party to which the ID Token was
issued"); with several audiences it is required.

The signature is checked by `signature` (cryptography's primitives); the claims below, and
every failure is an `AuthenticationRequired` with a fixed message that never quotes
the token.

A verified token's claims are kept, by the token's SHA-256, until its `exp` (strictly: the
leeway applies only to a full check) in a bounded cache, so a patron's next requests skip the
signature check. A hit is used only while the key that verified it is still one of the issuer's
current keys (a removed key stops its tokens at once, cached or not).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lending.errors import AuthenticationRequired, CredentialsMissing
from lending.model import User
from lending_oidc import signature
from lending_oidc.keys import KeySet

ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"})
REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat")
MAX_TOKEN_CHARS = 16_384
ACCESS_TOKEN_CLAIMS = ("client_id", "scope")
ID_TOKEN_ONLY_CLAIMS = ("nonce", "auth_time", "at_hash")
CACHE_SIZE = 4096


@dataclass(frozen=True)
class _Verified:
    claims: dict[str, Any]
    expires: float  # the token's exp: never used from the cache at or after it
    kid: str | None
    alg: str
    key: dict[str, Any]  # the JWKS entry that verified it


@dataclass(frozen=True)
class LibrarianRule:
    """Who is a librarian: `value` in the `claim` (groups/roles), or a subject in `subjects`.

    `claim` may be a dotted path into nested claims (Keycloak: `realm_access.roles`);
    a claim literally named with dots (Auth0's `https://example.org/roles`) wins.
    """

    claim: str = "groups"
    value: str = "librarians"
    subjects: tuple[str, ...] = ()

    def applies(self, claims: dict[str, Any]) -> bool:
        if claims.get("sub") in self.subjects:
            return True
        groups = _claim_at(claims, self.claim)
        if isinstance(groups, str):
            groups = groups.replace(",", " ").split()
        return isinstance(groups, list) and self.value in groups


class OidcVerifier:
    """TokenVerifier for ID tokens from one issuer."""

    def __init__(self, keys: KeySet, *, audience: str, algorithms: tuple[str, ...] = ("RS256",),
                 leeway_seconds: int = 30, librarians: LibrarianRule = LibrarianRule(),
                 clock: Callable[[], float] = time.time, cache_size: int = CACHE_SIZE) -> None:
        self._keys = keys
        self._cache: dict[bytes, _Verified] = {}
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._audience = audience
        self._algorithms = frozenset(algorithms) & ASYMMETRIC
        if not self._algorithms:
            raise ValueError(f"no asymmetric algorithm allowed; choose from {sorted(ASYMMETRIC)}")
        self._leeway = leeway_seconds
        self._librarians = librarians
        self._clock = clock

    def authenticate(self, authorization_header: str | None) -> User:
        claims = self.verify(_bearer(authorization_header))
        return User(
            issuer=claims["iss"], subject=claims["sub"], name=_text(claims.get("name")),
            handle=_text(claims.get("preferred_username")) or _text(claims.get("nickname")),
            email=_text(claims.get("email")), is_librarian=self._librarians.applies(claims),
        )

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims if it is a valid ID token for us; else AuthenticationRequired."""
        digest = hashlib.sha256(token.encode()).digest()
        hit = self._cache.get(digest)
        if hit is not None:
            if self._clock() < hit.expires and hit.key in self._keys.keys_for(hit.kid, hit.alg):
                return hit.claims
            with self._cache_lock:
                self._cache.pop(digest, None)
        payload, kid, alg, key = self._verified_payload(token)
        try:
            claims = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise AuthenticationRequired("The token's payload is not JSON.") from None
        if not isinstance(claims, dict):
            raise AuthenticationRequired("The token's payload is not a JSON object.")
        now = self._clock()
        check_claims(claims, issuer=self._keys.issuer_name, audience=self._audience, leeway=self._leeway, now=now)
        exp = _seconds(claims, "exp")
        if exp is not None and now < exp and self._cache_size > 0:
            self._remember(digest, _Verified(claims, exp, kid, alg, key))
        return claims

    def _remember(self, digest: bytes, verified: _Verified) -> None:
        with self._cache_lock:
            while len(self._cache) >= self._cache_size:  # the oldest entries go first
                self._cache.pop(next(iter(self._cache)))
            self._cache[digest] = verified

    def _verified_payload(self, token: str) -> tuple[bytes, str | None, str, dict[str, Any]]:
        try:
            compact = signature.parse(token)
        except signature.MalformedToken:
            raise AuthenticationRequired("The token is malformed.") from None
        header = compact.header
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise AuthenticationRequired("The token's signing algorithm is not accepted.")
        if "crit" in header:
            raise AuthenticationRequired("The token requires extensions this service does not support.")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower().removeprefix("application/") != "jwt"):
            raise AuthenticationRequired("The token is not an ID token.")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise AuthenticationRequired("The token's key id is malformed.")
        candidates = self._keys.keys_for(kid, alg)
        if not candidates:
            raise AuthenticationRequired("The token was signed by an unknown key.")
        for candidate in candidates:
            try:
                if signature.verifies(compact, candidate, alg):
                    return compact.payload, kid, alg, candidate
            except (ValueError, TypeError):
                continue  # not this key; a malformed JWKS entry must not break the good ones
        raise AuthenticationRequired("The token's signature is not valid.")


def check_claims(claims: dict[str, Any], *, issuer: str, audience: str, leeway: float, now: float) -> None:
    """Raise AuthenticationRequired unless the ID token claims are acceptable at `now` (Unix time)."""
    for name in REQUIRED_CLAIMS:
        if name not in claims:
            raise AuthenticationRequired(f"The token has no {name} claim.")
    if claims["iss"] != issuer:
        raise AuthenticationRequired("The token was issued by another issuer.")
    sub = claims["sub"]
    if not isinstance(sub, str) or not 0 < len(sub) <= 255:
        raise AuthenticationRequired("The token's sub claim is not a subject identifier.")
    aud = claims["aud"]
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise AuthenticationRequired("The token's aud claim is malformed.")
    if audience not in audiences:
        raise AuthenticationRequired("The token is meant for another audience.")
    if len(audiences) > 1 and claims.get("azp") != audience:
        raise AuthenticationRequired("The token has several audiences and is not authorised for this one.")
    if "azp" in claims and claims["azp"] != audience:
        raise AuthenticationRequired("The token was issued to another client.")
    _check_kind(claims)
    exp, iat, nbf = _seconds(claims, "exp"), _seconds(claims, "iat"), _seconds(claims, "nbf")
    if exp is not None and now >= exp + leeway:
        raise AuthenticationRequired("The token has expired.")
    if iat is not None and iat > now + leeway:
        raise AuthenticationRequired("The token was issued in the future.")
    if nbf is not None and nbf > now + leeway:
        raise AuthenticationRequired("The token is not valid yet.")


def _check_kind(claims: dict[str, Any]) -> None:
    """Refuse a token that says, or looks like, it is an access token (see the module docstring)."""
    token_use, kind = claims.get("token_use"), claims.get("typ")
    if token_use is not None and token_use != "id":
        raise AuthenticationRequired("The token is not an ID token.")
    if kind is not None and (not isinstance(kind, str) or kind.lower() != "id"):
        raise AuthenticationRequired("The token is not an ID token.")
    if any(c in claims for c in ACCESS_TOKEN_CLAIMS) and not any(c in claims for c in ID_TOKEN_ONLY_CLAIMS):
        raise AuthenticationRequired("The token is an access token, not an ID token.")


def _seconds(claims: dict[str, Any], name: str) -> float | None:
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AuthenticationRequired(f"The token's {name} claim is not a number of seconds.")
    return float(value)


def _bearer(header: str | None) -> str:
    if not header:
        raise CredentialsMissing("An Authorization: Bearer token is required.")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer":
        raise CredentialsMissing("Only 'Authorization: Bearer <ID token>' is accepted.")
    if not token or token.count(".") != 2 or len(token) > MAX_TOKEN_CHARS:
        raise AuthenticationRequired("The Authorization header must be 'Bearer <ID token>'.")
    return token


def _claim_at(claims: dict[str, Any], path: str) -> Any:
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) and value else None
