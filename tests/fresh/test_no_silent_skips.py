"""tests/support/skips.py on a small suite of its own: under make test (LENDING_NO_SKIPS=1) any skip,
of a test or of a whole module, fails the run and is listed with its reason; under plain pytest it
stays a skip, and pyproject's `-rs` prints why."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from dev.embedded import ROOT

CONFTEST = "from tests.support.skips import pytest_collectreport, pytest_runtest_logreport, pytest_sessionfinish, " \
           "pytest_terminal_summary  # noqa: F401\n"
TESTS = {
    "test_some.py": "import pytest\n\n"
                    "def test_runs():\n    assert True\n\n"
                    "def test_needs_a_frobnicator():\n    pytest.skip('no frobnicator on this machine')\n\n"
                    "@pytest.mark.xfail(reason='a known bug', strict=True)\n"
                    "def test_known_bug():\n    assert False\n",
    "test_whole_module.py": "import pytest\n\npytest.skip('no widget service', allow_module_level=True)\n",
}


def _pytest(suite: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "LENDING_NO_SKIPS"}  # make test sets it for the outer run
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", "-q", str(suite)],
                          cwd=suite, env={**base, "PYTHONPATH": str(ROOT), **env}, capture_output=True, text=True,
                          timeout=120, check=False)


def _suite(tmp_path: Path) -> Path:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    for name, text in TESTS.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_under_make_test_any_skip_fails_the_run_and_is_listed_with_its_reason(tmp_path: Path) -> None:
    run = _pytest(_suite(tmp_path), LENDING_NO_SKIPS="1")

    assert run.returncode == 1, run.stdout
    assert "test_some.py::test_needs_a_frobnicator: no frobnicator on this machine" in run.stdout
    assert "test_whole_module.py: no widget service" in run.stdout
    assert "2 skipped: make test fails on any skip" in run.stdout
    assert "test_known_bug" not in run.stdout.split("skipped under LENDING_NO_SKIPS=1")[1]  # an xfail is no skip


def test_under_plain_pytest_a_skip_stays_a_skip_and_says_why(tmp_path: Path) -> None:
    run = _pytest(_suite(tmp_path))

    assert run.returncode == 0, run.stdout
    assert "SKIPPED [1] test_some.py:7: no frobnicator on this machine" in run.stdout
    assert "no widget service" in run.stdout
    assert "make test fails on any skip" not in run.stdout


def test_the_suite_prints_skip_reasons_and_make_test_sets_the_rule() -> None:
    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"].split()
    [report] = [option for option in addopts if option.startswith("-r")]
    assert "s" in report and {"f", "E"} <= set(report)  # skips with their reasons, and still failures and errors
    test_rule = (ROOT / "Makefile").read_text().split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "LENDING_NO_SKIPS=1 $(PY) -m pytest tests" in test_rule
