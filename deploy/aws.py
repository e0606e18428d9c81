"""The AWS driver: the estate of infra/estate.yaml, found from its stack's outputs.

- live colour: the ELBv2 listener's forward action (ListenerArn output), switched with
  modify_listener; nothing is read from a local file;
- lock and audit: the SSM parameter /<env>/lending/deploy-lock and the CloudWatch Logs group
  /<env>/lending/deploys (deploy/aws_records.py);
- artefact: the image <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<version> (CI pushed it);
- on the VMs (private, no SSH): SSM Run Command (AWS-RunShellScript) runs the migration inside
  the new image (as the schema owner, from /etc/lending/migrate.env; it also keeps the app's
  DML-only role), rewrites LENDING_IMAGE in /etc/lending/lending.env and restarts lending@1 then
  lending@2, and probes nginx (:8080) and each instance (127.0.0.1:800N) with curl on the VM;
- the load balancer is probed as clients see it, on its DNS name.
"""

from __future__ import annotations

import json
import shlex
import time
import urllib.error
import urllib.request
from typing import Any

import boto3
from botocore.exceptions import ClientError

from deploy import migration
from deploy.aws_records import CloudWatchAudit, SsmParameterLock, error_code
from deploy.estate import Say
from deploy.model import Probe, StepFailed

COLORS = ("blue", "green")
VM_NGINX_PORT = 8080  # the port the target groups check and forward to (infra/estate.yaml)
ENV_FILE = "/etc/lending/lending.env"
MIGRATE_ENV_FILE = "/etc/lending/migrate.env"  # the schema owner's secret: for the migration step only
DONE = {"Success", "Failed", "Cancelled", "TimedOut", "Cancelling"}


class AwsEstate:
    instances = 2
    colors: tuple[str, str] = COLORS

    def __init__(self, outputs: dict[str, str], environment: str, image_repository: str,
                 session: boto3.session.Session | None = None) -> None:
        self.session = session or boto3.session.Session()
        self.elbv2 = self.session.client("elbv2")
        self.ssm = self.session.client("ssm")
        self.environment = environment
        self.listener = outputs["ListenerArn"]
        self.target_groups = {"blue": outputs["BlueTargetGroupArn"], "green": outputs["GreenTargetGroupArn"]}
        self.vms = {"blue": outputs["BlueInstanceId"], "green": outputs["GreenInstanceId"]}
        self.dns = outputs.get("LoadBalancerDnsName", "")
        self.image_repository = image_repository
        self.scheme = ""
        self.lock = SsmParameterLock(self.ssm, f"/{environment}/lending/deploy-lock")
        self.audit = CloudWatchAudit(self.session.client("logs"), f"/{environment}/lending/deploys")

    @classmethod
    def from_stack(cls, stack: str, image_repository: str = "library-lending",
                   session: boto3.session.Session | None = None) -> AwsEstate:
        session = session or boto3.session.Session()
        description = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
        params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in description.get("Parameters", [])}
        environment = params.get("EnvironmentName") or stack
        if environment == "production" and not params.get("CertificateArn"):
            raise SystemExit(f"refusing to deploy to {stack}: a production estate without CertificateArn serves plain "
                             "HTTP; update the stack with a certificate first (make infra-deploy ... CertificateArn=...)")
        return cls(outputs, environment, params.get("ImageRepository") or image_repository,
                   session)

    # -- the load balancer ----------------------------------------------------------------------------
    def _listener(self) -> dict[str, Any]:
        return dict(self.elbv2.describe_listeners(ListenerArns=[self.listener])["Listeners"][0])

    def live_color(self) -> str:
        forwards = [a for a in self._listener()["DefaultActions"] if a["Type"] == "forward"]
        if not forwards:
            raise StepFailed(f"listener {self.listener} does not forward (a redirect listener? use the HTTPS one)")
        action = forwards[0]
        groups = [g["TargetGroupArn"] for g in action.get("ForwardConfig", {}).get("TargetGroups", [])
                  if g.get("Weight", 1) > 0] or [action["TargetGroupArn"]]
        if len(set(groups)) != 1:
            raise StepFailed(f"the listener splits traffic between {groups}: settle it before deploying")
        by_arn = {arn: color for color, arn in self.target_groups.items()}
        return str(by_arn.get(groups[0], groups[0]))

    def switch_to(self, color: str) -> None:
        target = self.target_groups[color]
        self.elbv2.modify_listener(ListenerArn=self.listener,
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": target}])
        if self.live_color() != color:
            raise StepFailed(f"the listener does not forward to {color} after modify_listener")

    def lb_probe(self, path: str) -> Probe:
        if not self.scheme:
            self.scheme = "https" if self._listener().get("Protocol") == "HTTPS" else "http"
        scheme = self.scheme
        try:
            with urllib.request.urlopen(f"{scheme}://{self.dns}{path}", timeout=5) as response:  # noqa: S310
                return Probe(response.status, response.read().decode(errors="replace"))
        except urllib.error.HTTPError as error:
            return Probe(error.code, error.read().decode(errors="replace"))
        except OSError as error:
            return Probe(0, f"no answer: {error}")

    # -- the artefact -----------------------------------------------------------------------------------
    def prepare(self, version: str, source: object = None) -> str:
        account = self.session.client("sts").get_caller_identity()["Account"]
        registry = f"{account}.dkr.ecr.{self.session.region_name}.amazonaws.com"
        try:
            self.session.client("ecr").describe_images(repositoryName=self.image_repository,
                                                       imageIds=[{"imageTag": version}])
        except ClientError as error:
            raise StepFailed(f"no image {self.image_repository}:{version} in ECR ({error_code(error)}): "
                             "build and push it first (make image; CI does it on every push)") from None
        return f"{registry}/{self.image_repository}:{version}"

    # -- on the VMs, through SSM Run Command ------------------------------------------------------------------
    @staticmethod
    def script(commands: list[str]) -> list[str]:
        """One bash script (the agent runs RunShellScript's lines with sh, which lacks pipefail)."""
        return ["bash -c " + shlex.quote("\n".join(["set -euo pipefail", *commands]))]

    def run(self, color: str, commands: list[str], timeout: int = 600, comment: str = "lending deploy") -> tuple[int, str, str]:
        instance = self.vms[color]
        command = self.ssm.send_command(InstanceIds=[instance], DocumentName="AWS-RunShellScript", Comment=comment[:100],
                                        Parameters={"commands": self.script(commands), "executionTimeout": [str(timeout)]},
                                        TimeoutSeconds=max(30, timeout))["Command"]["CommandId"]
        deadline = time.monotonic() + timeout + 60
        while True:
            try:
                result = self.ssm.get_command_invocation(CommandId=command, InstanceId=instance)
            except ClientError as error:
                if error_code(error) != "InvocationDoesNotExist":
                    raise
                result = {"Status": "Pending"}
            if result["Status"] in DONE:
                return (int(result.get("ResponseCode", -1)), str(result.get("StandardOutputContent", "")),
                        str(result.get("StandardErrorContent", "")))
            if time.monotonic() > deadline:
                raise StepFailed(f"SSM command {command} on {color} ({instance}) still {result['Status']} after {timeout}s")
            time.sleep(1)

    def _login_and_pull(self, image: str) -> list[str]:
        registry = image.split("/", 1)[0]
        region = self.session.region_name
        return [f"aws ecr get-login-password --region {region} | podman login --username AWS --password-stdin {registry}",
                f"podman pull --quiet {shlex.quote(image)}"]

    def migrate(self, color: str, artefact: str) -> list[str]:
        # --entrypoint: the image's own is the app server; the migration program runs with the image's python.
        code, out, err = self.run(color, [*self._login_and_pull(artefact),
                                          f"podman run --rm --network host --env-file {ENV_FILE} "
                                          f"--env-file {MIGRATE_ENV_FILE} --entrypoint python "
                                          f"{shlex.quote(artefact)} -c {shlex.quote(migration.SCRIPT)}"],
                                  comment="lending migrate")
        lines = out.strip().splitlines()
        try:
            outcome = json.loads(lines[-1]) if lines else {}
        except ValueError:
            outcome = {}
        if outcome.get("refused"):
            raise StepFailed(migration.explain_refusal(list(outcome["refused"])))
        if code != 0:
            raise StepFailed(f"migrations failed on {color} (exit {code})", (out + err)[-2000:])
        return list(outcome.get("applied", []))

    def ship_commands(self, image: str, version: str) -> list[str]:
        restarts = []
        for index in range(1, self.instances + 1):
            restarts += [
                f"systemctl restart lending@{index}.service",
                f"for _ in $(seq 60); do curl -fsS -m 2 http://127.0.0.1:800{index}/health >/dev/null && break; sleep 1; done",
                f"curl -fsS -m 2 http://127.0.0.1:800{index}/health >/dev/null || "
                f"{{ journalctl -u lending@{index} -n 20 --no-pager; echo 'instance {index} did not start' >&2; "
                f"exit 1{index}; }}",
            ]
        return [*self._login_and_pull(image),
                f"sed -i 's#^LENDING_IMAGE=.*#LENDING_IMAGE={image}#' {ENV_FILE}",
                f"grep -q '^LENDING_IMAGE={image}$' {ENV_FILE}", *restarts, f"echo shipped {version}"]

    def ship(self, color: str, artefact: str, version: str, say: Say) -> None:
        say(f"{color} ({self.vms[color]}): SSM Run Command: pull {artefact}, restart lending@1 then lending@2")
        code, out, err = self.run(color, self.ship_commands(artefact, version), comment=f"lending ship {version}")
        if code != 0:
            index = code - 10 if code in (11, 12) else 1
            raise StepFailed(f"{color} instance {index} did not start (SSM exit {code}): {err.strip()[-300:]}",
                             out[-2000:])

    def _curl(self, color: str, port: int, path: str) -> Probe:
        url = shlex.quote(f"http://127.0.0.1:{port}{path}")
        code, out, _ = self.run(color, ["body=$(mktemp)", f"curl -s -m 3 -o \"$body\" -w '%{{http_code}}\\n' {url} || true",
                                        "cat \"$body\"; rm -f \"$body\""], timeout=60, comment="lending probe")
        status, _, body = out.partition("\n")
        return Probe(int(status) if status.strip().isdigit() else 0, body)

    def vm_probe(self, color: str, path: str) -> Probe:
        return self._curl(color, VM_NGINX_PORT, path)

    def instance_probe(self, color: str, index: int, path: str) -> Probe:
        return self._curl(color, 8000 + index, path)

    def instance_log(self, color: str, index: int, lines: int = 15) -> str:
        _, out, err = self.run(color, [f"journalctl -u lending@{index} -n {lines} --no-pager"], timeout=60,
                               comment="lending logs")
        return out or err
