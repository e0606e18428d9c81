"""Our own template checks pass on the real templates and fail on deliberately broken copies."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra import checks

ROOT = Path(__file__).resolve().parents[2]
ESTATE = ROOT / "infra" / "estate.yaml"


def test_every_template_in_infra_passes_our_checks() -> None:
    templates = sorted((ROOT / "infra").glob("*.yaml"))
    assert ESTATE in templates
    for path in templates:
        assert checks.check(checks.load(path)) == [], path


def _open_database_to_world(t: dict[str, Any]) -> None:
    t["Resources"]["DatabaseSecurityGroup"]["Properties"]["SecurityGroupIngress"] = [
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "CidrIp": "0.0.0.0/0"}]


def _open_vm_port_from_parameter(t: dict[str, Any]) -> None:
    rule = t["Resources"]["VmIngressFromLoadBalancer"]["Properties"]
    del rule["SourceSecurityGroupId"]
    rule["CidrIp"] = {"Ref": "AllowedCidr"}


def _open_ssh_on_load_balancer(t: dict[str, Any]) -> None:
    t["Resources"]["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupIngress"].append(
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"})


def _literal_master_password(t: dict[str, Any]) -> None:
    t["Resources"]["Database"]["Properties"]["MasterUserPassword"] = "correct-horse-battery"


def _stripe_key_in_user_data(t: dict[str, Any]) -> None:
    t["Resources"]["BlueVm"]["Properties"]["UserData"]["Fn::Base64"]["Fn::Sub"][0] += (
        "echo STRIPE_API_KEY=sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc" + " >> /etc/lending/lending.env\n")


def _secret_parameter_with_default(t: dict[str, Any]) -> None:
    t["Parameters"]["StripeApiKey"] = {"Type": "String", "Default": "changeme"}


def _output_resolves_secret(t: dict[str, Any]) -> None:
    t["Outputs"]["DatabasePassword"] = {
        "Value": {"Fn::Sub": "{{resolve:secretsmanager:${DatabaseSecret}:SecretString:password}}"}}


def _public_database(t: dict[str, Any]) -> None:
    t["Resources"]["Database"]["Properties"]["PubliclyAccessible"] = True


def _replica_without_explicit_privacy(t: dict[str, Any]) -> None:
    del t["Resources"]["DatabaseReplica"]["Properties"]["PubliclyAccessible"]


def _unencrypted_database(t: dict[str, Any]) -> None:
    t["Resources"]["Database"]["Properties"]["StorageEncrypted"] = False


def _no_production_certificate_rule(t: dict[str, Any]) -> None:
    del t["Rules"]["ProductionServesHttps"]


def _production_rule_on_another_parameter(t: dict[str, Any]) -> None:
    t["Rules"]["ProductionServesHttps"]["Assertions"][0]["Assert"] = {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "OidcIssuer"}, ""]}]}


def _no_hsts(t: dict[str, Any]) -> None:
    del t["Resources"]["HttpsListener"]["Properties"]["ListenerAttributes"]


def _short_hsts(t: dict[str, Any]) -> None:
    t["Resources"]["HttpsListener"]["Properties"]["ListenerAttributes"][0]["Value"] = "max-age=300"


def _http_forwards_even_with_a_certificate(t: dict[str, Any]) -> None:
    listener = t["Resources"]["HttpListener"]["Properties"]
    listener["DefaultActions"] = [listener["DefaultActions"][0]["Fn::If"][2]]


def _no_https_listener(t: dict[str, Any]) -> None:
    del t["Resources"]["HttpsListener"]


def _app_connects_as_master(t: dict[str, Any]) -> None:
    t["Resources"]["BlueVm"]["Properties"]["UserData"]["Fn::Base64"]["Fn::Sub"][1]["DatabaseAppSecretRef"] = {
        "Ref": "DatabaseSecret"}


def _app_secret_names_the_master_user(t: dict[str, Any]) -> None:
    t["Resources"]["DatabaseAppSecret"]["Properties"]["GenerateSecretString"]["SecretStringTemplate"] = \
        '{"username": "lending", "dbname": "lending"}'


BREAKAGES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "database open to the world": (_open_database_to_world, "DatabaseSecurityGroup is open to the world (0.0.0.0/0)"),
    "VM port from a parameter CIDR": (_open_vm_port_from_parameter, "VmSecurityGroup is open to the world (parameter"),
    "ssh on the load balancer": (_open_ssh_on_load_balancer, "on ports other than 80/443"),
    "literal master password": (_literal_master_password, "MasterUserPassword holds a literal value"),
    "stripe key in user data": (_stripe_key_in_user_data, "BlueVm/Properties/UserData/Fn::Base64/Fn::Sub/0: looks like"),
    "secret parameter with default": (_secret_parameter_with_default, "StripeApiKey: a secret parameter must be NoEcho"),
    "output resolves a secret": (_output_resolves_secret, "Outputs/DatabasePassword/Value/Fn::Sub: an output must not"),
    "public database": (_public_database, "Resources/Database: PubliclyAccessible must be stated false"),
    "replica privacy left implicit": (_replica_without_explicit_privacy, "DatabaseReplica: PubliclyAccessible must be"),
    "unencrypted database": (_unencrypted_database, "Resources/Database: StorageEncrypted must be true"),
    "production without a certificate rule": (_no_production_certificate_rule,
                                              "Rules: no rule refuses production without CertificateArn"),
    "production rule on another parameter": (_production_rule_on_another_parameter,
                                             "Rules: no rule refuses production without CertificateArn"),
    "no HSTS": (_no_hsts, "Resources/HttpsListener: the HTTPS listener must send HSTS"),
    "HSTS for five minutes": (_short_hsts, "Resources/HttpsListener: the HTTPS listener must send HSTS"),
    "HTTP forwards even with a certificate": (_http_forwards_even_with_a_certificate,
                                              "Resources/HttpListener: plain HTTP must redirect to HTTPS"),
    "no HTTPS listener": (_no_https_listener, "Resources: the load balancer has no HTTPS listener"),
    "app connects as the master": (_app_connects_as_master,
                                   "Resources/BlueVm: the app connects with Database's master secret (DatabaseSecret)"),
    "app secret names the master user": (_app_secret_names_the_master_user,
                                         "Resources/DatabaseAppSecret: the app's secret must name its own user"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_deliberately_broken_copy_fails_the_checks(breakage: str, tmp_path: Path) -> None:
    mutate, expected = BREAKAGES[breakage]
    template = copy.deepcopy(checks.load(ESTATE))
    mutate(template)
    broken = tmp_path / "estate-broken.json"
    broken.write_text(json.dumps(template, indent=1))
    run = subprocess.run([sys.executable, "-m", "infra.checks", str(broken)], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 1, run.stdout + run.stderr
    assert expected in run.stdout, run.stdout
    assert "correct-horse-battery" not in run.stdout and "4eC39HqLyjWDarjtT1zdp7dc" not in run.stdout
