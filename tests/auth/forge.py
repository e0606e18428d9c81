"""Hand-made tokens an attacker could send: unsigned, HMAC'd with a public key, tampered."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """`alg: none` (or whatever the header says) with an empty signature."""
    return f"{_segment(header)}.{_segment(claims)}."


def hmac_signed(secret: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """HS256 keyed with `secret`: the classic attack passes the issuer's public key as the secret."""
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def with_claims(token: str, **changes: Any) -> str:
    """The same header and signature over a changed payload."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{_segment(claims)}.{signature}"
