"""The machine's part of `make test`: the Debian packages in .ci/apt-packages, found by the command
each provides. Standard library only: it runs before the virtualenv exists.

    python3 -m dev.prerequisites [--python python3.11] [--venv .venv] [--dry-run]

As root with apt-get, the missing packages are installed (apt-get update, then install
--no-install-recommends; npm only if nodejs brought none). Otherwise one line names every missing
package and the one command that installs them all, and the exit status is 1. `--dry-run` prints
the apt-get commands instead of running them.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGES = Path(__file__).resolve().parent.parent / ".ci" / "apt-packages"
VENV_MODULE = "python3 -m venv"  # not a command: the interpreter's venv module with ensurepip
AFTER_NODEJS = "npm"  # Debian's npm conflicts with NodeSource's nodejs, which brings its own
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"  # where apt-get is, even when PATH lacks the sbin directories
APT_OPTIONS = ["-y", "-qq", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=600"]  # waits for a running apt


@dataclass(frozen=True)
class Package:
    name: str
    provides: str


def read_packages(path: Path = PACKAGES) -> list[Package]:
    rows = (line.split("#", 1)[0].split(None, 1) for line in path.read_text().splitlines())
    return [Package(row[0], row[1].strip()) for row in rows if row]


def has_venv_module(pythons: list[str], venv: Path | None) -> bool:
    if venv is not None and (venv / "bin" / "python").exists():
        return True  # made already: the module is not needed again
    for python in pythons:
        exe = shutil.which(python)
        if exe and subprocess.run([exe, "-c", "import ensurepip, venv"], capture_output=True, check=False).returncode == 0:
            return True
    return False


def missing(packages: list[Package], pythons: list[str], venv: Path | None) -> list[str]:
    def present(package: Package) -> bool:
        if package.provides == VENV_MODULE:
            return has_venv_module(pythons, venv)
        return shutil.which(package.provides) is not None

    return [p.name for p in packages if not present(p)]


def apt_get() -> str | None:
    return shutil.which("apt-get") or shutil.which("apt-get", path=SYSTEM_PATH)


def install(apt: str, names: list[str], dry_run: bool) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    first = [n for n in names if n != AFTER_NODEJS]
    for command in [[apt, "update", "-qq"], *([[apt, "install", *APT_OPTIONS, *first]] if first else [])]:
        print(("would run: " if dry_run else "+ ") + shlex.join(command), flush=True)
        if not dry_run:
            subprocess.run(command, check=True, env=env)
    if AFTER_NODEJS in names and (dry_run or shutil.which(AFTER_NODEJS) is None):
        command = [apt, "install", *APT_OPTIONS, AFTER_NODEJS]
        print(("would run: " if dry_run else "+ ") + shlex.join(command) + ("  (if nodejs brought no npm)" if dry_run else ""),
              flush=True)
        if not dry_run:
            subprocess.run(command, check=True, env=env)


def advice(names: list[str]) -> str:
    listed = " ".join(names)
    if apt_get():
        how = "sudo apt-get install -y --no-install-recommends " + listed
        return f"make test needs these missing Debian packages: {listed} - install them all with: {how}"
    return f"make test needs these missing packages (Debian's names): {listed} - install them with your package manager"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m dev.prerequisites", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", action="append", default=[], help="interpreter make venv uses (repeatable)")
    parser.add_argument("--venv", type=Path, help="the virtualenv; when it exists, the venv module is not needed")
    parser.add_argument("--dry-run", action="store_true", help="as root: print the apt-get commands, run nothing")
    args = parser.parse_args(argv)
    packages = read_packages()
    pythons = [*args.python, "python3"]
    absent = missing(packages, pythons, args.venv)
    if not absent:
        return 0
    apt = apt_get()
    if os.geteuid() != 0 or apt is None:
        print(advice(absent), file=sys.stderr, flush=True)
        return 1
    install(apt, absent, args.dry_run)
    if args.dry_run:
        return 0
    still = missing(packages, pythons, args.venv)
    if still:
        print(f"installed, yet still not found on PATH ({os.environ.get('PATH', '')}): {' '.join(still)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
