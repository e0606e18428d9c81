"""lending_oidc.signature against tokens signed by another implementation (python-jose)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from jose import jws

from lending_oidc import signature


def _b64(n: int, size: int | None = None) -> str:
    raw = n.to_bytes(size or (n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _pem(key: Any) -> str:
    return str(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode())


@pytest.fixture(scope="module")
def rsa_key() -> tuple[str, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    return _pem(key), {"kty": "RSA", "n": _b64(numbers.n), "e": _b64(numbers.e)}


def _ec(curve: ec.EllipticCurve, crv: str, size: int) -> tuple[str, dict[str, Any]]:
    key = ec.generate_private_key(curve)
    numbers = key.public_key().public_numbers()
    return _pem(key), {"kty": "EC", "crv": crv, "x": _b64(numbers.x, size), "y": _b64(numbers.y, size)}


@pytest.fixture(scope="module")
def p256() -> tuple[str, dict[str, Any]]:
    return _ec(ec.SECP256R1(), "P-256", 32)


def _signed(pem: str, alg: str, payload: bytes = b'{"sub":"alice"}') -> signature.Compact:
    return signature.parse(jws.sign(payload, pem, algorithm=alg))


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512"])
def test_an_rsa_signature_verifies_with_its_key(rsa_key: tuple[str, dict[str, Any]], alg: str) -> None:
    pem, jwk = rsa_key
    compact = _signed(pem, alg)
    assert compact.payload == b'{"sub":"alice"}'
    assert signature.verifies(compact, jwk, alg)


@pytest.mark.parametrize(("curve", "crv", "size", "alg"), [
    (ec.SECP256R1(), "P-256", 32, "ES256"), (ec.SECP384R1(), "P-384", 48, "ES384"),
    (ec.SECP521R1(), "P-521", 66, "ES512")])
def test_an_ecdsa_signature_verifies_with_its_key(curve: ec.EllipticCurve, crv: str, size: int, alg: str) -> None:
    pem, jwk = _ec(curve, crv, size)
    assert signature.verifies(_signed(pem, alg), jwk, alg)


def test_a_changed_payload_does_not_verify(rsa_key: tuple[str, dict[str, Any]],
                                           p256: tuple[str, dict[str, Any]]) -> None:
    for (pem, jwk), alg in ((rsa_key, "RS256"), (p256, "ES256")):
        compact = _signed(pem, alg)
        forged = signature.Compact(compact.header, b"{}", compact.signing_input[:-1] + b"A", compact.signature)
        assert not signature.verifies(forged, jwk, alg)


def test_another_key_does_not_verify(rsa_key: tuple[str, dict[str, Any]]) -> None:
    _, other = _ec(ec.SECP256R1(), "P-256", 32)
    other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_numbers()
    compact = _signed(rsa_key[0], "RS256")
    assert not signature.verifies(compact, {"kty": "RSA", "n": _b64(other_rsa.n), "e": _b64(other_rsa.e)}, "RS256")
    with pytest.raises(signature.UnusableKey):
        signature.verifies(compact, other, "RS256")


def test_an_rsa_key_under_2048_bits_cannot_verify() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    numbers = key.public_key().public_numbers()
    with pytest.raises(signature.UnusableKey):
        signature.verifies(_signed(_pem(key), "RS256"), {"kty": "RSA", "n": _b64(numbers.n), "e": _b64(numbers.e)},
                           "RS256")


def test_an_ecdsa_key_on_another_curve_cannot_verify(p256: tuple[str, dict[str, Any]]) -> None:
    pem, jwk = _ec(ec.SECP384R1(), "P-384", 48)
    with pytest.raises(signature.UnusableKey):
        signature.verifies(_signed(pem, "ES384"), jwk, "ES256")  # RFC 7518 3.4: ES256 is P-256 only
    with pytest.raises(signature.UnusableKey):
        signature.verifies(_signed(p256[0], "ES256"), {**p256[1], "crv": "P-384"}, "ES384")


def test_an_ecdsa_signature_of_the_wrong_length_does_not_verify(p256: tuple[str, dict[str, Any]]) -> None:
    compact = _signed(p256[0], "ES256")
    assert not signature.verifies(signature.Compact(compact.header, compact.payload, compact.signing_input,
                                                    compact.signature + b"\0"), p256[1], "ES256")


def test_a_point_off_the_curve_is_refused(p256: tuple[str, dict[str, Any]]) -> None:
    with pytest.raises(signature.UnusableKey):
        signature.verifies(_signed(p256[0], "ES256"), {**p256[1], "y": p256[1]["x"]}, "ES256")


@pytest.mark.parametrize("alg", ["HS256", "none", "EdDSA"])
def test_other_algorithms_are_never_verified(rsa_key: tuple[str, dict[str, Any]], alg: str) -> None:
    with pytest.raises(signature.UnusableKey):
        signature.verifies(_signed(rsa_key[0], "RS256"), rsa_key[1], alg)


@pytest.mark.parametrize("jwk", [{"kty": "RSA"}, {"kty": "RSA", "n": "AQAB"}, {"kty": "RSA", "n": 5, "e": "AQAB"},
                                 {"kty": "RSA", "n": "a+b/", "e": "AQAB"}, {"kty": "oct", "k": "c2VjcmV0"}])
def test_a_malformed_key_is_unusable(rsa_key: tuple[str, dict[str, Any]], jwk: dict[str, Any]) -> None:
    with pytest.raises(signature.UnusableKey):
        signature.verifies(_signed(rsa_key[0], "RS256"), jwk, "RS256")


@pytest.mark.parametrize("token", [
    "a.b", "a.b.c.d", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln=", "eyJhbGciOiJSUzI1NiJ9.e3+0.c2ln",
    "eyJhbGciOiJSUzI1NiJ9.e30.c2lnb", "e30x.e30.c2ln", "WzFd.e30.c2ln", "bm90IGpzb24.e30.c2ln", "eyJ\u00e9.e30.c2ln"])
def test_what_is_not_a_compact_jws_is_malformed(token: str) -> None:
    with pytest.raises(signature.MalformedToken):
        signature.parse(token)


def _pss_signed(key: rsa.RSAPrivateKey, alg: str, salt: int | None = None) -> signature.Compact:
    """A PS* token signed by cryptography itself (python-jose cannot sign PSS)."""
    digest = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}[alg[2:]]()
    head = base64.urlsafe_b64encode(f'{{"alg":"{alg}","typ":"JWT"}}'.encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(b'{"sub":"alice"}').rstrip(b"=")
    pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size if salt is None else salt)
    sig = base64.urlsafe_b64encode(key.sign(head + b"." + body, pss, digest)).rstrip(b"=")
    return signature.parse((head + b"." + body + b"." + sig).decode())


@pytest.mark.parametrize("alg", ["PS256", "PS384", "PS512"])
def test_an_rsa_pss_signature_verifies_with_its_key_and_not_with_another(alg: str) -> None:
    key, other = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    jwk = {"kty": "RSA", "n": _b64(key.public_key().public_numbers().n), "e": "AQAB"}
    assert signature.verifies(_pss_signed(key, alg), jwk, alg)
    assert not signature.verifies(_pss_signed(other, alg), jwk, alg)
    assert not signature.verifies(_pss_signed(key, alg), jwk, "RS" + alg[2:])  # PKCS#1 v1.5 is another scheme


def test_a_pss_signature_with_another_salt_length_does_not_verify() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {"kty": "RSA", "n": _b64(key.public_key().public_numbers().n), "e": "AQAB"}
    assert not signature.verifies(_pss_signed(key, "PS256", salt=0), jwk, "PS256")  # RFC 7518 3.5: the hash's size
