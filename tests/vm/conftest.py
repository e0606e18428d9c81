"""One VM's worth (nginx + two gunicorn instances) on the suite's PostgreSQL, localstripe and issuer.

`api` is overridden here: every client fixture (alice, bob, librarian...) in tests/vm
talks to nginx, so the end-to-end tests written for `chalice local` run unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dev.vm_stack import LocalVM


@pytest.fixture(scope="session")
def vm(service_env: dict[str, str], run_dir: Path) -> Iterator[LocalVM]:
    with LocalVM(service_env, run_dir / "vm") as stack:
        yield stack


@pytest.fixture(scope="session")
def api(vm: LocalVM) -> str:
    return vm.url


@pytest.fixture
def own_vm(service_env: dict[str, str], tmp_path: Path) -> Iterator[LocalVM]:
    """A VM of the test's own, for tests that kill or stop its instances."""
    with LocalVM(service_env, tmp_path / "vm") as stack:
        yield stack


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll a condition with a deadline (never sleep as synchronisation)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
