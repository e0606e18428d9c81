"""Auth fixtures: a service of our own (chalice local) trusting an issuer the test controls."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.support.issuer import TestIssuer
from tests.support.stack import ChaliceServer


@contextmanager
def service_trusting(issuer_url: str, audience: str, service_env: dict[str, str], log: Path,
                     **settings: str) -> Iterator[ChaliceServer]:
    """The service on the suite's database and processor, but trusting `issuer_url`."""
    server = ChaliceServer({**service_env, "OIDC_ISSUER": issuer_url, "OIDC_AUDIENCE": audience, **settings}, log)
    try:
        yield server
    finally:
        server.stop()


def me(base: str, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.get(f"{base}/me", headers=headers, timeout=30)


def bearer(issuer: TestIssuer, sub: str = "alice", **kw: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(sub, **kw)}"}  # type: ignore[arg-type]
