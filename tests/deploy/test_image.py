"""The real image: built with podman from this commit's tree on a base made from Debian's packages,
run as a container, answering /ready against the suite's PostgreSQL.

The build fetches nothing: the base image and the wheels are made beforehand by `make
image-prerequisites` (part of make test, cached under /var/tmp). Skipped, saying why, on a machine
that cannot build or run containers (no podman, runc or debootstrap; prerequisites not made; or
podman cannot start a container here). Everything else runs regardless.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid

import pytest
import requests

from deploy import image
from dev.embedded import ROOT, free_port
from tests.deploy.conftest import Repo


def _can_run_containers() -> str:
    missing = [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]
    if missing:
        return f"no {', '.join(missing)} on this machine (.ci/apt-packages installs them)"
    base = image.LOCAL_BASE
    if not image.image_exists(base):
        return f"no base image {base} yet: `make image-prerequisites` makes it (make test does, before pytest)"
    try:
        image.wheelhouse(ROOT, fetch=False)
    except FileNotFoundError as exc:
        return f"{exc}: `make image-prerequisites` makes it (make test does, before pytest)"
    probe = subprocess.run(image.podman("run", "--rm", *image.run_options(), base, "true"), capture_output=True,
                           text=True, check=False)
    if probe.returncode != 0:
        return f"podman cannot run a container on this machine: {probe.stderr.strip()[-300:]}"
    return ""


def test_the_image_builds_and_its_container_answers_ready(repo: Repo, service_env: dict[str, str]) -> None:
    why = _can_run_containers()
    if why:
        pytest.skip(why)
    version = repo.git("rev-parse", "--short=12", repo.git("rev-list", "--max-parents=0", "HEAD"))  # the tree as is
    name = image.build(version, repo.path, base="local", tag=f"localhost/library-lending-test:{version}")
    container, port = f"lending-test-{uuid.uuid4().hex[:8]}", free_port()
    env = {**service_env, "INSTANCE_BIND": f"127.0.0.1:{port}"}
    env.pop("APP_VERSION")
    env_args = [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]
    try:
        subprocess.run(image.podman("run", "--detach", "--name", container, *image.run_options(), "--no-healthcheck",
                                    "--read-only", "--tmpfs", "/tmp", *env_args, name), check=True, capture_output=True)
        health = subprocess.run(image.podman("image", "inspect", "--format", "{{.HealthCheck}}", name),
                                capture_output=True, text=True, check=True).stdout
        assert "vm_runtime.healthcheck" in health  # kept (docker format); podman here has no systemd to run it
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/ready", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        logs = subprocess.run(image.podman("logs", container), capture_output=True, text=True, check=False)
        assert answer is not None, logs.stdout[-2000:] + logs.stderr[-2000:]
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"status": "ready", "version": version}
        assert requests.get(f"http://127.0.0.1:{port}/version", timeout=2).json() == {"version": version}
        user = subprocess.run(image.podman("exec", container, "id", "-u"), capture_output=True, text=True, check=True)
        assert user.stdout.strip() == "10001"  # non-root
    finally:
        subprocess.run(image.podman("rm", "--force", "--time", "5", container), capture_output=True, check=False)
        subprocess.run(image.podman("rmi", "--force", name), capture_output=True, check=False)
