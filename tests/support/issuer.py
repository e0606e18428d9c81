"""A test OIDC issuer: our own RSA keys, a discovery document and a JWKS served over HTTP.

Tokens are really signed and the service really fetches the keys; the test controls
rotation (add/remove keys) and outages (answer 503).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class SigningKey:
    def __init__(self, kid: str | None = None) -> None:
        self.kid = kid if kid is not None else uuid.uuid4().hex[:12]
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()).decode()
        numbers = self._key.public_key().public_numbers()
        self.public_pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.jwk: dict[str, Any] = {"kty": "RSA", "use": "sig", "alg": "RS256", "n": _b64(numbers.n),
                                    "e": _b64(numbers.e)}
        if self.kid:
            self.jwk["kid"] = self.kid


class TestIssuer:
    """Serves /.well-known/openid-configuration and /jwks on 127.0.0.1."""

    __test__ = False

    def __init__(self, audience: str = "library-tests") -> None:
        self.audience = audience
        self.key = SigningKey()
        self.published: list[SigningKey] = [self.key]
        self.down = False
        self.jwks_hits = 0
        self.refused = 0  # requests answered 503 while down
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if issuer.down:
                    issuer.refused += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks",
                            "id_token_signing_alg_values_supported": ["RS256"]}
                elif self.path == "/jwks":
                    issuer.jwks_hits += 1
                    body = {"keys": [k.jwk for k in issuer.published]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def claims(self, sub: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.url, "sub": sub, "aud": self.audience, "iat": now, "exp": now + 600,
                                  "name": sub.capitalize(), "preferred_username": sub, "email": f"{sub}@example.org"}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, sub: str = "alice", *, librarian: bool = False, key: SigningKey | None = None,
              headers: dict[str, Any] | None = None, **overrides: Any) -> str:
        if librarian:
            overrides.setdefault("groups", ["librarians"])
        signer = key or self.key
        extra = dict(headers or {})
        if signer.kid:
            extra.setdefault("kid", signer.kid)
        return jwt.encode(self.claims(sub, **overrides), signer.pem, algorithm="RS256", headers=extra)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
