"""Our own rules for every CloudFormation template, on top of cfn-lint.

    python -m infra.checks infra/*.yaml

1. No security group is open to the world except the load balancer's, and that one only on 80/443.
   A CIDR taken from a parameter counts as open to the world (its value is not known here).
2. No plaintext secret: a secret-looking property or parameter holds no literal value (only
   `{{resolve:secretsmanager:…}}`/`{{resolve:ssm-secure:…}}` or a reference), no string anywhere
   looks like a key (Stripe, webhook, AWS, private key, URL with a password), secret parameters are
   NoEcho without a default, and no output hands out a secret value.
3. No database is publicly accessible (PubliclyAccessible must be stated false); a primary is
   encrypted, has backups and deletion protection.
4. HTTPS: an application load balancer has an HTTPS listener that sends HSTS (max-age of a year or
   more), its plain-HTTP listener redirects to HTTPS, and a Rule refuses the stack when
   EnvironmentName is production and the certificate parameter is empty.
5, 6. Per-function roles and the app's own database role: see infra/least_privilege.py.

Exit status 1 with one line per finding; 0 when every template is clean.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

from infra import least_privilege

WORLD = {"0.0.0.0/0", "::/0"}
LOAD_BALANCER_PORTS = {80, 443}
SECRET_KEY = re.compile(r"password|secret|token|api_?key|private_?key|credential", re.IGNORECASE)
# Names that point at a secret rather than hold one.
REFERENCE_KEY = re.compile(
    r"(_ARN|_NAME|_PARAMETER|_ID|Arn|Name|Id|Parameter|Template|Characters|GenerateStringKey|GenerateSecretString"
    r"|ManageMasterUserPassword|PasswordLength|RequireEachIncludedType|ExcludePunctuation|ExcludeLowercase"
    r"|ExcludeUppercase|ExcludeNumbers|IncludeSpace|Description|HttpTokens)$")
DYNAMIC_SECRET = re.compile(r"^\{\{resolve:(secretsmanager|ssm-secure):[^}]+\}\}$")
SECRET_VALUE = re.compile(
    r"sk_(live|test)_[0-9A-Za-z]{8,}|rk_live_[0-9A-Za-z]{8,}|whsec_[0-9A-Za-z]{8,}|AKIA[0-9A-Z]{16}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----|postgres(ql)?://[^:/@\s]+:[^@\s{$]+@")
INTRINSICS = {"Ref", "Fn::GetAtt", "Fn::Sub", "Fn::If", "Fn::Join", "Fn::ImportValue", "Fn::Select",
              "Fn::FindInMap", "Fn::Base64"}


def load(path: Path) -> dict[str, Any]:
    template, matches = decode(str(path))
    if template is None:
        raise SystemExit(f"{path}: cannot parse: {'; '.join(str(m) for m in matches)}")
    return dict(template)


def check(template: dict[str, Any]) -> list[str]:
    return [*open_to_world(template), *plaintext_secrets(template), *public_databases(template),
            *https_only(template), *least_privilege.per_function_roles(template),
            *least_privilege.app_is_not_master(template)]


# -- 1. security groups ----------------------------------------------------------------------
def _ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def _load_balancer_groups(resources: dict[str, Any]) -> set[str]:
    groups: set[str] = set()
    for res in resources.values():
        if res.get("Type") == "AWS::ElasticLoadBalancingV2::LoadBalancer":
            for sg in res.get("Properties", {}).get("SecurityGroups", []):
                if _ref(sg):
                    groups.add(str(_ref(sg)))
    return groups


def _ingress_rules(resources: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, group logical id, rule) for inline and stand-alone ingress rules."""
    for name, res in resources.items():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::EC2::SecurityGroup":
            for i, rule in enumerate(props.get("SecurityGroupIngress", []) or []):
                yield f"Resources/{name}/SecurityGroupIngress/{i}", name, rule
        elif res.get("Type") == "AWS::EC2::SecurityGroupIngress":
            yield f"Resources/{name}", str(_ref(props.get("GroupId")) or props.get("GroupId")), props


def _world_source(rule: dict[str, Any], parameters: dict[str, Any]) -> str | None:
    for key in ("CidrIp", "CidrIpv6"):
        value = rule.get(key)
        if isinstance(value, str) and value in WORLD:
            return value
        param = _ref(value)
        if param and param in parameters:
            return f"parameter {param} (default {parameters[param].get('Default', 'none')})"
    return None


def _ports(rule: dict[str, Any]) -> set[int] | None:
    """The ports a rule opens, or None for 'all' (protocol -1 or an unresolvable range)."""
    if str(rule.get("IpProtocol")) in ("-1", "all"):
        return None
    low, high = rule.get("FromPort"), rule.get("ToPort")
    if not isinstance(low, int) or not isinstance(high, int) or high - low > 1024:
        return None
    return set(range(low, high + 1))


def open_to_world(template: dict[str, Any]) -> list[str]:
    resources = template.get("Resources", {})
    parameters = template.get("Parameters", {})
    balancer_groups = _load_balancer_groups(resources)
    found = []
    for where, group, rule in _ingress_rules(resources):
        source = _world_source(rule, parameters)
        if source is None:
            continue
        ports = _ports(rule)
        if group not in balancer_groups:
            found.append(f"{where}: security group {group} is open to the world ({source}); "
                         f"only the load balancer's group may be")
        elif ports is None or not ports <= LOAD_BALANCER_PORTS:
            found.append(f"{where}: the load balancer's group {group} is open to the world ({source}) "
                         f"on ports other than 80/443")
    return found


# -- 2. secrets --------------------------------------------------------------------------------
def _walk(node: Any, path: str) -> Iterator[tuple[str, str | None, Any]]:
    """(path, key, value) of every value under node; key is the mapping key it sits under."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}/{key}", str(key), value
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield f"{path}/{i}", None, value
            yield from _walk(value, f"{path}/{i}")


def _is_secret_key(key: str | None) -> bool:
    return bool(key) and bool(SECRET_KEY.search(str(key))) and not REFERENCE_KEY.search(str(key))


def plaintext_secrets(template: dict[str, Any]) -> list[str]:
    found = []
    parameters = template.get("Parameters", {})
    secret_params = set()
    for name, param in parameters.items():
        if _is_secret_key(name):
            secret_params.add(name)
            if not param.get("NoEcho"):
                found.append(f"Parameters/{name}: a secret parameter must be NoEcho")
            if "Default" in param:
                found.append(f"Parameters/{name}: a secret parameter must not have a default")
    for section in ("Resources", "Parameters", "Outputs", "Mappings"):
        for path, key, value in _walk(template.get(section, {}), section):
            if isinstance(value, str):
                if SECRET_VALUE.search(value):
                    found.append(f"{path}: looks like a plaintext secret")
                elif section == "Resources" and _is_secret_key(key) and not DYNAMIC_SECRET.match(value):
                    found.append(f"{path}: secret property {key} holds a literal value; "
                                 f"use a {{{{resolve:secretsmanager:...}}}} reference")
                elif section == "Outputs" and "{{resolve:" in value:
                    found.append(f"{path}: an output must not resolve a secret")
    for name, output in template.get("Outputs", {}).items():
        for _, key, value in _walk(output, f"Outputs/{name}"):
            if key == "Ref" and value in secret_params:
                found.append(f"Outputs/{name}: hands out the secret parameter {value}")
            if key == "Fn::GetAtt" and isinstance(value, list) and "SecretString" in str(value):
                found.append(f"Outputs/{name}: hands out a secret's value")
    return found


# -- 3. databases -------------------------------------------------------------------------------
def public_databases(template: dict[str, Any]) -> list[str]:
    found = []
    for name, res in template.get("Resources", {}).items():
        if res.get("Type") != "AWS::RDS::DBInstance":
            continue
        props = res.get("Properties", {})
        if str(props.get("PubliclyAccessible")).lower() != "false":
            found.append(f"Resources/{name}: PubliclyAccessible must be stated false")
        if "SourceDBInstanceIdentifier" in props:
            continue  # a replica inherits encryption and backups from its source
        if str(props.get("StorageEncrypted")).lower() != "true":
            found.append(f"Resources/{name}: StorageEncrypted must be true")
        if str(props.get("DeletionProtection")).lower() != "true":
            found.append(f"Resources/{name}: DeletionProtection must be true")
        backups = props.get("BackupRetentionPeriod")
        if not isinstance(backups, int) or backups < 1:
            found.append(f"Resources/{name}: BackupRetentionPeriod must be at least 1 day")
    return found


# -- 4. HTTPS ----------------------------------------------------------------------------------
HSTS = "routing.http.response.strict_transport_security.header_value"
YEAR = 31_536_000


def _redirects_to_https(actions: Any) -> bool:
    return any(key == "RedirectConfig" and isinstance(value, dict) and value.get("Protocol") == "HTTPS"
               for _, key, value in _walk(actions, ""))


def _production_requires(template: dict[str, Any], parameter: str) -> bool:
    """A Rule whose condition is EnvironmentName == production asserts that `parameter` is not empty."""
    not_empty = [{"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]},
                 {"Fn::Not": [{"Fn::Equals": ["", {"Ref": parameter}]}]}]
    for rule in (template.get("Rules") or {}).values():
        condition = rule.get("RuleCondition")
        equals = condition.get("Fn::Equals") if isinstance(condition, dict) else None
        if not (isinstance(equals, list) and "production" in equals and {"Ref": "EnvironmentName"} in equals):
            continue
        if any(a.get("Assert") in not_empty for a in rule.get("Assertions", []) if isinstance(a, dict)):
            return True
    return False


def https_only(template: dict[str, Any]) -> list[str]:
    resources = template.get("Resources", {})
    if not any(r.get("Type") == "AWS::ElasticLoadBalancingV2::LoadBalancer"
               and r.get("Properties", {}).get("Type", "application") == "application" for r in resources.values()):
        return []
    listeners = {n: r.get("Properties", {}) for n, r in resources.items()
                 if r.get("Type") == "AWS::ElasticLoadBalancingV2::Listener"}
    https = {n: p for n, p in listeners.items() if p.get("Protocol") == "HTTPS"}
    found = [] if https else ["Resources: the load balancer has no HTTPS listener"]
    for name, props in https.items():
        attributes = {a.get("Key"): str(a.get("Value")) for a in props.get("ListenerAttributes") or []
                      if isinstance(a, dict)}
        age = re.match(r"max-age=(\d+)", attributes.get(HSTS, ""))
        if not age or int(age.group(1)) < YEAR:
            found.append(f"Resources/{name}: the HTTPS listener must send HSTS ({HSTS}: max-age={YEAR} or more)")
        for cert in props.get("Certificates") or []:
            param = _ref(cert.get("CertificateArn")) if isinstance(cert, dict) else None
            if param in template.get("Parameters", {}) and not _production_requires(template, str(param)):
                found.append(f"Rules: no rule refuses production without {param} "
                             "(RuleCondition EnvironmentName == production, Assert the certificate is not empty)")
    for name, props in listeners.items():
        if props.get("Protocol") == "HTTP" and not _redirects_to_https(props.get("DefaultActions")):
            found.append(f"Resources/{name}: plain HTTP must redirect to HTTPS (when there is a certificate)")
    return found


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(Path(__file__).parent.glob("*.yaml"))
    failed = 0
    for path in paths:
        findings = check(load(path))
        for finding in findings:
            print(f"{path}: {finding}")
        failed += len(findings)
    if failed:
        print(f"infra checks: {failed} finding(s)", file=sys.stderr)
        return 1
    print(f"infra checks: {len(paths)} template(s) clean")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
