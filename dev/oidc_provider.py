"""The local OIDC provider (oidc-provider-mock) as a browser app needs it: CORS and public PKCE clients.

The stock mock answers no CORS headers, so a single-page app on another origin cannot
read its discovery document or its token endpoint, and it accepts only confidential
clients (a client secret), which a browser cannot keep. Real providers do both for
SPAs. This wrapper adds, for the listed browser origins only, CORS on every answer,
and lets a client without a secret redeem a code only with a valid PKCE verifier
(RFC 7636, S256). Everything else is the mock as it ships. Dev only, loopback only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def allow_browser_origins(app: Wsgi, origins: set[str]) -> Wsgi:
    """CORS for an allow-list of origins: simple requests and preflights; others get no CORS headers."""

    def cors(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        origin = environ.get("HTTP_ORIGIN", "")
        if origin not in origins:
            return app(environ, start_response)
        allow = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        if environ.get("REQUEST_METHOD") == "OPTIONS" and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
            start_response("204 No Content", [*allow, ("Access-Control-Allow-Methods", "GET, POST"),
                                              ("Access-Control-Allow-Headers", "Authorization, Content-Type"),
                                              ("Access-Control-Max-Age", "600")])
            return [b""]

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, *allow], exc_info)

        return app(environ, start)

    return cors


def accept_public_clients_with_pkce() -> None:
    """Let a client with no secret use the code flow, with PKCE required for it (as real providers do)."""
    from authlib.oauth2.rfc7636 import CodeChallenge
    from oidc_provider_mock import _app

    challenges: dict[str, tuple[str | None, str | None]] = {}

    class Pkce(CodeChallenge):  # type: ignore[misc]
        def get_authorization_code_challenge(self, authorization_code: Any) -> str | None:
            return challenges.get(authorization_code.code, (None, None))[0]

        def get_authorization_code_challenge_method(self, authorization_code: Any) -> str | None:
            return challenges.get(authorization_code.code, (None, None))[1]

    class PublicClientCodeGrant(_app.AuthorizationCodeGrant):  # type: ignore[misc,name-defined]
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

        def __init__(self, request: Any, server: Any) -> None:
            super().__init__(request, server)
            Pkce(required=True)(self)

        def save_authorization_code(self, code: str, request: Any) -> None:
            super().save_authorization_code(code, request)
            data = request.payload.data
            challenges[code] = (data.get("code_challenge"), data.get("code_challenge_method"))

    _app.AuthorizationCodeGrant = PublicClientCodeGrant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("-e", "--token-max-age", type=int, default=3600)
    parser.add_argument("--user-claims", action="append", default=[],
                        help='a predefined user, as JSON with "sub" (shown as a button on the sign-in page)')
    parser.add_argument("--browser-origin", action="append", default=[], help="an origin allowed by CORS")
    args = parser.parse_args()

    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain http on loopback
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    import uvicorn
    from oidc_provider_mock import _app
    from oidc_provider_mock._storage import User

    accept_public_clients_with_pkce()
    users = []
    for raw in args.user_claims:
        claims = json.loads(raw)
        users.append(User(sub=claims.pop("sub"), claims=claims))
    app = _app.app(access_token_max_age=timedelta(seconds=args.token_max_age), user_claims=users)
    app.wsgi_app = allow_browser_origins(app.wsgi_app, set(args.browser_origin))  # type: ignore[method-assign]
    uvicorn.run(app, interface="wsgi", host=args.host, port=args.port, log_config=None)


if __name__ == "__main__":
    main()
