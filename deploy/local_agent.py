"""The local VMs' agent: the stand-in for SSM Run Command and for lending-jobs.timer.

It runs in the estate's process (deploy/local_vms.py) and listens on LB_PORT+2. The deploy asks it
to run migrations and to restart a VM's instances on a release, and it does so even when the
deploy that asked is killed meanwhile, as SSM would; it restarts instances that exited by
themselves; and it runs the scheduled jobs on each VM at the timer's interval (no systemd here).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from deploy import migration
from deploy.local_layout import LOOPBACK
from deploy.release import release_env
from deploy.steps import ROOT
from dev.vm_stack import LocalVM
from vm_runtime.command import jobs_argv


# -- the VMs' agent (in the estate's process) ----------------------------------------------------------
class Agent:
    """Runs commands on the local VMs for the deploy: migrate from a release, ship a release; and what
    lending-jobs.timer starts on a real VM (there is no systemd here): the scheduled jobs, once."""

    def __init__(self, vms: dict[str, LocalVM], env: dict[str, str], port: int) -> None:
        self.vms, self.env = vms, env
        self.locks = {color: threading.Lock() for color in vms}
        self.commands: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
            "ship": self.ship, "migrate": self.migrate, "jobs": self.run_jobs}
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                parts = self.path.strip("/").split("/")
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if len(parts) == 3 and parts[0] == "vms" and parts[1] in agent.vms and parts[2] in agent.commands:
                    result, status = agent.commands[parts[2]](parts[1], body), 200
                else:
                    result, status = {"ok": False, "error": f"no command {self.path}"}, 404
                payload = json.dumps(result).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ship(self, color: str, body: dict[str, Any]) -> dict[str, Any]:
        release, version = Path(body["release"]), str(body["version"])
        with self.locks[color]:
            vm = self.vms[color]
            for index, instance in enumerate(vm.instances):
                instance.stop()
                fresh = replace(instance, env={**self.env, **release_env(release, version)}, cwd=release, proc=None)
                vm.instances[index] = fresh
                try:
                    fresh.start(timeout=float(body.get("start_timeout", 60)))
                except (RuntimeError, TimeoutError) as exc:
                    return {"ok": False, "instance": index + 1, "error": str(exc).splitlines()[0]}
        return {"ok": True}

    def restart_crashed(self, color: str) -> list[str]:
        """Start again any instance of `color` that exited by itself (never while a ship is under way)."""
        if not self.locks[color].acquire(blocking=False):
            return []
        restarted = []
        try:
            for instance in self.vms[color].instances:
                if instance.proc is not None and not instance.running:
                    try:
                        instance.start(timeout=60)
                        restarted.append(instance.name)
                    except (RuntimeError, TimeoutError):
                        pass  # a build that cannot start: the next deploy replaces it
        finally:
            self.locks[color].release()
        return restarted

    def run_jobs(self, color: str, body: dict[str, Any]) -> dict[str, Any]:
        """One pass of lending-jobs.service on `color`, as its timer would start it: the unit's command
        (vm_runtime.command.JOBS, `python -m ops.jobs`) in the release the VM's instances run, with their
        settings. No systemd here, so no podman either: the release directory stands in for the image."""
        instance = self.vms[color].instances[0]
        env = {**os.environ, **instance.env, **{k: str(v) for k, v in (body.get("env") or {}).items()}}
        result = subprocess.run(jobs_argv(sys.executable), cwd=instance.cwd, env=env, capture_output=True, text=True,
                                timeout=900, check=False)
        jobs = {}
        for line in result.stdout.splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and "job" in record and "message" not in record and "_aws" not in record:
                    jobs[str(record.pop("job"))] = record
        return {"ok": result.returncode == 0, "exit": result.returncode, "release": str(instance.cwd),
                "version": instance.env.get("APP_VERSION", ""), "jobs": jobs,
                "output": (result.stdout + result.stderr)[-4000:]}

    def timer(self, every: float, stop: threading.Event, say: Callable[[str], None]) -> None:
        """lending-jobs.timer on each VM: a pass every `every` seconds after the last one ended."""
        while not stop.wait(every):
            for color in self.vms:
                try:
                    done = self.run_jobs(color, {})
                except (OSError, subprocess.SubprocessError) as exc:
                    say(f"  VM {color}: lending-jobs pass could not run: {exc}")
                    continue
                ran = ", ".join(f"{job} {'skipped: ' + str(r['skipped']) if 'skipped' in r else 'ran'}"
                                for job, r in done["jobs"].items())
                say(f"  VM {color}: lending-jobs pass (as its timer would; no systemd here), exit {done['exit']}: {ran}")

    def migrate(self, color: str, body: dict[str, Any]) -> dict[str, Any]:
        release = Path(body["release"])
        env = {**os.environ, **self.env, **release_env(release, "migrate")}
        result = subprocess.run([sys.executable, "-c", migration.SCRIPT], cwd=release, env=env, capture_output=True,
                                text=True, timeout=300, check=False)
        lines = result.stdout.strip().splitlines()
        try:
            outcome = json.loads(lines[-1]) if lines else {}
        except ValueError:
            outcome = {}
        return {"ok": result.returncode == 0, "exit": result.returncode, **outcome,
                "output": (result.stdout + result.stderr)[-2000:]}


# -- lending-jobs.timer ---------------------------------------------------------------------------------
def timer_seconds(unit: Path = ROOT / "vm_runtime" / "deploy" / "systemd" / "lending-jobs.timer") -> float:
    """The jobs timer's OnUnitInactiveSec (e.g. 5min), in seconds."""
    found = re.search(r"^OnUnitInactiveSec=(\d+)(s|min|h)$", unit.read_text(), re.M)
    if found is None:
        raise RuntimeError(f"{unit}: no OnUnitInactiveSec=N(s|min|h)")
    return int(found.group(1)) * {"s": 1, "min": 60, "h": 3600}[found.group(2)]

