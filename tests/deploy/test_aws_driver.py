"""The AWS driver's control plane against moto, on the estate that infra/estate.yaml creates.

moto runs nothing on the VMs (SSM commands "succeed" without running) and marks every target
healthy: what the VMs do is shown on the local estate; here, that the driver reads the live
target group from the listener, switches it, and that the lock admits one holder.
"""

from __future__ import annotations

import json
import subprocess
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from moto import mock_aws

from deploy import gates
from deploy.aws import AwsEstate
from deploy.aws_records import SsmParameterLock
from deploy.model import AuditEntry, LockHeld, LockHolder, Probe, StepFailed
from dev.embedded import ROOT
from infra import local_aws
from tests.deploy.lease_cases import MovedClock, a_renewed_lease_holds_and_an_expired_one_goes_to_exactly_one_taker

ESTATE = ROOT / "infra" / "estate.yaml"
REGION = "us-east-1"  # moto resolves the template's zones in us-east-1
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS::SecretsManager")


@pytest.fixture(scope="module")
def estate() -> Iterator[AwsEstate]:
    with mock_aws():
        local_aws.prepare(REGION)
        cf = boto3.client("cloudformation", region_name=REGION)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cf.create_stack(StackName="deploytest", TemplateBody=ESTATE.read_text(), Capabilities=["CAPABILITY_IAM"],
                            Parameters=[{"ParameterKey": "EnvironmentName", "ParameterValue": "deploytest"},
                                        {"ParameterKey": "AllowedCidr", "ParameterValue": "203.0.113.0/24"}])
            estate = AwsEstate.from_stack("deploytest", session=boto3.session.Session(region_name=REGION))
        yield estate


def test_the_deploy_refuses_a_production_estate_without_a_certificate(estate: AwsEstate) -> None:
    # moto ignores the template's Rules, as a stack made before them would: the deploy itself refuses.
    cf = boto3.client("cloudformation", region_name=REGION)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cf.create_stack(StackName="production", TemplateBody=ESTATE.read_text(), Capabilities=["CAPABILITY_IAM"],
                        Parameters=[{"ParameterKey": "EnvironmentName", "ParameterValue": "production"}])
    with pytest.raises(SystemExit, match="production estate without CertificateArn serves plain HTTP"):
        AwsEstate.from_stack("production", session=boto3.session.Session(region_name=REGION))


def forwarded_group(estate: AwsEstate) -> str:
    listener = boto3.client("elbv2", region_name=REGION).describe_listeners(ListenerArns=[estate.listener])
    return str(listener["Listeners"][0]["DefaultActions"][0]["TargetGroupArn"])


def test_finds_the_idle_target_group_from_the_listener_and_switches_it(estate: AwsEstate) -> None:
    assert estate.environment == "deploytest"
    assert forwarded_group(estate) == estate.target_groups["blue"]  # LiveColor's default
    assert gates.find_idle(estate) == ("blue", "green")
    estate.switch_to("green")
    assert forwarded_group(estate) == estate.target_groups["green"]  # as AWS itself now reports it
    assert gates.find_idle(estate) == ("green", "blue")
    estate.switch_to("blue")
    assert gates.find_idle(estate) == ("blue", "green")


def test_a_weighted_split_is_not_mistaken_for_a_colour(estate: AwsEstate) -> None:
    elbv2 = boto3.client("elbv2", region_name=REGION)
    elbv2.modify_listener(ListenerArn=estate.listener, DefaultActions=[{"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": arn, "Weight": 50} for arn in estate.target_groups.values()]}}])
    with pytest.raises(StepFailed, match="splits traffic"):
        estate.live_color()
    estate.switch_to("blue")
    assert estate.live_color() == "blue"


def test_the_lock_refuses_a_second_holder_and_names_the_first(estate: AwsEstate) -> None:
    first, second = LockHolder("ci@github", "abc123", "push to master"), LockHolder("dana@laptop", "def456", "hotfix")
    estate.lock.acquire(first)
    with pytest.raises(LockHeld) as refused:
        estate.lock.acquire(second)
    assert refused.value.holder == first
    assert "ci@github since" in str(refused.value) and "push to master" in str(refused.value)
    estate.lock.release(second)  # not the holder: nothing happens
    assert estate.lock.current() == first
    estate.lock.release(first)
    estate.lock.acquire(second)
    assert estate.lock.break_lock() == second and estate.lock.current() is None


def test_the_ssm_lock_lease_renewed_holds_and_once_expired_goes_to_exactly_one_taker(estate: AwsEstate) -> None:
    clock = MovedClock()
    lock = SsmParameterLock(estate.ssm, "/deploytest/lending/lease-lock", clock)
    a_renewed_lease_holds_and_an_expired_one_goes_to_exactly_one_taker(lock, clock)
    names = [p["Name"] for p in estate.ssm.describe_parameters()["Parameters"]]
    assert not [n for n in names if "takeover" in n]  # the take-over marker does not outlive the take-over


def test_audit_entries_go_to_cloudwatch_logs_in_order(estate: AwsEstate) -> None:
    for n in range(3):
        estate.audit.append(AuditEntry(f"2026-01-0{n + 1}T00:00:00Z", "ci", "deploy", f"v{n}", "blue", "green", "deployed"))
    assert [e.version for e in estate.audit.last(2)] == ["v1", "v2"]


def test_the_image_must_be_in_ecr_and_shipping_restarts_one_instance_at_a_time(estate: AwsEstate) -> None:
    with pytest.raises(StepFailed, match="no image library-lending:abc123 in ECR"):
        estate.prepare("abc123")
    ecr = boto3.client("ecr", region_name=REGION)
    ecr.create_repository(repositoryName="library-lending")
    ecr.put_image(repositoryName="library-lending", imageTag="abc123",
                  imageManifest='{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}')
    image = estate.prepare("abc123")
    assert image == "123456789012.dkr.ecr.us-east-1.amazonaws.com/library-lending:abc123"
    commands = estate.ship_commands(image, "abc123")
    restarts = [c for c in commands if c.startswith("systemctl restart")]
    assert restarts == ["systemctl restart lending@1.service", "systemctl restart lending@2.service"]
    assert commands.index(restarts[1]) > commands.index(next(c for c in commands if "127.0.0.1:8001/health" in c))
    said: list[str] = []
    estate.ship("green", image, "abc123", said.append)  # moto accepts the SSM command
    sent = boto3.client("ssm", region_name=REGION).list_commands(InstanceId=estate.vms["green"])["Commands"]
    assert sent[-1]["DocumentName"] == "AWS-RunShellScript"
    assert sent[-1]["Parameters"]["commands"] == estate.script(commands)  # one bash script, pipefail on
    assert subprocess.run(["bash", "-n"], input="\n".join(commands), text=True, check=False).returncode == 0


class _ShellHere(AwsEstate):
    """The driver with SSM's part played by bash on this machine: runs the very script it would send."""

    def run(self, color: str, commands: list[str], timeout: int = 600, comment: str = "") -> tuple[int, str, str]:
        done = subprocess.run(self.script(commands)[0], shell=True, capture_output=True, text=True, timeout=timeout,  # noqa: S602
                              check=False)
        return done.returncode, done.stdout, done.stderr


def test_the_probe_script_run_on_a_vm_reads_status_and_body(estate: AwsEstate) -> None:
    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            status = 200 if self.path == "/version" else 503
            body = json.dumps({"version": "abc123"} if status == 200 else {"title": "Service Unavailable"}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # moto re-reads the template: its Secrets Manager gap again
            here = _ShellHere.from_stack("deploytest", session=boto3.session.Session(region_name=REGION))
        port = server.server_address[1]
        assert here._curl("green", port, "/version") == Probe(200, '{"version": "abc123"}')
        assert here._curl("green", port, "/ready").status == 503
        server.shutdown()
        server.server_close()
        assert here._curl("green", port, "/version").status == 0  # nothing answers
    finally:
        server.server_close()
