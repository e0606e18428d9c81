"""JWS compact serialization (RFC 7515): strict parsing, and the signature checked with `cryptography`.

Only what an ID token from an OIDC provider needs: RS256/384/512 (RSASSA-PKCS1-v1_5),
PS256/384/512 (RSASSA-PSS, MGF1 with the same hash, a salt as long as the hash: RFC 7518 3.5) and
ES256/384/512 (ECDSA on the curve RFC 7518 3.4 pairs with each), public keys given as JWKs
(RFC 7517/7518 6). The primitives are cryptography's; this module only decodes and routes.

python-jose did this before. Its JWK import loads cryptography.x509 and serialization (unused
here) and turns key numbers into ints through hex strings: ~25 ms of every cold start. It never
verified PS256/384/512 (no PSS support), though OIDC_ALGORITHMS allows PS256 by default; this does.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
# ES alg -> (JWK crv, curve, bytes of r and of s in the signature)
_CURVES: dict[str, tuple[str, type[ec.EllipticCurve], int]] = {
    "ES256": ("P-256", ec.SECP256R1, 32), "ES384": ("P-384", ec.SECP384R1, 48), "ES512": ("P-521", ec.SECP521R1, 66),
}
SUPPORTED = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", *_CURVES})
_BASE64URL = re.compile(rb"[A-Za-z0-9_-]*")
MIN_RSA_BITS = 2048  # RFC 7518 3.3: a key of 2048 bits or larger MUST be used


class MalformedToken(ValueError):
    """Not a JWS in compact serialization: segments, base64url or the header's JSON."""


class UnusableKey(ValueError):
    """A JWK that cannot verify this algorithm (wrong type or curve, missing or malformed numbers)."""


class Compact:
    """A parsed token. A plain class: a dataclass costs ~0.5 ms at import, on every cold start."""

    __slots__ = ("header", "payload", "signing_input", "signature")

    def __init__(self, header: dict[str, Any], payload: bytes, signing_input: bytes, signature: bytes) -> None:
        self.header = header
        self.payload = payload
        self.signing_input = signing_input  # what was signed: the first two segments as sent
        self.signature = signature


def b64url_decode(segment: bytes) -> bytes:
    """base64url without padding (RFC 7515 2); any other character is refused, not skipped."""
    if not _BASE64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise MalformedToken("not base64url")
    try:
        return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise MalformedToken("not base64url") from None


def parse(token: str) -> Compact:
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise MalformedToken("not ASCII") from None
    parts = raw.split(b".")
    if len(parts) != 3:
        raise MalformedToken("a JWS has three segments")
    try:
        header = json.loads(b64url_decode(parts[0]).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):  # MalformedToken is a ValueError too
        raise MalformedToken("the header is not JSON") from None
    if not isinstance(header, dict):
        raise MalformedToken("the header is not a JSON object")
    return Compact(header, b64url_decode(parts[1]), parts[0] + b"." + parts[1], b64url_decode(parts[2]))


def verifies(compact: Compact, jwk: dict[str, Any], alg: str) -> bool:
    """Whether `jwk` (a public key) made the token's signature with `alg`; UnusableKey if it cannot have."""
    if alg not in SUPPORTED:
        raise UnusableKey(f"{alg} is not supported")
    digest = _HASHES[alg[2:]]()
    try:
        if alg.startswith("RS"):
            _rsa_key(jwk).verify(compact.signature, compact.signing_input, padding.PKCS1v15(), digest)
        elif alg.startswith("PS"):
            pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
            _rsa_key(jwk).verify(compact.signature, compact.signing_input, pss, digest)
        else:
            key, size = _ec_key(jwk, alg)
            if len(compact.signature) != 2 * size:  # RFC 7518 3.4: r and s, each of the curve's size
                return False
            r, s = int.from_bytes(compact.signature[:size], "big"), int.from_bytes(compact.signature[size:], "big")
            key.verify(encode_dss_signature(r, s), compact.signing_input, ec.ECDSA(digest))
    except InvalidSignature:
        return False
    return True


def _rsa_key(jwk: dict[str, Any]) -> rsa.RSAPublicKey:
    if jwk.get("kty") != "RSA":
        raise UnusableKey("not an RSA key")
    try:
        key = rsa.RSAPublicNumbers(_number(jwk, "e"), _number(jwk, "n")).public_key()
    except ValueError as exc:  # UnusableKey, or cryptography refusing the numbers
        raise UnusableKey(f"not a usable RSA key: {exc}") from None
    if key.key_size < MIN_RSA_BITS:
        raise UnusableKey(f"an RSA key of {key.key_size} bits is too short")
    return key


def _ec_key(jwk: dict[str, Any], alg: str) -> tuple[ec.EllipticCurvePublicKey, int]:
    crv, curve, size = _CURVES[alg]
    if jwk.get("kty") != "EC" or jwk.get("crv") != crv:
        raise UnusableKey(f"{alg} needs an EC key on {crv}")
    try:
        return ec.EllipticCurvePublicNumbers(_number(jwk, "x"), _number(jwk, "y"), curve()).public_key(), size
    except ValueError as exc:  # UnusableKey, or cryptography refusing a point that is not on the curve
        raise UnusableKey(f"not a usable {crv} key: {exc}") from None


def _number(jwk: dict[str, Any], name: str) -> int:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise UnusableKey(f"the key has no {name}")
    try:
        return int.from_bytes(b64url_decode(value.encode("ascii")), "big")
    except (MalformedToken, UnicodeEncodeError):
        raise UnusableKey(f"the key's {name} is not base64url") from None
