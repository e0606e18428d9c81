"""`make estate-local`'s program: up on LB_PORT with both VMs behind it, driven by the deploy CLI,
and nothing left listening after SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from dev.embedded import ROOT


def _free_block(size: int = 23) -> int:
    """A base port whose next `size` ports are free now, below the ephemeral range (where the traffic
    tests leave thousands of TIME_WAIT sockets). SO_REUSEADDR, as nginx and gunicorn bind."""
    for base in [*range(15_000 + (os.getpid() % 100) * 150, 32_000, 97), *range(15_000, 32_000, 89)]:
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + size):
                s = socket.socket()
                sockets.append(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free block of ports")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_estate_local_serves_on_lb_port_and_stops_cleanly(service_env: dict[str, str], tmp_path: Path) -> None:
    lb = _free_block()
    estate_dir = tmp_path / "estate"
    env = {**os.environ, **{k: v for k, v in service_env.items() if k != "APP_VERSION"},
           "LB_PORT": str(lb), "ESTATE_DIR": str(estate_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "deploy.local"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Stop:" in line:
                break
        assert "Local estate up" in "".join(lines), "".join(lines)
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        assert requests.get(f"http://127.0.0.1:{lb}/version", timeout=5).json()["version"] == head
        status = subprocess.run([sys.executable, "-m", "deploy", "status", "--target", "local"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60, check=False)
        assert status.returncode == 0, status.stderr
        assert f"live  blue   version {head}" in status.stdout and f"idle  green  version {head}" in status.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    deadline = time.monotonic() + 10
    ports = [lb, lb + 1, lb + 2, lb + 10, lb + 11, lb + 12, lb + 20, lb + 21, lb + 22]
    while any(_listening(p) for p in ports) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in ports if _listening(p)]
    assert not (estate_dir / "estate.json").exists()
