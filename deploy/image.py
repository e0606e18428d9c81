"""`make image`: the container image of one commit, built with podman (no Docker engine needed).

    python -m deploy.image build [--version SHA] [--base local|IMAGE] [--tag NAME] [--push REGISTRY/REPO] [--save FILE]
    python -m deploy.image base          # localhost/lending-base:bookworm from Debian's packages
    python -m deploy.image prerequisites # that base and the wheels, made ahead (make image-prerequisites)

The build context is the commit's tree (`git archive`), the built web UI (web/dist, when built)
and wheels/ (every dependency as a wheel, made on this machine by pip beforehand and cached), so
the build itself fetches nothing. `--base local` builds on a base made here with debootstrap
from Debian's packages (python3, python3-venv, python-is-python3) and `podman import`, cached
in podman's storage: for machines that reach no container registry. Without it the Dockerfile's
default, the production base, is used.

podman runs with its own storage under /var/tmp/lending-containers (the vfs driver, runc,
cgroupfs, lowered ulimits: what works on a machine without a container daemon or systemd).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from deploy.release import make_release
from deploy.steps import ROOT, take_version

CACHE = Path(os.environ.get("LENDING_IMAGE_CACHE", "/var/tmp/lending-image-cache"))  # noqa: S108 - kept across runs
STORAGE = Path(os.environ.get("LENDING_CONTAINERS", "/var/tmp/lending-containers"))  # noqa: S108 - podman storage
LOCAL_BASE = "localhost/lending-base:bookworm"
BASE_PACKAGES = "python3,python3-venv,python-is-python3,ca-certificates"
DOCKERFILE = ROOT / "vm_runtime" / "Dockerfile"


def podman(*args: str) -> list[str]:
    return ["podman", "--root", str(STORAGE / "storage"), "--runroot", str(STORAGE / "run"), "--storage-driver", "vfs",
            "--runtime", "runc", "--cgroup-manager", "cgroupfs", *args]


def run_options() -> list[str]:
    return ["--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def image_exists(name: str) -> bool:
    return subprocess.run(podman("image", "exists", name), capture_output=True, check=False).returncode == 0


def make_base(name: str = LOCAL_BASE) -> str:
    """A Debian 12 base image from Debian's packages (debootstrap minbase, ~40 s once; then cached)."""
    if image_exists(name):
        return name
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE, prefix="rootfs-") as rootfs:
        os.chmod(rootfs, 0o755)  # noqa: S103 - it becomes the image's "/": mkdtemp's 0700 would lock every non-root user out
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm", rootfs],
                       check=True, capture_output=True)
        shutil.rmtree(Path(rootfs) / "var" / "cache" / "apt" / "archives", ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(podman("import", "--change", 'CMD ["/bin/bash"]', "-", name), stdin=tar.stdout, check=True,
                       capture_output=True)
        if tar.wait() != 0:
            raise RuntimeError("tar of the base root file system failed")
    return name


def requirements(tree: Path) -> str:
    files = sorted(tree.glob("layers/*/requirements.txt")) + [tree / "vm_runtime" / "requirements.txt"]
    return "".join(f.read_text() + "\n" for f in files)


def wheelhouse(tree: Path, fetch: bool = True) -> Path:
    """Every runtime dependency of `tree` as a wheel, made by pip on this machine, cached by content.
    With fetch=False, FileNotFoundError unless already made (`make image-prerequisites`)."""
    text = requirements(tree)
    house = CACHE / "wheels" / hashlib.sha256(text.encode()).hexdigest()[:16]
    if (house / ".complete").exists():
        return house
    if not fetch:
        raise FileNotFoundError(f"no wheelhouse {house} for these requirements yet")
    house.mkdir(parents=True, exist_ok=True)
    reqs = house / "requirements.txt"
    reqs.write_text(text)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(house), "-r", str(reqs)],
                   check=True)
    (house / ".complete").touch()
    return house


def context(version: str, source: Path, work: Path) -> Path:
    """The build context: the commit's tree, web/dist, wheels/."""
    tree = make_release(source, version, work / "releases")
    wheels = tree / "wheels"
    if not wheels.exists():
        shutil.copytree(wheelhouse(tree), wheels, ignore=shutil.ignore_patterns("requirements.txt", ".complete"))
    return tree


def build(version: str, source: Path = ROOT, base: str | None = None, tag: str | None = None) -> str:
    name = tag or f"localhost/library-lending:{version}"
    base_image = make_base() if base == "local" else base
    with tempfile.TemporaryDirectory(dir=CACHE if CACHE.exists() else None, prefix="context-") as work:
        tree = context(version, source, Path(work))
        args = ["build", "--isolation", "chroot", "--layers=false", "--file", str(tree / "vm_runtime" / "Dockerfile"),
                "--format", "docker", "--build-arg", f"APP_VERSION={version}", "--tag", name]
        if base_image:
            args += ["--build-arg", f"BASE_IMAGE={base_image}"]
        subprocess.run(podman(*args, str(tree)), check=True)
    return name


def push(name: str, destination: str) -> None:
    subprocess.run(podman("push", name, destination), check=True)


def save(name: str, archive: Path) -> None:
    """`name` as a docker-archive file that keeps its tag (`podman load -i` on another machine)."""
    subprocess.run(podman("save", "--format", "docker-archive", "--output", str(archive), name), check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.image", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("build", "base", "prerequisites"))
    parser.add_argument("--version", help="commit (default: HEAD)")
    parser.add_argument("--source", type=Path, default=ROOT)
    parser.add_argument("--base", default=os.environ.get("BASE") or None,
                        help="`local` (made here from Debian's packages) or an image; default: the production base")
    parser.add_argument("--tag")
    parser.add_argument("--push", help="also push to this reference, e.g. <registry>/library-lending:<sha>")
    parser.add_argument("--save", type=Path, help="also write it to this archive file (for `podman load`)")
    args = parser.parse_args(argv)
    if args.command == "base":
        print(make_base())
        return 0
    if args.command == "prerequisites":  # what a build here fetches, fetched beforehand (make test does it)
        try:
            print(f"base image {make_base()}, wheels in {wheelhouse(args.source)}")
        except (subprocess.CalledProcessError, OSError) as exc:
            detail = exc.stderr.decode(errors="replace")[-500:] if isinstance(exc, subprocess.CalledProcessError) \
                and isinstance(exc.stderr, bytes) else ""
            print(f"note: image prerequisites not made ({exc}) {detail}- the image test will skip", file=sys.stderr)
            return 1
        return 0
    version = take_version(args.source, args.version)
    name = build(version, args.source, args.base, args.tag)
    print(f"built {name}")
    if args.save:
        save(name, args.save)
        print(f"saved {name} to {args.save}")
    if args.push:
        push(name, args.push)
        print(f"pushed {args.push}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
