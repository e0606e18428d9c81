"""The deploy files: each passes its linter (which must also be able to fail), and they agree with each other."""

from __future__ import annotations

import configparser
import json
import re
import subprocess
from pathlib import Path

from vm_runtime import checks, command, nginx, serve


def test_the_dockerfile_passes_hadolint_and_hadolint_can_fail(tmp_path: Path) -> None:
    assert checks.hadolint() == (True, "")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install gunicorn\nCMD gunicorn app\n")
    ok, output = checks.hadolint(bad)
    assert not ok and "DL3007" in output and "DL3013" in output


def test_the_nginx_site_passes_nginx_t_and_a_broken_one_does_not(tmp_path: Path) -> None:
    assert checks.nginx_site()[0], checks.nginx_site()[1]
    nginx.prepare_prefix(tmp_path, nginx.render_site("127.0.0.1:1", ["127.0.0.1:2"], str(tmp_path)) + "\nbogus_directive on;\n")
    result = subprocess.run(nginx.nginx_argv(tmp_path, "-t"), capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "bogus_directive" in result.stderr


def test_the_unit_passes_systemd_analyze_verify_silently_and_a_bad_key_is_caught(tmp_path: Path) -> None:
    assert checks.systemd_unit() == (True, "")
    broken = tmp_path / "lending@.service"
    broken.write_text(checks.UNIT.read_text().replace("Restart=on-failure", "Restart=on-failure\nRestartOften=yes"))
    ok, output = checks.systemd_unit(broken)
    assert not ok and "RestartOften" in output


def _unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(checks.UNIT.read_text().replace("\\\n", " "))
    return parser


def test_the_stop_timeouts_nest_drain_then_podman_then_systemd() -> None:
    service = _unit()["Service"]
    podman_stop = int(re.search(r"--time (\d+)", service["ExecStop"]).group(1))  # type: ignore[union-attr]
    podman_run = int(re.search(r"--stop-timeout (\d+)", service["ExecStart"]).group(1))  # type: ignore[union-attr]
    systemd = int(service["TimeoutStopSec"])
    assert serve.GRACEFUL_SECONDS < podman_stop == podman_run < systemd
    assert service["Restart"] == "on-failure" and service["EnvironmentFile"].startswith("/etc/")


def test_instances_publish_the_ports_nginx_balances() -> None:
    published = re.search(r"--publish 127\.0\.0\.1:(\S+):8000", _unit()["Service"]["ExecStart"]).group(1)  # type: ignore[union-attr]
    assert [f"127.0.0.1:{published.replace('%i', n)}" for n in ("1", "2")] == list(nginx.PRODUCTION_UPSTREAMS)
    assert serve.bind_address(serve.DEFAULT_BIND) == ("0.0.0.0", 8000)


def test_the_image_runs_the_local_runners_command_as_a_non_root_user_with_a_healthcheck() -> None:
    text = checks.DOCKERFILE.read_text()
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M).group(1))  # type: ignore[union-attr]
    assert entrypoint == command.SERVE
    assert text.count("\nFROM ") + text.startswith("FROM ") >= 2  # multi-stage
    user = re.findall(r"^USER (\S+)$", text, re.M)
    assert user and not user[-1].startswith(("root", "0"))
    assert "HEALTHCHECK" in text and "vm_runtime.healthcheck" in text
    assert "/opt/python" in text  # the layers where Lambda puts them
    assert not re.search(r"^(ENV|ARG) .*(SECRET|PASSWORD|API_KEY|TOKEN|DATABASE_URL)", text, re.M | re.I)


def _parse(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text().replace("\\\n", " "))
    return parser


def test_the_jobs_timer_and_service_pass_systemd_analyze_verify_silently_and_a_bad_key_is_caught(tmp_path: Path) -> None:
    assert checks.systemd_jobs() == (True, "")
    broken = tmp_path / "lending-jobs.timer"
    broken.write_text(checks.JOBS_TIMER.read_text().replace("OnBootSec=2min", "OnBootSec=2min\nOnBootSecs=3min"))
    ok, output = checks.systemd_jobs(timer=broken)
    assert not ok and "OnBootSecs" in output
    bad_service = tmp_path / "lending-jobs.service"
    bad_service.write_text(checks.JOBS_SERVICE.read_text().replace("Type=oneshot", "Type=oneshoot"))
    ok, output = checks.systemd_jobs(service=bad_service)
    assert not ok and "oneshoot" in output


def test_the_timer_fires_at_the_shortest_schedule_and_runs_the_images_ops_jobs_with_the_instances_settings() -> None:
    from datetime import timedelta

    from lending_http.jobs import scheduled

    timer, service = _parse(checks.JOBS_TIMER), _parse(checks.JOBS_SERVICE)["Service"]
    every = re.fullmatch(r"(\d+)min", timer["Timer"]["OnUnitInactiveSec"])
    assert every is not None
    assert timedelta(minutes=int(every.group(1))) == min(scheduled(Path(command.__file__).parents[1] / "functions").values())
    assert timer["Timer"]["Unit"] == checks.JOBS_SERVICE.name and timer["Install"]["WantedBy"] == "timers.target"
    assert service["Type"] == "oneshot"
    assert service["EnvironmentFile"] == _unit()["Service"]["EnvironmentFile"]  # lending@N's settings
    argv = service["ExecStart"].split()
    assert argv[:2] == ["/usr/bin/podman", "run"] and "--env-file" in argv
    assert argv[argv.index("--env-file") + 1] == service["EnvironmentFile"]
    image = argv.index("${LENDING_IMAGE}")
    assert argv[image - 2:image] == ["--entrypoint", command.JOBS[0]] and argv[image + 1:] == command.JOBS[1:]
    assert "\nCOPY ops/ ops/\n" in checks.DOCKERFILE.read_text()  # the image has the runner
    estate = (Path(command.__file__).parents[1] / "infra" / "estate.yaml").read_text()
    assert estate.count("systemctl enable --now lending-jobs.timer") == 2  # on each VM
    assert estate.count("/var/task/vm_runtime/deploy/systemd/lending-jobs.timer") == 2
