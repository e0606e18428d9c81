"""A local estate (load balancer + VM blue + VM green) on the suite's PostgreSQL, localstripe and
issuer, deploying commits of a throwaway git repository: a copy of this tree, to which tests
add commits (new code, a broken build, a bug that only shows behind the load balancer).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from deploy.local import LocalEstate
from deploy.local_layout import Ports
from deploy.local_vms import LocalEstateRunner
from dev.embedded import ROOT, free_port
from tests.conftest import Client, new_book
from tests.support.issuer import TestIssuer
from tests.vm.traffic import Traffic

GIT = ["git", "-c", "user.name=deploy-test", "-c", "user.email=deploy-test@example.invalid", "-c", "commit.gpgsign=false"]


@dataclass
class Repo:
    path: Path

    def git(self, *args: str) -> str:
        return subprocess.run([*GIT, "-C", str(self.path), *args], capture_output=True, text=True, check=True).stdout.strip()

    def commit(self, message: str, edits: dict[str, Callable[[str], str]]) -> str:
        """Edit files (path -> text transform) on top of the FIRST commit, commit on a branch; returns the sha."""
        self.git("checkout", "--quiet", "--detach", self.git("rev-list", "--max-parents=0", "HEAD"))
        for name, change in edits.items():
            file = self.path / name
            before = file.read_text()
            after = change(before)
            assert after != before, f"edit of {name} changed nothing"
            file.write_text(after)
        self.git("commit", "--quiet", "-am", message)
        return self.git("rev-parse", "--short=12", "HEAD")


@pytest.fixture(scope="session")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """This tree as it is now (tracked files, uncommitted edits included), as one commit of a new repo."""
    path = tmp_path_factory.mktemp("source")
    snapshot = subprocess.run(["git", "-C", str(ROOT), "stash", "create"], capture_output=True, text=True,
                              check=True).stdout.strip() or "HEAD"
    archive = subprocess.Popen(["git", "-C", str(ROOT), "archive", "--format=tar", snapshot], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(path)], stdin=archive.stdout, check=True)
    assert archive.wait() == 0
    repo = Repo(path)
    repo.git("init", "--quiet")
    repo.git("add", "-A")
    repo.git("commit", "--quiet", "-m", "the tree under test")
    return repo


def version_note(note: str) -> Callable[[str], str]:
    """New code, visibly: /version also says `note`."""
    return lambda text: text.replace('Response(200, {"version": config.version})',
                                      f'Response(200, {{"version": config.version, "note": "{note}"}})')


@pytest.fixture(scope="module")  # torn down after each module: nothing left running for the rest of the suite
def estate_dir(service_env: dict[str, str], repo: Repo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("estate")
    env = {k: v for k, v in service_env.items() if k != "APP_VERSION"}
    ports = Ports(free_port(), free_port(), free_port(), {c: (free_port(), free_port(), free_port()) for c in ("blue", "green")})
    with LocalEstateRunner(env, directory, ports, source=repo.path):
        yield directory


@pytest.fixture
def estate(estate_dir: Path) -> LocalEstate:
    return LocalEstate(estate_dir)


# A load balancer switch rewrites live.conf, runs `nginx -t`, reloads and waits for the old workers to
# exit: a few tenths of a second here; far longer means old workers hung on (balancer.switch gives up at 30 s).
SWITCH_SECONDS_LIMIT = 10.0


@dataclass
class DeployRun:
    returncode: int
    output: str

    def switch_seconds(self) -> float:
        """How long the switch took, as the deploy reported it; -1 if it reported no switch."""
        found = re.search(r"switched (?:\w+ -> \w+ )?in ([0-9.]+)s", self.output)
        return float(found.group(1)) if found else -1.0


def deploy_argv(estate_dir: Path, repo: Repo, command: str = "deploy", *extra: str) -> list[str]:
    return [sys.executable, "-m", "deploy", command, "--target", "local", "--estate-dir", str(estate_dir),
            "--source", str(repo.path), *extra]


def run_deploy(estate_dir: Path, repo: Repo, command: str = "deploy", *extra: str, timeout: float = 240) -> DeployRun:
    result = subprocess.run(deploy_argv(estate_dir, repo, command, *extra), cwd=ROOT, capture_output=True, text=True,
                            timeout=timeout, check=False)
    print(result.stdout, result.stderr)
    return DeployRun(result.returncode, result.stdout + result.stderr)


@pytest.fixture
def lb_client_factory(estate: LocalEstate, issuer: TestIssuer) -> Callable[[], Client]:
    return lambda: Client(estate.layout["lb_url"], issuer.token("libby", librarian=True))


@contextmanager
def mixed_traffic(estate: LocalEstate, issuer: TestIssuer, *, at_least: int, served_by: Collection[str],
                  borrows_returns: int = 10, patrons: int = 3, readers: int = 2) -> Iterator[Traffic]:
    """Catalogue readers and patrons cycling borrow -> return, all through the load balancer.

    It fails the test unless the traffic really ran: every patron and reader answered within 10 s of
    the start, and by the end at least `at_least` answers (`borrows_returns` of them borrows or
    returns) came from exactly the colours `served_by`, so that a test's `failures == []` is about
    requests that were sent.
    """
    base = estate.layout["lb_url"]
    librarian = Client(base, issuer.token("libby", librarian=True))
    traffic = Traffic(base, deadline_seconds=240)
    for n in range(patrons):
        book = new_book(librarian, title=f"Deploy traffic {n} {time.monotonic_ns()}")
        traffic.start(traffic.patron, issuer.token(f"patron-{n}-{time.monotonic_ns()}"), book["book_id"])
    for _ in range(readers):
        traffic.start(traffic.reader, "/books?limit=5")
    deadline = time.monotonic() + 10
    try:
        while (traffic.count("borrow", "return") < patrons or traffic.count("GET") < readers) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert traffic.count("borrow", "return") >= patrons and traffic.count("GET") >= readers, \
            f"background traffic did not start within 10 s: {len(traffic.answers)} answers"
        yield traffic
    finally:
        traffic.finish()
    traffic.assert_ran(at_least, borrows_returns=borrows_returns, served_by=served_by)


def lb_version(estate: LocalEstate) -> dict[str, object]:
    return dict(requests.get(estate.layout["lb_url"] + "/version", timeout=5).json())


def vm_version(estate: LocalEstate, color: str) -> dict[str, object]:
    return estate.vm_probe(color, "/version").json()
