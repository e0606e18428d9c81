"""Get an ID token from the local OIDC provider (oidc-provider-mock) without a browser.

Dev only: `make token USER=alice [LIBRARIAN=1]`. It refuses to run when OIDC_ISSUER
is set in the environment (a real provider), and it only talks to the local
provider that `make run` started (recorded in .run/dev.env), on a loopback address.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

STATE = Path(__file__).resolve().parent.parent / ".run" / "dev.env"
REDIRECT_URI = "http://127.0.0.1/callback"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def id_token(issuer: str, client_id: str, user: str, *, librarian: bool = False, name: str | None = None,
             email: str | None = None) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", user):
        raise ValueError("USER must be 1-64 letters, digits or _.@-")
    claims = {"name": name or user.capitalize(), "preferred_username": user,
              "email": email or f"{user}@example.org", "groups": ["librarians"] if librarian else ["patrons"]}
    put = urllib.request.Request(f"{issuer}/users/{user}", data=json.dumps(claims).encode(), method="PUT",  # noqa: S310
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(put, timeout=5).close()  # noqa: S310 - loopback provider only
    query = urllib.parse.urlencode({"client_id": client_id, "redirect_uri": REDIRECT_URI, "response_type": "code",
                                    "scope": "openid profile email", "nonce": secrets.token_urlsafe(8),
                                    "state": secrets.token_urlsafe(8)})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(urllib.request.Request(f"{issuer}/oauth2/authorize?{query}",  # noqa: S310
                                           data=urllib.parse.urlencode({"sub": user}).encode()), timeout=5)
        raise RuntimeError("the provider did not redirect with a code")
    except urllib.error.HTTPError as exc:
        if exc.code not in (302, 303):
            raise
        location = exc.headers["Location"]
    code = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["code"][0]
    form = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                                   "client_id": client_id, "client_secret": "dev"}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{issuer}/oauth2/token", data=form), timeout=5) as r:  # noqa: S310
        return str(json.loads(r.read())["id_token"])


def _state(path: Path) -> dict[str, str]:
    if not path.exists():
        sys.exit("No local OIDC provider is running: start `make run` first (with no OIDC_ISSUER set).")
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs}


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlparse(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("user")
    parser.add_argument("--librarian", action="store_true")
    parser.add_argument("--state", type=Path, default=STATE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if os.environ.get("OIDC_ISSUER"):
        sys.exit("OIDC_ISSUER is set: dev tokens exist only for the local provider of `make run`.")
    state = _state(args.state)
    if state.get("LOCAL_OIDC") != "1":
        sys.exit("`make run` is using a real OIDC provider: get tokens from it, not here.")
    if not _is_loopback(state.get("OIDC_ISSUER", "")):
        sys.exit("The recorded OIDC provider is not on a loopback address: refusing to mint dev tokens.")
    try:
        print(id_token(state["OIDC_ISSUER"], state["OIDC_AUDIENCE"], args.user, librarian=args.librarian))
    except ValueError as exc:
        sys.exit(str(exc))
    except OSError as exc:
        sys.exit(f"The local OIDC provider did not answer ({exc}): is `make run` still running?")


if __name__ == "__main__":
    main()
