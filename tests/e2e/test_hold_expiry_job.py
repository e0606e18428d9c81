"""Pickup expiry the way it runs for real: HOLD_PICKUP_PERIOD=PT2S and the expire_holds job (`make jobs`).

A copy returned while two patrons wait goes to the first on the hold shelf; when the first does not
pick it up, the job passes it to the next in line; when the next does not either, back to the shelf.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Client
from tests.e2e.test_circulation import CARD, a_title
from tests.support.stack import ChaliceServer

PICKUP = "PT2S"


@pytest.fixture
def short_pickup(service_env: dict[str, str], run_dir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = {**service_env, "HOLD_PICKUP_PERIOD": PICKUP}
    server = ChaliceServer(env, run_dir / "short-pickup.log")
    yield server.url, env
    server.stop()


def run_jobs(env: dict[str, str]) -> dict[str, Any]:
    """`make jobs`' program, for the one job: what it did, from its own report."""
    run = subprocess.run([sys.executable, "-m", "ops.jobs", "expire_holds"], env={**os.environ, **env},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    return next(line for line in lines if line["job"] == "expire_holds")


def wait_until_past(ready_until: str) -> None:
    """A pickup period is a real period here: wait it out (bounded), then let the job act."""
    deadline = datetime.fromisoformat(ready_until.replace("Z", "+00:00"))
    for _ in range(100):
        if datetime.now(UTC) > deadline:
            return
        time.sleep(0.05)
    raise AssertionError(f"still before {ready_until}")


def test_an_uncollected_copy_passes_to_the_next_in_line_then_back_to_the_shelf(
        short_pickup: tuple[str, dict[str, str]], issuer: Any, librarian: Client) -> None:
    api, env = short_pickup
    title_id, (book_id,) = a_title(Client(api, librarian.token))
    alice, bob, carol = (Client(api, issuer.token(name)) for name in ("alice", "bob", "carol"))
    assert alice.post(f"/titles/{title_id}/borrow", CARD).status_code == 201
    assert bob.post(f"/titles/{title_id}/holds").json()["position"] == 1
    assert carol.post(f"/titles/{title_id}/holds").json()["position"] == 2
    assert alice.post(f"/books/{book_id}/return").status_code == 200

    bobs = bob.get("/me/holds").json()["items"][0]
    assert (bobs["status"], bobs["book_id"]) == ("ready", book_id)
    assert run_jobs(env)["expired"] == 0  # not yet: its pickup period is still running
    wait_until_past(bobs["ready_until"])
    assert run_jobs(env)["passed_on"] == 1
    assert bob.get("/me/holds").json()["items"][0]["status"] == "expired"
    carols = carol.get("/me/holds").json()["items"][0]
    assert (carols["status"], carols["book_id"]) == ("ready", book_id)
    assert bob.post(f"/books/{book_id}/borrow", CARD).status_code == 409  # it waits for carol now

    wait_until_past(carols["ready_until"])
    assert run_jobs(env)["back_on_shelf"] == 1
    assert carol.get("/me/holds").json()["items"][0]["status"] == "expired"
    assert Client(api).get(f"/books/{book_id}").json()["status"] == "available"
