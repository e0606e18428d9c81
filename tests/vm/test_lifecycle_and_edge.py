"""What nginx, systemd and the deploy look at, and what the edge adds: version, request ids, limits."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from dev.embedded import ROOT, free_port
from dev.vm_stack import AppInstance, LocalVM
from lending_postgres import ConnectionPool, migrate
from tests.conftest import create_database
from tests.vm.conftest import wait_until


def _app_log_lines(vm: LocalVM, request_id: str) -> list[dict[str, object]]:
    lines = []
    for instance in vm.instances:
        for line in instance.log.read_text().splitlines():
            if line.startswith("{") and request_id in line:
                lines.append(json.loads(line))
    return lines


def test_health_ready_and_version_through_nginx(vm: LocalVM) -> None:
    assert requests.get(f"{vm.url}/health", timeout=10).json() == {"status": "ok"}
    assert requests.get(f"{vm.url}/ready", timeout=10).json() == {"status": "ready", "version": "test-version"}
    assert requests.get(f"{vm.url}/version", timeout=10).json() == {"version": "test-version"}


def test_a_callers_request_id_is_passed_through_returned_and_logged_by_nginx_and_the_app(vm: LocalVM) -> None:
    given = f"trace-{uuid.uuid4().hex}"
    response = requests.get(f"{vm.url}/books", headers={"X-Request-ID": given}, timeout=10)
    assert response.headers["X-Request-ID"] == given
    assert wait_until(lambda: given in vm.access_log.read_text(), timeout=5)
    logged = _app_log_lines(vm, given)
    assert [(e["request_id"], e["operation"], e["status"]) for e in logged] == [(given, "catalogue", 200)]


def test_without_a_usable_request_id_nginx_makes_one_that_the_app_uses_too(vm: LocalVM) -> None:
    for sent in ({}, {"X-Request-ID": "not acceptable; has spaces"}):
        response = requests.get(f"{vm.url}/books", headers=sent, timeout=10)
        made = response.headers["X-Request-ID"]
        assert made and made != sent.get("X-Request-ID")
        assert wait_until(lambda made=made: f'"request_id":"{made}"' in vm.access_log.read_text(), timeout=5)
        assert [e["request_id"] for e in _app_log_lines(vm, made)] == [made]


def test_bodies_over_the_limit_are_refused_at_the_edge_as_a_problem(vm: LocalVM) -> None:
    response = requests.post(f"{vm.url}/books", data=b"x" * (2 * 1024 * 1024), timeout=30,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 413 and response.json()["request_id"] == response.headers["X-Request-ID"]


def test_make_vm_local_serves_on_vm_port_and_sigterm_stops_all_of_it(
        service_env: dict[str, str], postgres_server: str, tmp_path: Path) -> None:
    database = create_database(postgres_server, f"vm_local_{uuid.uuid4().hex[:8]}")  # `make vm-local` seeds demo books
    pool = ConnectionPool(database, size=1)
    migrate(pool)
    pool.close()
    ports = [free_port() for _ in range(3)]
    env = {**os.environ, **service_env, "DATABASE_URL": database, "VM_PORT": str(ports[0]),
           "VM_APP_PORTS": f"{ports[1]},{ports[2]}", "APP_VERSION": "vm-local-check"}
    with open(tmp_path / "vm-local.log", "wb") as out:
        make = subprocess.Popen(["make", "--no-print-directory", "vm-local"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def up() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{ports[0]}/ready", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        assert wait_until(up, timeout=60), (tmp_path / "vm-local.log").read_text()[-2000:]
        assert requests.get(f"http://127.0.0.1:{ports[0]}/version", timeout=5).json() == {"version": "vm-local-check"}
        assert requests.get(f"http://127.0.0.1:{ports[0]}/books", timeout=5).json()["items"]  # demo books, as make run
        make.send_signal(signal.SIGTERM)
        assert make.wait(timeout=60) in (0, -signal.SIGTERM)  # make re-raises the signal it passed on
        assert "Stopping (SIGTERM)" in (tmp_path / "vm-local.log").read_text()
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
    assert wait_until(lambda: not any(_listening(p) for p in ports), timeout=10), "something still listens"
    assert subprocess.run(["pgrep", "-s", str(make.pid)], capture_output=True).returncode == 1  # nothing left


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_an_instance_with_a_missing_setting_stops_at_start_up_naming_it(service_env: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in service_env.items() if k != "STRIPE_API_KEY"}
    instance = AppInstance("broken", free_port(), {**env, "STRIPE_API_KEY": ""}, tmp_path / "broken.log")
    with pytest.raises(RuntimeError, match="exited"):
        instance.start(timeout=30)
    assert not instance.running
    log = instance.log.read_text()
    assert "STRIPE_API_KEY is required" in log and "whsec_" not in log and "sk_test" not in log
