"""`make infra-deploy` from a new user's shell, against a local moto server, creates the stack and prints its outputs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.infra.conftest import aws_env

ROOT = Path(__file__).resolve().parents[2]


def new_users_shell(endpoint: str, home: Path) -> dict[str, str]:
    """Nothing from our environment but PATH: no profile, no credentials file, only what the README says to set."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), **aws_env(endpoint)}


def test_infra_deploy_creates_through_a_change_set_and_prints_outputs(local_aws: str, tmp_path: Path) -> None:
    env = new_users_shell(local_aws, tmp_path)
    run = subprocess.run(["make", "--no-print-directory", "infra-deploy", "STACK=cli-demo", "PARAMS=EnvironmentName=clidemo AllowedCidr=203.0.113.0/24"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "create cli-demo from infra/estate.yaml (change set cli-demo-" in out
    assert "Add     AWS::RDS::DBInstance" in out and "DatabaseReplica" in out  # the change set's contents
    assert "CREATE_COMPLETE" in out and "cli-demo: CREATE_COMPLETE" in out  # progress while waiting
    outputs = dict(line.split(None, 1) for line in out.split("Outputs of cli-demo:\n")[1].strip().splitlines())
    assert outputs["LoadBalancerDnsName"].startswith("clidemo-lending-")
    for key in ("ListenerArn", "BlueTargetGroupArn", "GreenTargetGroupArn", "BlueInstanceId", "GreenInstanceId",
                "DatabaseEndpoint", "DatabaseReplicaEndpoint", "StripeApiKeySecretArn", "StripeWebhookSecretArn"):
        assert outputs[key], key
    assert outputs["BlueTargetGroupArn"].split(":targetgroup/")[1].startswith("clidemo-blue/")

    again = subprocess.run(["make", "--no-print-directory", "infra-deploy", "STACK=cli-demo"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "update cli-demo" in again.stdout and "no changes" in again.stdout
    assert f"LoadBalancerDnsName      {outputs['LoadBalancerDnsName']}" in again.stdout


def test_infra_deploy_without_a_stack_name_explains_itself(tmp_path: Path) -> None:
    run = subprocess.run(["make", "--no-print-directory", "infra-deploy"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert run.returncode != 0 and "usage: make infra-deploy STACK=name" in run.stderr


def _stacks(endpoint: str) -> list[str]:
    import boto3

    cf = boto3.session.Session(region_name="us-east-1", aws_access_key_id="testing",
                               aws_secret_access_key="testing").client("cloudformation", endpoint_url=endpoint)
    return [s["StackName"] for s in cf.list_stacks()["StackSummaries"]]


def test_production_without_a_certificate_and_plain_http_to_the_world_are_refused(local_aws: str, tmp_path: Path) -> None:
    env = new_users_shell(local_aws, tmp_path)
    cases = {
        "prod-nocert": ("EnvironmentName=production AllowedCidr=203.0.113.0/24",
                        "ProductionServesHttps: Production serves HTTPS only: give CertificateArn"),
        "world-http": ("EnvironmentName=worldhttp", "NoPlainHttpToTheWorld: Without CertificateArn the load balancer"),
    }
    for stack, (params, refusal) in cases.items():
        run = subprocess.run(["make", "--no-print-directory", "infra-deploy", f"STACK={stack}", f"PARAMS={params}"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode != 0, run.stdout + run.stderr
        assert f"refused by the template's rule {refusal}" in run.stdout, run.stdout
        assert stack not in _stacks(local_aws)  # refused before anything was sent
