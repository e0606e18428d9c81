"""`make token`: ID tokens from the local OIDC provider (oidc-provider-mock), and only from it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dev.embedded import ROOT, start_oidc_provider
from tests.auth.conftest import me, service_trusting
from tests.support.stack import ChaliceServer

AUDIENCE = "library-ui"


@dataclass
class DevStack:
    provider_url: str
    state: Path
    server: ChaliceServer


@pytest.fixture(scope="module")
def dev_stack(service_env: dict[str, str], run_dir: Path) -> Iterator[DevStack]:
    provider = start_oidc_provider(log=run_dir / "oidc-provider-mock.log")
    try:
        state = run_dir / "dev.env"  # what `make run` records in .run/dev.env
        state.write_text(f"OIDC_ISSUER={provider.url}\nOIDC_AUDIENCE={AUDIENCE}\nLOCAL_OIDC=1\n")
        with service_trusting(provider.url, AUDIENCE, service_env, run_dir / "auth-dev.log") as server:
            yield DevStack(provider.url, state, server)
    finally:
        provider.stop()


def dev_token(*args: str, state: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "OIDC_ISSUER"}
    cmd = [sys.executable, "-m", "dev.tokens", *args, *(["--state", str(state)] if state else [])]
    return subprocess.run(cmd, cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60)


def test_make_token_gives_id_tokens_the_service_accepts(dev_stack: DevStack) -> None:
    patron = dev_token("alice", state=dev_stack.state)
    assert patron.returncode == 0, patron.stderr
    token = patron.stdout.strip()
    assert token.count(".") == 2 and "\n" not in token

    alice = me(dev_stack.server.url, token)
    assert alice.status_code == 200, alice.text
    assert alice.json() == {"iss": dev_stack.provider_url, "sub": "alice", "name": "Alice", "handle": "alice",
                            "email": "alice@example.org", "is_librarian": False}

    librarian = dev_token("libby", "--librarian", state=dev_stack.state)
    assert librarian.returncode == 0, librarian.stderr
    assert me(dev_stack.server.url, librarian.stdout.strip()).json()["is_librarian"] is True


def test_dev_tokens_refuse_when_a_real_provider_is_configured(dev_stack: DevStack, tmp_path: Path) -> None:
    with_issuer = dev_token("alice", state=dev_stack.state, OIDC_ISSUER="https://login.example.org")
    assert with_issuer.returncode != 0 and with_issuer.stdout == ""
    assert "OIDC_ISSUER is set" in with_issuer.stderr

    real = tmp_path / "real.env"
    real.write_text(f"OIDC_ISSUER={dev_stack.provider_url}\nOIDC_AUDIENCE={AUDIENCE}\nLOCAL_OIDC=0\n")
    refused = dev_token("alice", state=real)
    assert refused.returncode != 0 and refused.stdout == "" and "real OIDC provider" in refused.stderr

    # Never minted against anything but loopback (refused before any connection is made).
    remote = tmp_path / "remote.env"
    remote.write_text(f"OIDC_ISSUER=http://192.0.2.10:9400\nOIDC_AUDIENCE={AUDIENCE}\nLOCAL_OIDC=1\n")
    refused = dev_token("alice", state=remote)
    assert refused.returncode != 0 and refused.stdout == "" and "loopback" in refused.stderr

    missing = dev_token("alice", state=tmp_path / "absent.env")
    assert missing.returncode != 0 and "make run" in missing.stderr


def test_make_token_refuses_with_oidc_issuer_set() -> None:
    # -o: never rebuild the venv from inside a test run
    made = subprocess.run(["make", "-s", "-o", ".venv/.installed", "token", "USER=alice"], cwd=ROOT, text=True,
                          capture_output=True, timeout=120, env={**os.environ, "OIDC_ISSUER": "https://login.example.org"})
    assert made.returncode != 0 and made.stdout == ""
    assert "OIDC_ISSUER is set" in made.stderr
