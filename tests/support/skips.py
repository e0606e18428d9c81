"""No silent skips. With LENDING_NO_SKIPS=1 (make test sets it) a test that cannot run fails: at
once, where `unavailable()` is used, and at the end of the session for any other skip that is not
on ALLOWED. Without it (plain pytest on one directory), such a test skips, and `-rs` prints why.

tests/conftest.py takes in the two session hooks below.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

# Skips reviewed and accepted under make test: node id -> why. Keep it empty.
ALLOWED: dict[str, str] = {}
_skipped: list[tuple[str, str]] = []


def strict() -> bool:
    return os.environ.get("LENDING_NO_SKIPS") == "1"


def unavailable(reason: str) -> NoReturn:
    """A test (or fixture) that needs something this machine lacks: skip it, or under make test fail it."""
    if strict():
        pytest.fail(f"{reason} (make test runs every test: LENDING_NO_SKIPS=1)", pytrace=False)
    pytest.skip(reason)


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail") and report.nodeid not in ALLOWED:
        _skipped.append((report.nodeid, _reason(report)))


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.skipped and report.nodeid not in ALLOWED:
        _skipped.append((report.nodeid, _reason(report)))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if strict() and _skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if strict() and _skipped:
        terminalreporter.section("skipped under LENDING_NO_SKIPS=1 (not on tests/support/skips.py ALLOWED)", red=True)
        for nodeid, reason in _skipped:
            terminalreporter.line(f"{nodeid}: {reason}", red=True)
        terminalreporter.line(f"{len(_skipped)} skipped: make test fails on any skip", red=True, bold=True)
