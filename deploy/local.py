"""The local estate: a load balancer and two VMs on this machine, and the driver that deploys to it.

`make estate-local` (main below) starts, on make run's defaults (dev/embedded.py, the same
start_defaults as make vm-local) or your DATABASE_URL/STRIPE_API_KEY/OIDC_ISSUER:
- VM blue and VM green, each a vm_runtime LocalVM (nginx + two instances), both running the
  release of the source tree's HEAD;
- the load balancer (deploy/balancer.py) on LB_PORT (8088), forwarding to blue;
- the VMs' agent on LB_PORT+2: the stand-in for SSM Run Command. The deploy asks it to run
  migrations and to restart a VM's instances on a release, and it does so even when the deploy
  that asked is killed meanwhile, as SSM would.
Ports: admin LB_PORT+1; blue nginx LB_PORT+10, instances +11 and +12; green LB_PORT+20, +21, +22.
The layout is written to .run/estate/estate.json for the deploy; the live colour is never
read from there, only from the load balancer.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from deploy import balancer, migration
from deploy.estate import Say
from deploy.files import FileAudit, FileLock
from deploy.model import Probe, StepFailed
from deploy.release import make_release, release_env
from deploy.steps import ROOT, take_version
from dev.embedded import wait_for_http, wait_for_port
from dev.vm_stack import LocalVM
from vm_runtime.command import jobs_argv

ESTATE_DIR = Path(os.environ.get("ESTATE_DIR") or ROOT / ".run" / "estate")
COLORS = ("blue", "green")
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Ports:
    lb: int
    admin: int
    agent: int
    vms: dict[str, tuple[int, int, int]]  # colour -> (nginx, instance 1, instance 2)

    @classmethod
    def from_lb_port(cls, lb: int) -> Ports:
        return cls(lb, lb + 1, lb + 2, {"blue": (lb + 10, lb + 11, lb + 12), "green": (lb + 20, lb + 21, lb + 22)})


def _http(method: str, url: str, body: dict[str, Any] | None = None, timeout: float = 3.0) -> Probe:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
            return Probe(response.status, response.read().decode(errors="replace"))
    except urllib.error.HTTPError as error:
        return Probe(error.code, error.read().decode(errors="replace"))
    except OSError as error:
        return Probe(0, f"no answer: {error}")


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


# -- the estate (make estate-local) ---------------------------------------------------------------------
class LocalEstateRunner:
    """Both VMs, the load balancer and the agent; `stop()` ends every process it started."""

    def __init__(self, env: dict[str, str], directory: Path, ports: Ports, source: Path = ROOT,
                 environment: str = "local") -> None:
        self.env, self.dir, self.ports, self.source, self.environment = env, directory, ports, source, environment
        self.vms: dict[str, LocalVM] = {}
        self.lb: subprocess.Popen[bytes] | None = None
        self.agent: Agent | None = None
        self.version = ""

    def start(self) -> LocalEstateRunner:
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            self.version = take_version(self.source)
            release = make_release(self.source, self.version, self.dir / "releases")
            for color in COLORS:
                nginx_port, *apps = self.ports.vms[color]
                vm = LocalVM({**self.env, **release_env(release, self.version)}, self.dir / f"vm-{color}",
                             listen_port=nginx_port, app_ports=tuple(apps), cwd=release)
                self.vms[color] = vm
                vm.start()
            prefix = self.dir / "lb"
            balancer.prepare(prefix, self.ports.lb, self.ports.admin, COLORS[0], self.ports.vms[COLORS[0]][0])
            self.lb = balancer.start(prefix, self.dir / "lb.log")
            wait_for_port(self.ports.lb, timeout=20, proc=self.lb)
            wait_for_http(f"http://{LOOPBACK}:{self.ports.lb}/health", timeout=20)
            self.agent = Agent(self.vms, self.env, self.ports.agent)
            self.agent.start()
            self.write_layout()
        except BaseException:
            self.stop()
            raise
        return self

    def write_layout(self) -> None:
        layout = {
            "environment": self.environment, "lb_url": f"http://{LOOPBACK}:{self.ports.lb}",
            "admin_url": f"http://{LOOPBACK}:{self.ports.admin}", "agent_url": f"http://{LOOPBACK}:{self.ports.agent}",
            "lb_prefix": str(self.dir / "lb"), "releases": str(self.dir / "releases"),
            "vms": {color: {"nginx_port": ports[0], "instance_ports": list(ports[1:]),
                            "logs": [str(self.dir / f"vm-{color}" / f"app{i}.log") for i in (1, 2)]}
                    for color, ports in self.ports.vms.items()},
        }
        (self.dir / "estate.json").write_text(json.dumps(layout, indent=2) + "\n")

    def stop(self) -> None:
        if self.agent is not None:
            self.agent.stop()
        if self.lb is not None and self.lb.poll() is None:
            self.lb.send_signal(signal.SIGQUIT)
            try:
                self.lb.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.lb.pid, signal.SIGKILL)
                self.lb.wait()
        for vm in self.vms.values():
            vm.stop()
        (self.dir / "estate.json").unlink(missing_ok=True)

    def __enter__(self) -> LocalEstateRunner:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


# -- the driver ---------------------------------------------------------------------------------------
class LocalEstate:
    """The deploy's view of a running local estate (deploy/estate.py's interface)."""

    instances = 2
    colors: tuple[str, str] = COLORS

    def __init__(self, directory: Path = ESTATE_DIR) -> None:
        layout_file = directory / "estate.json"
        if not layout_file.exists():
            raise SystemExit(f"no local estate in {directory}: start one with `make estate-local`")
        self.dir = directory
        self.layout: dict[str, Any] = json.loads(layout_file.read_text())
        self.environment = str(self.layout["environment"])
        self.lock = FileLock(directory / "deploy.lock")
        self.audit = FileAudit(directory / "audit.log")

    def _vm(self, color: str) -> dict[str, Any]:
        return dict(self.layout["vms"][color])

    def live_color(self) -> str:
        answer = _http("GET", f"{self.layout['admin_url']}/live")
        if answer.status != 200:
            raise StepFailed(f"the load balancer did not say where it forwards: {answer.body[:200]}")
        return answer.body.strip()

    def switch_to(self, color: str) -> None:
        balancer.switch(Path(self.layout["lb_prefix"]), color, int(self._vm(color)["nginx_port"]))

    def prepare(self, version: str, source: Path) -> str:
        return str(make_release(source, version, Path(self.layout["releases"])))

    def _agent(self, color: str, command: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        answer = _http("POST", f"{self.layout['agent_url']}/vms/{color}/{command}", body, timeout=timeout)
        if answer.status != 200:
            raise StepFailed(f"the VM agent did not run {command} on {color}: {answer.status} {answer.body[:300]}")
        return answer.json()

    def run_jobs(self, color: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        """One pass of the VM's jobs timer now (see Agent.run_jobs); `env` adds settings for this pass."""
        return self._agent(color, "jobs", {"env": env or {}}, timeout=930)

    def migrate(self, color: str, artefact: str) -> list[str]:
        result = self._agent(color, "migrate", {"release": artefact}, timeout=330)
        if result.get("refused"):
            raise StepFailed(migration.explain_refusal(list(result["refused"])))
        if not result.get("ok"):
            raise StepFailed(f"migrations failed (exit {result.get('exit')})", str(result.get("output", "")))
        return list(result.get("applied", []))

    def ship(self, color: str, artefact: str, version: str, say: Say) -> None:
        say(f"{color}: restarting instance 1 then 2 on {version}")
        result = self._agent(color, "ship", {"release": artefact, "version": version}, timeout=300)
        if not result.get("ok"):
            index = int(result.get("instance", 1))
            raise StepFailed(f"{color} instance {index} did not start: {result.get('error')}", self.instance_log(color, index))

    def vm_probe(self, color: str, path: str) -> Probe:
        return _http("GET", f"http://{LOOPBACK}:{self._vm(color)['nginx_port']}{path}")

    def instance_probe(self, color: str, index: int, path: str) -> Probe:
        return _http("GET", f"http://{LOOPBACK}:{self._vm(color)['instance_ports'][index - 1]}{path}")

    def lb_probe(self, path: str) -> Probe:
        return _http("GET", f"{self.layout['lb_url']}{path}")

    def instance_log(self, color: str, index: int, lines: int = 15) -> str:
        try:
            text = Path(self._vm(color)["logs"][index - 1]).read_text(errors="replace")
        except OSError as exc:
            return f"(log unreadable: {exc})"
        return "\n".join(line[:300] for line in text.splitlines()[-lines:])


# -- make estate-local ----------------------------------------------------------------------------------
def timer_seconds(unit: Path = ROOT / "vm_runtime" / "deploy" / "systemd" / "lending-jobs.timer") -> float:
    """The jobs timer's OnUnitInactiveSec (e.g. 5min), in seconds."""
    found = re.search(r"^OnUnitInactiveSec=(\d+)(s|min|h)$", unit.read_text(), re.M)
    if found is None:
        raise RuntimeError(f"{unit}: no OnUnitInactiveSec=N(s|min|h)")
    return int(found.group(1)) * {"s": 1, "min": 60, "h": 3600}[found.group(2)]


def main() -> int:
    from dev.embedded import Service, stop_all, supervised
    from dev.run import RUN_DIR, prepare_database, start_defaults

    RUN_DIR.mkdir(exist_ok=True)
    env = dict(os.environ)
    for name in ("PYTHONPATH", "APP_VERSION"):  # each release brings its own
        env.pop(name, None)
    ports = Ports.from_lb_port(int(env.get("LB_PORT") or 8088))
    services: list[Service] = []
    with supervised() as stack:
        stack.callback(stop_all, services)
        lines, _ = start_defaults(env, services)
        seeded = prepare_database(env["DATABASE_URL"])
        estate = LocalEstateRunner(env, ESTATE_DIR, ports)
        stack.callback(estate.stop)
        estate.start()
        stop_timer = threading.Event()
        stack.callback(stop_timer.set)
        every = timer_seconds()
        if estate.agent is not None:
            threading.Thread(target=estate.agent.timer, args=(every, stop_timer, lambda line: print(line, flush=True)),
                             daemon=True).start()
        print(f"\nLocal estate up: release {estate.version} on both VMs.\n", flush=True)
        print(f"  load balancer           http://{LOOPBACK}:{ports.lb}   -> blue (GET /version, /books)")
        for color, (vm_port, one, two) in ports.vms.items():
            print(f"  VM {color:<6}               http://{LOOPBACK}:{vm_port}   instances :{one} :{two}"
                  f"   logs .run/estate/vm-{color}/")
        print(*lines, sep="\n")
        print(f"  demo books added        {seeded}")
        print(f"  jobs                    each VM every {every:.0f}s as lending-jobs.timer would (no systemd here:"
              " python -m ops.jobs in its release)")
        print("\n  Deploy the working tree's commit:   make deploy-vm DEPLOY_TARGET=local")
        print("  See it:   make deploy-status DEPLOY_TARGET=local      Back:   make rollback-vm DEPLOY_TARGET=local")
        print("  Stop:     Ctrl-C\n", flush=True)
        while True:
            time.sleep(1)
            for color in estate.vms:
                restarted = estate.agent.restart_crashed(color) if estate.agent else []
                for name in restarted:
                    print(f"  VM {color}: {name} had exited; restarted it (as Restart=on-failure would)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
