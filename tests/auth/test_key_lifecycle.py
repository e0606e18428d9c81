"""Keys change and providers fail while the service runs (chalice local, keys fetched over HTTP)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tests.auth.conftest import me, service_trusting
from tests.support.issuer import SigningKey, TestIssuer


def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s")
        time.sleep(0.05)


@pytest.fixture
def issuer_of_own() -> Iterator[TestIssuer]:
    issuer = TestIssuer()
    yield issuer
    issuer.close()


def test_a_new_key_is_accepted_and_a_removed_one_refused_without_a_restart(
        issuer_of_own: TestIssuer, service_env: dict[str, str], run_dir: Path) -> None:
    issuer, old, new = issuer_of_own, issuer_of_own.key, SigningKey()
    settings = {"OIDC_JWKS_TTL_SECONDS": "1", "OIDC_JWKS_MIN_REFRESH_SECONDS": "0"}
    with service_trusting(issuer.url, issuer.audience, service_env, run_dir / "auth-rotation.log",
                          **settings) as server:
        assert me(server.url, issuer.token("alice", key=old)).status_code == 200

        issuer.published = [old, new]
        assert me(server.url, issuer.token("alice", key=new)).status_code == 200  # unknown kid: one refresh

        issuer.published = [new]
        until(lambda: me(server.url, issuer.token("alice", key=old)).status_code == 401)
        refused = me(server.url, issuer.token("alice", key=old))
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith('Bearer realm="library-lending", error="invalid_token"')
        assert me(server.url, issuer.token("alice", key=new)).status_code == 200
        assert server.proc.poll() is None  # the same process all along


def test_cached_keys_outlive_an_outage_and_no_keys_at_all_is_503(
        issuer_of_own: TestIssuer, service_env: dict[str, str], run_dir: Path) -> None:
    issuer = issuer_of_own
    issuer.down = True
    settings = {"OIDC_JWKS_TTL_SECONDS": "1", "OIDC_JWKS_MIN_REFRESH_SECONDS": "0.3"}
    with service_trusting(issuer.url, issuer.audience, service_env, run_dir / "auth-outage.log",
                          **settings) as server:
        token = issuer.token("alice")
        unavailable = me(server.url, token)
        assert unavailable.status_code == 503, unavailable.text
        assert unavailable.headers["Content-Type"] == "application/problem+json"
        assert unavailable.headers["Retry-After"]
        assert unavailable.json()["title"] == "Identity Provider Unavailable"
        assert "WWW-Authenticate" not in unavailable.headers
        assert me(server.url, "not-a-token").status_code == 401  # a bad token is still the caller's fault

        issuer.down = False
        until(lambda: me(server.url, token).status_code == 200)

        issuer.down = True
        refused_before = issuer.refused
        answers: list[int] = []

        def refresh_failed_while_serving() -> bool:
            answers.append(me(server.url, token).status_code)
            return issuer.refused > refused_before

        until(refresh_failed_while_serving)  # the TTL ran out and the refresh met the outage
        answers.append(me(server.url, token).status_code)
        assert set(answers) == {200}


def test_a_flood_of_made_up_kids_cannot_hammer_the_provider(
        issuer_of_own: TestIssuer, service_env: dict[str, str], run_dir: Path) -> None:
    issuer = issuer_of_own
    interval = 1.0
    settings = {"OIDC_JWKS_MIN_REFRESH_SECONDS": str(interval)}
    with service_trusting(issuer.url, issuer.audience, service_env, run_dir / "auth-flood.log",
                          **settings) as server:
        assert me(server.url, issuer.token("alice")).status_code == 200
        hits, started = issuer.jwks_hits, time.monotonic()
        session = requests.Session()
        answers = [session.get(f"{server.url}/me", timeout=30, headers={
            "Authorization": f"Bearer {issuer.token('mallory', headers={'kid': f'made-up-{n}'})}"}).status_code
            for n in range(60)]
        elapsed = time.monotonic() - started
        assert set(answers) == {401}
        assert issuer.jwks_hits - hits <= elapsed / interval + 1, (issuer.jwks_hits - hits, elapsed)
