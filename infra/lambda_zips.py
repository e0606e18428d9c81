"""The Lambda zips: one per function (its code and the start-up adapter lending_aws), one per layer.

A layer zip has Lambda's layout (`python/<package>/…`) plus that layer's requirements, installed
from PyPI for Lambda's platform and cached; `python -m infra.package` (infra/package.py) builds them.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from infra.bytecode import compiled
from lending_http.routes import Function

ROOT = Path(__file__).resolve().parent.parent
START_UP = ROOT / "layers" / "aws" / "python" / "lending_aws"  # bundled into every function
CERTS = ROOT / "infra" / "certs"  # the RDS CA bundle (committed by hand: docs/infrastructure.md), in the database layer
PLATFORM = ["--platform", "manylinux_2_28_x86_64", "--platform", "manylinux2014_x86_64", "--python-version", "3.12",
            "--implementation", "cp",
            "--only-binary=:all:"]
PROVIDED_BY_RUNTIME = {"boto3", "botocore"}
# Layers come before the runtime's own packages on sys.path, so nothing in them may break the
# runtime's boto3: its botocore needs python-dateutil < 3 (pg8000 alone would take 4.x).
CONSTRAINTS = ["python-dateutil<3"]


# -- zips ----------------------------------------------------------------------------------------
def _add_tree(archive: zipfile.ZipFile, source: Path, prefix: str, python: str | None = None) -> None:
    """The tree's files, less any bytecode found there; with `python`, the bytecode it compiles (infra/bytecode.py)."""
    files = {path.relative_to(source).as_posix(): path.read_bytes() for path in sorted(source.rglob("*"))
             if not path.is_dir() and "__pycache__" not in path.parts and path.suffix != ".pyc"}
    for name, data in sorted({**files, **compiled(source, python)}.items()):
        _add_text(archive, f"{prefix}/{name}", data)


def _add_text(archive: zipfile.ZipFile, name: str, text: str | bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)


def layer_requirements(layer: str) -> list[str]:
    """The layer's requirement lines that must be installed into it (runtime-provided ones left out)."""
    lines = []
    for line in (ROOT / "layers" / layer / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name = re.split(r"[\[<>=!~; ]", line, maxsplit=1)[0].lower()
        if name not in PROVIDED_BY_RUNTIME:
            lines.append(line)
    return lines


def dependencies(layer: str, cache: Path) -> Path | None:
    """Directory holding the layer's requirements installed for Lambda, built once per requirement set."""
    wanted = layer_requirements(layer)
    if not wanted:
        return None
    key = hashlib.sha256(json.dumps([wanted, CONSTRAINTS, PLATFORM]).encode()).hexdigest()[:16]
    target = cache / f"{layer}-{key}"
    if (target / ".complete").exists():
        return target
    for stale in cache.glob(f"{layer}-*"):  # an older requirement set of this layer
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as reqs, \
            tempfile.NamedTemporaryFile("w", suffix=".txt") as constraints:
        reqs.write("\n".join(wanted) + "\n")
        reqs.flush()
        constraints.write("\n".join(CONSTRAINTS) + "\n")
        constraints.flush()
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-compile", "--target", str(target), *PLATFORM, "-r", reqs.name, "-c", constraints.name],
                       check=True)
    for junk in target.glob("bin"):
        shutil.rmtree(junk)
    (target / ".complete").touch()
    return target


def build_layer(layer: str, out: Path, cache: Path, with_dependencies: bool, python: str | None = None) -> Path:
    path = out / "layers" / f"{layer}.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        _add_tree(archive, ROOT / "layers" / layer / "python", "python", python)
        if layer == "database":  # Lambda extracts it to /opt/python/lending_postgres/certs: DATABASE_SSLROOTCERT
            _add_tree(archive, CERTS, "python/lending_postgres/certs")
        deps = dependencies(layer, cache) if with_dependencies else None
        if deps is not None:
            _add_tree(archive, deps, "python", python)
    return path


def build_function(fn: Function, out: Path, python: str | None = None) -> Path:
    path = out / "functions" / f"{fn.name}.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        _add_text(archive, "functions/__init__.py", (ROOT / "functions" / "__init__.py").read_text())
        _add_tree(archive, ROOT / "functions" / fn.name, f"functions/{fn.name}", python)
        _add_tree(archive, START_UP, START_UP.name, python)
    return path


def unzipped_size(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(i.file_size for i in archive.infolist())

