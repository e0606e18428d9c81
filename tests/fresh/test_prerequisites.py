"""make test's first step (dev/prerequisites.py) on a machine that has nothing but python3 and make.

The checker runs from a copy in a directory anyone may read, with PATH holding only links to
python3 and make: as the real `nobody` user it must name every missing package and the one
command that installs them, on one line; as root, with --dry-run, print the apt-get commands.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dev import prerequisites
from dev.embedded import ROOT
from tests.support.skips import unavailable

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass
class BareMachine:
    script: Path
    path: Path  # the only directory on PATH
    python3: Path

    def run(self, *args: str, as_nobody: bool) -> subprocess.CompletedProcess[str]:
        prefix: list[str] = []
        if as_nobody and os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            prefix = [shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        return subprocess.run([*prefix, str(self.python3), str(self.script), "--venv", str(self.script.parent / ".venv"),
                               *args], env={"PATH": str(self.path), "LANG": "C.UTF-8"}, cwd=self.path, text=True,
                              capture_output=True, timeout=60, check=False)


@pytest.fixture
def bare_machine() -> Iterator[BareMachine]:
    place = Path(tempfile.mkdtemp(prefix="lending-bare-"))
    try:
        os.chmod(place, 0o755)  # ours, made 0700 by mkdtemp: nobody must read the copy
        checkout = place / "checkout"
        (checkout / "dev").mkdir(parents=True)
        (checkout / ".ci").mkdir()
        shutil.copy(ROOT / "dev" / "prerequisites.py", checkout / "dev")
        shutil.copy(ROOT / ".ci" / "apt-packages", checkout / ".ci")
        bindir = place / "bin"
        bindir.mkdir()
        for tool in ("python3", "make"):
            found = shutil.which(tool, path=SYSTEM_PATH)
            if found is None:
                unavailable(f"no {tool} in {SYSTEM_PATH}")
            (bindir / tool).symlink_to(os.path.realpath(found))
        yield BareMachine(checkout / "dev" / "prerequisites.py", bindir, bindir / "python3")
    finally:
        shutil.rmtree(place)


def _expected_missing(machine: BareMachine) -> list[str]:
    """Everything in .ci/apt-packages but make, and python3-venv unless the linked python3 has it."""
    probe = machine.run("--help", as_nobody=True)
    assert probe.returncode == 0, probe.stderr  # the copy runs as nobody at all
    has_venv = subprocess.run([str(machine.python3), "-c", "import ensurepip, venv"], capture_output=True,
                              check=False).returncode == 0
    return [p.name for p in prerequisites.read_packages()
            if p.name != "make" and not (p.name == "python3-venv" and has_venv)]


def test_as_nobody_one_line_names_every_missing_package_and_the_command_that_installs_them(
        bare_machine: BareMachine) -> None:
    expected = _expected_missing(bare_machine)
    assert {"git", "nginx", "chromium", "shellcheck", "podman", "buildah", "runc", "debootstrap", "systemd", "nodejs",
            "npm"} <= set(expected)

    result = bare_machine.run(as_nobody=True)

    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    listed = lines[0].split("missing Debian packages: ", 1)[1].split(" - ", 1)[0].split()
    assert listed == expected
    assert lines[0].endswith("install them all with: sudo apt-get install -y --no-install-recommends " + " ".join(expected))


def test_as_root_the_dry_run_prints_the_apt_commands_it_would_run(bare_machine: BareMachine) -> None:
    if os.geteuid() != 0:
        unavailable("installing is for root: run this test as root (make test in CI is)")
    expected = _expected_missing(bare_machine)

    result = bare_machine.run("--dry-run", as_nobody=False)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    apt = shutil.which("apt-get", path="/usr/sbin:/usr/bin:/sbin:/bin")
    first = " ".join(name for name in expected if name != "npm")
    assert result.stdout.splitlines() == [
        f"would run: {apt} update -qq",
        f"would run: {apt} install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 {first}",
        f"would run: {apt} install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 npm  (if nodejs brought no npm)",
    ]


def test_make_test_checks_the_machine_before_anything_else_and_stops_when_image_prerequisites_fail() -> None:
    planned = subprocess.run(["make", "-n", "--no-print-directory", "test"], cwd=ROOT, capture_output=True, text=True,
                             timeout=60, check=True).stdout.splitlines()
    assert planned[0].startswith("python3 -m dev.prerequisites")
    image = next(line for line in planned if "deploy.image prerequisites" in line)
    assert "exit 1" in image  # and not ignored with make's "-" either:
    assert "\t-$(PY) -m deploy.image prerequisites" not in (ROOT / "mk" / "deploy.mk").read_text()
