"""Bytecode for the Lambda zips, compiled at package time by an interpreter of the functions' runtime.

Lambda's code directories are read-only: a zip of source only is compiled again at every cold start
(our modules and every dependency a handler imports, about a fifth of a cold start's CPU here). So the
zips carry `__pycache__/*.<tag>.pyc` made by a Python of the runtime's version (`LAMBDA_PYTHON`, else
`python3.12` on PATH), in unchecked-hash mode: a zip never changes after it is built, and its files'
timestamps are fixed. With no such interpreter the zips carry source only, and `make package` says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from infra.lambda_template import RUNTIME

RUNTIME_TAG = "cpython-" + RUNTIME.removeprefix("python").replace(".", "")  # python3.12 -> cpython-312


def runtime_python() -> str | None:
    """An interpreter whose cache tag is the runtime's, or None."""
    for candidate in filter(None, [os.environ.get("LAMBDA_PYTHON"), shutil.which(RUNTIME)]):
        try:
            tag = subprocess.run([candidate, "-c", "import sys; print(sys.implementation.cache_tag)"],
                                 capture_output=True, text=True, timeout=30, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if tag == RUNTIME_TAG:
            return candidate
    return None


def compiled(source: Path, python: str | None) -> dict[str, bytes]:
    """Each .pyc that `python` makes of the .py files under `source`, by its path relative to `source`.
    A file that does not compile gets none (it is then compiled from source if it is ever imported)."""
    if python is None:
        return {}
    with tempfile.TemporaryDirectory(prefix="bytecode-") as tmp:
        copy = Path(tmp) / "tree"
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        subprocess.run([python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
                        str(copy)], capture_output=True, check=False, timeout=600)
        return {p.relative_to(copy).as_posix(): p.read_bytes() for p in sorted(copy.rglob("*.pyc"))}
