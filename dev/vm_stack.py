"""One VM's worth on this machine: nginx in front of two app instances, each the container's command.

    with LocalVM(env, run_dir, listen_port=8080) as vm:
        requests.get(vm.url + "/books")
        vm.instances[0].kill()          # SIGKILL, like a crashed container
        vm.instances[0].start()         # what systemd's Restart=on-failure does

Used by `make vm-local` (dev/vm_local.py), the tests under tests/vm/, and the
blue/green deploy work (two of these on different ports).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from dev.embedded import ROOT, free_port, wait_for_http, wait_for_port
from vm_runtime import nginx
from vm_runtime.command import bind_env

LOOPBACK = "127.0.0.1"


def entrypoint(tree: Path, python: str) -> list[str]:
    """The command a release's container starts (its Dockerfile's ENTRYPOINT), with a given python.

    Each release runs its own: an older one (the online-migration test's, the bench's "before") may
    still start gunicorn, which the dev requirements keep for them."""
    line = next(line for line in (tree / "vm_runtime" / "Dockerfile").read_text().splitlines()
                if line.startswith("ENTRYPOINT "))
    argv: list[str] = json.loads(line.removeprefix("ENTRYPOINT "))
    return [python, *argv[1:]] if argv[0] == "python" else argv


@dataclass
class AppInstance:
    """One app server (main process + worker) on a loopback port, started as the container starts it."""

    name: str
    port: int
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    cwd: Path = ROOT  # a release directory (the blue/green deploy's local VMs) instead of the working tree

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        extra = self.env.get("GUNICORN_CMD_ARGS", "")  # an older release's server (see entrypoint())
        env = {**os.environ, **self.env, **bind_env(LOOPBACK, self.port),
               "GUNICORN_CMD_ARGS": f"--bind {LOOPBACK}:{self.port} {extra}".strip(), "PYTHONUNBUFFERED": "1"}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(entrypoint(self.cwd, sys.executable), cwd=self.cwd, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_healthy(timeout)

    def _wait_healthy(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-1500:]
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before it was healthy:\n{tail}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} was not healthy on {self.url} within {timeout}s")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        """SIGTERM to the server's main process, as `podman stop` sends it to the container's PID 1."""
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to every process of the instance, like a crashed or OOM-killed container."""
        if self.running:
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 40.0) -> None:
        if not self.running:
            return
        assert self.proc is not None
        self.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        with contextlib.suppress(ProcessLookupError):  # a worker orphaned by its main process would keep the port
            os.killpg(self.proc.pid, signal.SIGKILL)


# Here every client is this machine (tests, load benchmarks, a deploy under traffic): the production
# limits would throttle them all as one client. tests/vm/test_rate_limits.py sets tight ones.
LOCAL_LIMITS = nginx.RateLimits(client_rate="100000r/s", client_burst=100000, bearer_rate="100000r/s",
                                bearer_burst=100000)


class LocalVM:
    """nginx on `listen_port` balancing two app instances on loopback ports, all on one environment."""

    def __init__(self, env: dict[str, str], run_dir: Path, *, listen_port: int | None = None,
                 app_ports: tuple[int, ...] | None = None, instances: int = 2, cwd: Path = ROOT,
                 limits: nginx.RateLimits = LOCAL_LIMITS) -> None:
        self.env = dict(env)
        self.limits = limits
        self.run_dir = run_dir
        self.listen_port = listen_port or free_port()
        ports = app_ports or tuple(free_port() for _ in range(instances))
        self.instances = [AppInstance(f"app{i + 1}", port, self.env, run_dir / f"app{i + 1}.log", cwd=cwd)
                          for i, port in enumerate(ports)]
        self.prefix = run_dir / "nginx"
        self.nginx: subprocess.Popen[bytes] | None = None
        # Another checkout (the bench's "before") runs behind its own nginx site, as it shipped.
        own = cwd / "vm_runtime" / "deploy" / "nginx" / "lending.conf.template"
        self.template = own if own.exists() else nginx.TEMPLATE

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.listen_port}"

    def start(self) -> LocalVM:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            for instance in self.instances:
                instance.start()
            site = nginx.render_site(f"{LOOPBACK}:{self.listen_port}", [f"{LOOPBACK}:{i.port}" for i in self.instances],
                                     str(self.prefix / "logs"), self.limits, self.template)
            nginx.prepare_prefix(self.prefix, site)
            with open(self.run_dir / "nginx.log", "ab") as out:
                self.nginx = subprocess.Popen(nginx.nginx_argv(self.prefix), stdout=out, stderr=subprocess.STDOUT,
                                              start_new_session=True)
            wait_for_port(self.listen_port, timeout=20, proc=self.nginx)
            wait_for_http(f"{self.url}/health", timeout=20)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def access_log(self) -> Path:
        return self.prefix / "logs" / "lending.access.log"

    def stop(self) -> None:
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)  # graceful: finish the requests being proxied
            try:
                self.nginx.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.nginx.pid, signal.SIGKILL)
                self.nginx.wait()
        for instance in self.instances:
            instance.stop()

    def __enter__(self) -> LocalVM:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

