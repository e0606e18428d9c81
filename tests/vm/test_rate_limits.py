"""nginx limits every client address, and POSTs per bearer token, answering 429 problem+json with Retry-After.

A real nginx in front of real instances, with tight limits so a few dozen requests show them.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from dev.vm_stack import LocalVM
from tests.support.issuer import TestIssuer
from vm_runtime import nginx


def fire(url: str, count: int, method: str = "GET", headers: dict[str, str] | None = None) -> list[requests.Response]:
    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(lambda _: requests.request(method, url, headers=headers, json={}, timeout=30),
                             range(count)))


def test_a_client_over_its_rate_gets_429_problems_with_retry_after(service_env: dict[str, str], tmp_path: Path) -> None:
    limits = nginx.RateLimits(client_rate="2r/s", client_burst=5, bearer_rate="1000r/s", bearer_burst=1000)
    with LocalVM(service_env, tmp_path / "vm", limits=limits) as vm:
        answers = fire(f"{vm.url}/health", 40)
        statuses = Counter(r.status_code for r in answers)
        assert statuses[200] >= 5 and statuses[429] >= 20, statuses
        limited = next(r for r in answers if r.status_code == 429)
        assert limited.headers["Content-Type"] == "application/problem+json"
        assert limited.headers["Retry-After"] == "1" and limited.json()["status"] == 429
        assert limited.json()["request_id"] == limited.headers["X-Request-ID"]


def test_posts_are_limited_per_bearer_so_one_account_cannot_test_cards(
        service_env: dict[str, str], issuer: TestIssuer, tmp_path: Path) -> None:
    limits = nginx.RateLimits(client_rate="1000r/s", client_burst=1000, bearer_rate="1r/s", bearer_burst=3)
    with LocalVM(service_env, tmp_path / "vm", limits=limits) as vm:
        tester = {"Authorization": f"Bearer {issuer.token('card-tester')}"}
        other = {"Authorization": f"Bearer {issuer.token('someone-else')}"}
        path = f"{vm.url}/books/00000000-0000-4000-8000-000000000000/borrow"
        mine = Counter(r.status_code for r in fire(path, 20, "POST", tester))
        assert mine[429] >= 10 and mine[429] < 20, mine  # the burst got through (to a 404), the rest did not
        assert requests.post(path, json={}, headers=other, timeout=30).status_code != 429  # another account is not held up
        assert all(r.status_code != 429 for r in fire(f"{vm.url}/health", 20, "GET", tester))  # GETs are not per bearer
