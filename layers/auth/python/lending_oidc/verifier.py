"""Strict ID-token verification: signature, alg allow-list, iss, aud/azp, exp, iat/nbf."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from jose import jwk, jws, jwt
from jose.exceptions import JOSEError

from lending.errors import AuthenticationRequired
from lending.model import User
from lending_oidc.keys import KeySet

_REQUIRED = ("iss", "sub", "aud", "exp", "iat")


@dataclass(frozen=True)
class LibrarianRule:
    """Who is a librarian: a value in a groups/roles claim, or a subject allow-list."""

    claim: str = "groups"
    value: str = "librarians"
    subjects: tuple[str, ...] = ()

    def applies(self, claims: dict[str, Any]) -> bool:
        if claims.get("sub") in self.subjects:
            return True
        groups = claims.get(self.claim)
        if isinstance(groups, str):
            groups = groups.replace(",", " ").split()
        return isinstance(groups, list) and self.value in groups


class OidcVerifier:
    """TokenVerifier for ID tokens from one issuer."""

    def __init__(self, keys: KeySet, *, audience: str, algorithms: tuple[str, ...] = ("RS256",),
                 leeway_seconds: int = 30, librarians: LibrarianRule = LibrarianRule()) -> None:
        self._keys = keys
        self._issuer = keys.issuer
        self._audience = audience
        self._algorithms = [a for a in algorithms if not a.upper().startswith("HS") and a.lower() != "none"]
        self._leeway = leeway_seconds
        self._librarians = librarians

    def authenticate(self, authorization_header: str | None) -> User:
        token = _bearer(authorization_header)
        claims = self.verify(token)
        return User(
            issuer=claims["iss"], subject=claims["sub"], name=_str(claims.get("name")),
            handle=_str(claims.get("preferred_username") or claims.get("nickname")),
            email=_str(claims.get("email")), is_librarian=self._librarians.applies(claims),
        )

    def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jws.get_unverified_header(token)
        except JOSEError:
            raise AuthenticationRequired("The token is malformed.") from None
        alg = header.get("alg")
        if alg not in self._algorithms:
            raise AuthenticationRequired("The token's signing algorithm is not accepted.")
        candidates = self._keys.keys_for(header.get("kid"))
        if not candidates:
            raise AuthenticationRequired("The token was signed by an unknown key.")
        claims: dict[str, Any] | None = None
        for key in candidates:
            if key.get("alg") not in (None, alg):
                continue
            try:
                public = jwk.construct(key, alg)
                claims = jwt.decode(
                    token, public.to_dict(), algorithms=[alg], audience=self._audience, issuer=self._issuer,
                    options={"require_aud": True, "require_exp": True, "require_iss": True, "require_sub": True,
                             "require_iat": True, "verify_at_hash": False, "leeway": self._leeway},
                )
                break
            except jwt.ExpiredSignatureError:
                raise AuthenticationRequired("The token has expired.") from None
            except jwt.JWTClaimsError as exc:
                raise AuthenticationRequired(f"The token's claims are not acceptable: {_claim_problem(exc)}.") from None
            except JOSEError:
                continue
        if claims is None:
            raise AuthenticationRequired("The token's signature is not valid.")
        aud = claims.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != self._audience:
            raise AuthenticationRequired("The token has several audiences and is not authorised for this one.")
        if claims.get("iat", 0) > time.time() + self._leeway:
            raise AuthenticationRequired("The token was issued in the future.")
        return claims


def _bearer(header: str | None) -> str:
    if not header:
        raise AuthenticationRequired("An Authorization: Bearer token is required.")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or token.count(".") != 2 or len(token) > 16_384:
        raise AuthenticationRequired("The Authorization header must be 'Bearer <ID token>'.")
    return token


def _claim_problem(exc: Exception) -> str:
    text = str(exc).lower()
    for claim in ("audience", "issuer", "subject", "iat", "nbf", "exp", "aud", "iss", "sub"):
        if claim in text:
            return claim
    return "invalid claims"


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
