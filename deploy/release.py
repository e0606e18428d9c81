"""A local release: the tree of one commit (`git archive`), run by the instances with APP_VERSION set.

A new version is therefore really new code: the instances start with the release directory as
their working directory and its layers first on PYTHONPATH, never the developer's working tree.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


def make_release(source: Path, version: str, releases: Path) -> Path:
    """releases/<version>: the commit's files, plus the built web UI when the source tree has one."""
    target = releases / version
    if (target / ".release").exists():
        return target
    releases.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=releases))
    try:
        archive = subprocess.Popen(["git", "-C", str(source), "archive", "--format=tar", version], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(staging)], stdin=archive.stdout, check=True)
        if archive.wait() != 0:
            raise RuntimeError(f"git archive {version} failed in {source}")
        dist = source / "web" / "dist"
        if dist.is_dir() and not (staging / "web" / "dist").exists():
            shutil.copytree(dist, staging / "web" / "dist")  # build output, not in git: the tree's current build
        (staging / ".release").write_text(version + "\n")
        try:
            staging.rename(target)
        except OSError:  # another deploy made the same release meanwhile
            if not (target / ".release").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def release_env(release: Path, version: str) -> dict[str, str]:
    """What an instance of `release` runs with: its own code first on the path, its version."""
    layers = sorted(str(p) for p in (release / "layers").glob("*/python"))
    return {"PYTHONPATH": ":".join([str(release), *layers]), "APP_VERSION": version}
