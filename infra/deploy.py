"""Create or update a CloudFormation stack through a change set, show progress, print the outputs.

    python -m infra.deploy --stack NAME [--template infra/estate.yaml] [Key=Value ...]

Credentials and region come from the usual AWS chain (AWS_PROFILE, AWS_REGION, ...). With
AWS_ENDPOINT_URL set (e.g. http://127.0.0.1:5000, a moto server) every call goes there instead.
On update, parameters not given keep their previous values. The template's Rules (production needs
a certificate, ...) are checked here before anything is sent, so a refused stack is refused the
same way everywhere, moto included. Exit status 0 when the stack ends in CREATE_COMPLETE/
UPDATE_COMPLETE (or nothing changed), 1 otherwise (a broken rule included).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra import checks

DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
FAILED = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE",
          "UPDATE_ROLLBACK_FAILED", "DELETE_COMPLETE", "DELETE_FAILED", "UPDATE_FAILED"}
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


def say(message: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S} {message}", flush=True)


def stack_status(cf: Any, stack: str) -> dict[str, Any] | None:
    try:
        return dict(cf.describe_stacks(StackName=stack)["Stacks"][0])
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def parameters(given: dict[str, str], existing: dict[str, Any] | None, template_params: set[str]) -> list[dict[str, Any]]:
    unknown = set(given) - template_params
    if unknown:
        raise SystemExit(f"unknown parameter(s) for this template: {', '.join(sorted(unknown))}")
    result: list[dict[str, Any]] = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(given.items())]
    if existing:
        for p in existing.get("Parameters", []):
            if p["ParameterKey"] not in given and p["ParameterKey"] in template_params:
                result.append({"ParameterKey": p["ParameterKey"], "UsePreviousValue": True})
    return result


# -- the template's Rules, checked here first (moto ignores them; AWS would refuse the change set) --
class _Unknown(Exception):
    """A rule uses something only CloudFormation can evaluate (a pseudo parameter, Fn::ValueOf, ...)."""


def _evaluate(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, (str, int, float, bool)):
        return str(node) if not isinstance(node, bool) else node
    if isinstance(node, list):
        return [_evaluate(item, values) for item in node]
    if isinstance(node, dict) and len(node) == 1:
        (name, arg), = node.items()
        if name == "Ref":
            if arg not in values:
                raise _Unknown(arg)
            return values[arg]
        args = _evaluate(arg, values)
        if name == "Fn::Equals":
            return args[0] == args[1]
        if name == "Fn::Not":
            return not args[0]
        if name == "Fn::And":
            return all(args)
        if name == "Fn::Or":
            return any(args)
        if name == "Fn::Contains":
            return args[1] in args[0]
    raise _Unknown(str(node)[:80])


def broken_rules(template: dict[str, Any], values: dict[str, str]) -> list[str]:
    """The AssertDescription of every rule assertion these parameter values fail."""
    broken = []
    for name, rule in (template.get("Rules") or {}).items():
        try:
            if "RuleCondition" in rule and not _evaluate(rule["RuleCondition"], values):
                continue
            for assertion in rule.get("Assertions", []):
                if not _evaluate(assertion["Assert"], values):
                    broken.append(f"{name}: {assertion.get('AssertDescription', 'assertion failed')}")
        except _Unknown as unknown:
            say(f"rule {name} is left to CloudFormation (it uses {unknown})")
    return broken


def parameter_values(template: dict[str, Any], given: dict[str, str], existing: dict[str, Any] | None) -> dict[str, str]:
    """What each parameter will be: given, else the stack's previous value, else the template's default."""
    values = {k: str(p["Default"]) for k, p in template.get("Parameters", {}).items() if "Default" in p}
    for p in (existing or {}).get("Parameters", []):
        if "ParameterValue" in p:
            values[p["ParameterKey"]] = str(p["ParameterValue"])
    return {**values, **given}


def wait_for_change_set(cf: Any, stack: str, name: str, poll: float, deadline: float) -> dict[str, Any]:
    while True:
        change_set = dict(cf.describe_change_set(StackName=stack, ChangeSetName=name))
        if change_set["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return change_set
        if time.monotonic() > deadline:
            raise SystemExit(f"change set {name} still {change_set['Status']} at the deadline")
        say(f"change set {change_set['Status']} ...")
        time.sleep(poll)


def follow(cf: Any, stack: str, since: datetime, poll: float, deadline: float) -> str:
    """Print the stack's events as they come until it reaches a final state; returns that state."""
    seen: set[str] = set()
    while True:
        events = cf.describe_stack_events(StackName=stack)["StackEvents"]
        for event in reversed(events):
            if event["EventId"] in seen or event["Timestamp"] < since:
                continue
            seen.add(event["EventId"])
            reason = f"  {event['ResourceStatusReason']}" if event.get("ResourceStatusReason") else ""
            say(f"{event['ResourceStatus']:<22} {event['ResourceType']:<45} {event['LogicalResourceId']}{reason}")
        status = (stack_status(cf, stack) or {}).get("StackStatus", "DELETE_COMPLETE")
        if status in DONE or status in FAILED:
            return str(status)
        if time.monotonic() > deadline:
            raise SystemExit(f"stack {stack} still {status} at the deadline")
        time.sleep(poll)


def print_outputs(cf: Any, stack: str) -> None:
    outputs = sorted((stack_status(cf, stack) or {}).get("Outputs", []), key=lambda o: o["OutputKey"])
    print(f"\nOutputs of {stack}:")
    width = max((len(o["OutputKey"]) for o in outputs), default=0)
    for o in outputs:
        print(f"  {o['OutputKey']:<{width}}  {o['OutputValue']}")


def deploy(stack: str, template: Path, given: dict[str, str], poll: float, timeout: float) -> int:
    # AWS_REGION (the name Lambda and the SDKs of other languages use) as well as AWS_DEFAULT_REGION.
    cf = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None).client("cloudformation")
    body = template.read_text()
    if len(body.encode()) > 51_200:
        raise SystemExit(f"{template} is over CloudFormation's 51,200-byte inline limit: upload it to S3 first")
    cf.validate_template(TemplateBody=body)
    loaded = checks.load(template)
    template_params = set(loaded.get("Parameters", {}))
    existing = stack_status(cf, stack)
    broken = broken_rules(loaded, parameter_values(loaded, given, existing))
    if broken:
        for line in broken:
            say(f"refused by the template's rule {line}")
        return 1
    if existing and existing["StackStatus"] == "ROLLBACK_COMPLETE":
        raise SystemExit(f"stack {stack} failed its creation (ROLLBACK_COMPLETE): delete it, then deploy again")
    kind = "UPDATE" if existing and existing["StackStatus"] != "REVIEW_IN_PROGRESS" else "CREATE"
    name = f"{stack}-{datetime.now(UTC):%Y%m%d%H%M%S}"
    deadline = time.monotonic() + timeout
    say(f"{kind.lower()} {stack} from {template} (change set {name})")
    try:
        cf.create_change_set(StackName=stack, ChangeSetName=name, ChangeSetType=kind, TemplateBody=body,
                             Parameters=parameters(given, existing, template_params), Capabilities=CAPABILITIES)
    except ClientError as exc:  # moto refuses an empty change set here; AWS marks it FAILED below
        if "No updates are to be performed" not in str(exc):
            raise
        say("no changes")
        print_outputs(cf, stack)
        return 0
    change_set = wait_for_change_set(cf, stack, name, poll, deadline)
    if change_set["Status"] == "FAILED":
        reason = change_set.get("StatusReason", "")
        if "didn't contain changes" in reason or "No updates" in reason:
            say("no changes")
            cf.delete_change_set(StackName=stack, ChangeSetName=name)
            print_outputs(cf, stack)
            return 0
        say(f"change set failed: {reason}")
        return 1
    for change in change_set.get("Changes", []):
        rc = change.get("ResourceChange", {})
        replace = f" (replacement: {rc['Replacement']})" if rc.get("Replacement") not in (None, "False") else ""
        say(f"  {rc.get('Action', '?'):<7} {rc.get('ResourceType', ''):<45} {rc.get('LogicalResourceId', '')}{replace}")
    started = datetime.now(UTC).replace(microsecond=0)
    cf.execute_change_set(StackName=stack, ChangeSetName=name)
    status = follow(cf, stack, started, poll, deadline)
    say(f"{stack}: {status}")
    if status not in DONE:
        return 1
    print_outputs(cf, stack)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--template", type=Path, default=Path(__file__).with_name("estate.yaml"))
    parser.add_argument("--poll", type=float, default=5.0, help="seconds between progress checks")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("params", nargs="*", metavar="Key=Value")
    args = parser.parse_args(argv)
    given = {}
    for item in args.params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"parameters are Key=Value, not {item!r}")
        given[key] = value
    try:
        return deploy(args.stack, args.template, given, args.poll, args.timeout)
    except (ClientError, BotoCoreError) as exc:
        print(f"deploy failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
