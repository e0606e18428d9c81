"""Lambda packages: one zip per function, one zip per layer, and the template that wires them.

    python -m infra.package [--out build] [--skip-dependencies]     (make package)
    python -m infra.package --template-only                          (before make infra-lint lints it)

Needs no AWS account. Each function zip holds `functions/<op>/` and the small start-up adapter
`lending_aws` (its `entry.handle` is every function's Lambda handler; it reads the settings held in AWS at init; it
is bundled rather than a sixth layer because Lambda allows five and borrow/purchase use five; its
boto3 is the one Lambda's Python runtime provides). Each layer zip has Lambda's layout
(`python/<package>/…`) plus that layer's requirements, installed from PyPI for Lambda's platform
(manylinux2014 x86_64, CPython 3.11) and cached under build/.deps/. `infra/generated/lambda.yaml`
is generated (never committed, so it cannot drift) from functions/*/function.json: one function
per operation attached to exactly its declared layers, API Gateway (HTTP API, payload 1.0 = the
proxy event our handlers take) routes, and a schedule for functions that declare one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import yaml

from infra import lambda_access
from lending_http.routes import Function
from lending_http.routes import functions as read_functions

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "generated" / "lambda.yaml"
START_UP = ROOT / "layers" / "aws" / "python" / "lending_aws"  # bundled into every function
CERTS = ROOT / "infra" / "certs"  # the RDS CA bundle (committed by hand: docs/infrastructure.md), in the database layer
MAX_LAYERS = 5  # Lambda's limit per function
RUNTIME = "python3.11"
PLATFORM = ["--platform", "manylinux2014_x86_64", "--python-version", "3.11", "--implementation", "cp",
            "--only-binary=:all:"]
PROVIDED_BY_RUNTIME = {"boto3", "botocore"}
# Layers come before the runtime's own packages on sys.path, so nothing in them may break the
# runtime's boto3: its botocore needs python-dateutil < 3 (pg8000 alone would take 4.x).
CONSTRAINTS = ["python-dateutil<3"]
ENTRY = "lending_aws.entry.handle"  # a module under version control (layers/aws/python/lending_aws/entry.py)


def camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)


def logical(fn: Function) -> str:
    return camel(fn.name)


def functions() -> list[Function]:
    found = list(read_functions(ROOT / "functions"))
    for fn in found:
        if len(fn.layers) > MAX_LAYERS:
            raise SystemExit(f"functions/{fn.name}: Lambda allows at most {MAX_LAYERS} layers per function")
    return found


def layer_names() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "layers").glob("*/python"))


# -- zips ----------------------------------------------------------------------------------------
def _add_tree(archive: zipfile.ZipFile, source: Path, prefix: str) -> None:
    for path in sorted(source.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        info = zipfile.ZipInfo(f"{prefix}/{path.relative_to(source).as_posix()}", date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, path.read_bytes())


def _add_text(archive: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)


def layer_requirements(layer: str) -> list[str]:
    """The layer's requirement lines that must be installed into it (runtime-provided ones left out)."""
    lines = []
    for line in (ROOT / "layers" / layer / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name = re.split(r"[\[<>=!~; ]", line, maxsplit=1)[0].lower()
        if name not in PROVIDED_BY_RUNTIME:
            lines.append(line)
    return lines


def dependencies(layer: str, cache: Path) -> Path | None:
    """Directory holding the layer's requirements installed for Lambda, built once per requirement set."""
    wanted = layer_requirements(layer)
    if not wanted:
        return None
    key = hashlib.sha256(json.dumps([wanted, CONSTRAINTS, PLATFORM]).encode()).hexdigest()[:16]
    target = cache / f"{layer}-{key}"
    if (target / ".complete").exists():
        return target
    for stale in cache.glob(f"{layer}-*"):  # an older requirement set of this layer
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as reqs, \
            tempfile.NamedTemporaryFile("w", suffix=".txt") as constraints:
        reqs.write("\n".join(wanted) + "\n")
        reqs.flush()
        constraints.write("\n".join(CONSTRAINTS) + "\n")
        constraints.flush()
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-compile", "--target", str(target), *PLATFORM, "-r", reqs.name, "-c", constraints.name],
                       check=True)
    for junk in target.glob("bin"):
        shutil.rmtree(junk)
    (target / ".complete").touch()
    return target


def build_layer(layer: str, out: Path, cache: Path, with_dependencies: bool) -> Path:
    path = out / "layers" / f"{layer}.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        _add_tree(archive, ROOT / "layers" / layer / "python", "python")
        if layer == "database":  # Lambda extracts it to /opt/python/lending_postgres/certs: DATABASE_SSLROOTCERT
            _add_tree(archive, CERTS, "python/lending_postgres/certs")
        deps = dependencies(layer, cache) if with_dependencies else None
        if deps is not None:
            _add_tree(archive, deps, "python")
    return path


def build_function(fn: Function, out: Path) -> Path:
    path = out / "functions" / f"{fn.name}.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        _add_text(archive, "functions/__init__.py", (ROOT / "functions" / "__init__.py").read_text())
        _add_tree(archive, ROOT / "functions" / fn.name, f"functions/{fn.name}")
        _add_tree(archive, START_UP, START_UP.name)
    return path


def unzipped_size(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(i.file_size for i in archive.infolist())


# -- template ------------------------------------------------------------------------------------
def sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def template() -> dict[str, Any]:
    fns = functions()
    used = sorted({layer for fn in fns for layer in fn.layers})
    parameters: dict[str, Any] = {
        "EnvironmentName": {"Type": "String", "Default": "staging", "AllowedPattern": "^[a-z][a-z0-9-]{1,19}$",
                            "Description": "Short lower-case name used in resource names"},
        "ArtifactBucket": {"Type": "String", "Description": "S3 bucket holding the contents of build/ (make package)"},
        "ArtifactPrefix": {"Type": "String", "Default": "lending/dev",
                           "Description": "Key prefix of build/ in the bucket (one per build, e.g. the git sha)"},
        "VpcId": {"Type": "AWS::EC2::VPC::Id", "Description": "VPC of the database (estate stack)"},
        "PrivateSubnetIds": {"Type": "List<AWS::EC2::Subnet::Id>", "Description": "Private subnets for the functions"},
        "DatabaseSecurityGroupId": {"Type": "AWS::EC2::SecurityGroup::Id",
                                    "Description": "Database security group; the functions are admitted on 5432"},
        **lambda_access.parameters(),
        "OidcIssuer": {"Type": "String", "Description": "OIDC issuer URL (https)"},
        "OidcAudience": {"Type": "String", "Default": "library-lending", "Description": "Expected ID-token audience"},
    }
    resources: dict[str, Any] = {
        "FunctionSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "Lending functions - no ingress; out to the database, AWS APIs, Stripe, OIDC",
            "VpcId": ref("VpcId")}},
        "DatabaseIngressFromFunctions": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
            "GroupId": ref("DatabaseSecurityGroupId"), "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
            "SourceSecurityGroupId": ref("FunctionSecurityGroup"), "Description": "PostgreSQL from the functions"}},
        "FunctionLogGroup": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete",
                             "UpdateReplacePolicy": "Delete", "Properties": {
                                 "LogGroupName": sub("/lending/${EnvironmentName}/functions"), "RetentionInDays": 30}},
        "HttpApi": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {
            "Name": sub("${EnvironmentName}-lending"), "ProtocolType": "HTTP",
            "Description": "Library lending: one route per operation, each to its own function"}},
        "HttpApiStage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {
            "ApiId": ref("HttpApi"), "StageName": "$default", "AutoDeploy": True,
            "DefaultRouteSettings": {"ThrottlingBurstLimit": 200, "ThrottlingRateLimit": 100}}},
    }
    for layer in used:
        resources[f"{camel(layer)}Layer"] = {"Type": "AWS::Lambda::LayerVersion", "Properties": {
            "LayerName": sub(f"${{EnvironmentName}}-lending-{layer}"),
            "Description": f"layers/{layer} with its requirements",
            "Content": {"S3Bucket": ref("ArtifactBucket"), "S3Key": sub(f"${{ArtifactPrefix}}/layers/{layer}.zip")},
            "CompatibleRuntimes": [RUNTIME], "CompatibleArchitectures": ["x86_64"]}}
    outputs: dict[str, Any] = {"ApiUrl": {"Description": "Base URL of the HTTP API",
                                          "Value": {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}}}
    for fn in fns:
        name = f"{logical(fn)}Function"
        resources[f"{logical(fn)}Role"] = lambda_access.role(fn.name, fn.layers)  # its own: only what it uses
        resources[name] = {"Type": "AWS::Lambda::Function", "Properties": {
            "Description": f"functions/{fn.name} with layers {', '.join(fn.layers)}",
            "Runtime": RUNTIME, "Architectures": ["x86_64"], "Handler": ENTRY,
            "Code": {"S3Bucket": ref("ArtifactBucket"), "S3Key": sub(f"${{ArtifactPrefix}}/functions/{fn.name}.zip")},
            "Layers": [ref(f"{camel(layer)}Layer") for layer in fn.layers],
            "Role": {"Fn::GetAtt": [f"{logical(fn)}Role", "Arn"]},
            "MemorySize": 512, "Timeout": 120 if fn.schedule else 29,
            "LoggingConfig": {"LogGroup": ref("FunctionLogGroup")},
            "Environment": {"Variables": lambda_access.environment(fn.name, fn.layers)}}}
        if lambda_access.uses_database(fn.layers):  # only those reach the database; the rest stay out of the VPC
            resources[name]["Properties"]["VpcConfig"] = {
                "SubnetIds": ref("PrivateSubnetIds"), "SecurityGroupIds": [ref("FunctionSecurityGroup")]}
        if fn.routes:
            resources[f"{logical(fn)}Integration"] = {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
                "ApiId": ref("HttpApi"), "IntegrationType": "AWS_PROXY",
                "IntegrationUri": {"Fn::GetAtt": [name, "Arn"]}, "PayloadFormatVersion": "1.0"}}
            resources[f"{logical(fn)}ApiPermission"] = {"Type": "AWS::Lambda::Permission", "Properties": {
                "Action": "lambda:InvokeFunction", "FunctionName": ref(name), "Principal": "apigateway.amazonaws.com",
                "SourceArn": sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*")}}
        for method, path in fn.routes:
            resources[f"{logical(fn)}{camel(method.lower())}{camel(path) or 'Root'}Route"] = {
                "Type": "AWS::ApiGatewayV2::Route", "Properties": {
                    "ApiId": ref("HttpApi"), "RouteKey": f"{method} {path}",
                    "Target": sub(f"integrations/${{{logical(fn)}Integration}}")}}
        if fn.schedule:
            resources[f"{logical(fn)}Schedule"] = {"Type": "AWS::Events::Rule", "Properties": {
                "Description": f"Runs {fn.name} {fn.schedule}", "ScheduleExpression": fn.schedule,
                "State": "ENABLED", "Targets": [{"Id": fn.name, "Arn": {"Fn::GetAtt": [name, "Arn"]}}]}}
            resources[f"{logical(fn)}SchedulePermission"] = {"Type": "AWS::Lambda::Permission", "Properties": {
                "Action": "lambda:InvokeFunction", "FunctionName": ref(name), "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": [f"{logical(fn)}Schedule", "Arn"]}}}
        outputs[f"{logical(fn)}FunctionName"] = {"Value": ref(name)}
    return {"AWSTemplateFormatVersion": "2010-09-09",
            "Description": "Library lending service as Lambda functions: one per operation, each with only its "
                           "own layers, behind an HTTP API; the jobs on their schedules. Generated by infra/package.py.",
            "Parameters": parameters, "Resources": resources, "Outputs": outputs}


def template_text() -> str:
    header = "# Generated by infra/package.py from functions/*/function.json (make package, make infra-lint): do not edit.\n"
    return header + yaml.dump(template(), Dumper=_NoAliases, sort_keys=False, width=120, default_flow_style=False)


class _NoAliases(yaml.SafeDumper):
    """CloudFormation rejects YAML aliases: write repeated values out in full."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


# -- main ------------------------------------------------------------------------------------------
def human(size: int) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


def build(out: Path, with_dependencies: bool, template_out: Path) -> list[str]:
    """Build everything; returns the report lines (one per function)."""
    out.mkdir(parents=True, exist_ok=True)
    cache = out / ".deps"
    fns = functions()
    layers = {layer: build_layer(layer, out, cache, with_dependencies) for layer in sorted({x for f in fns for x in f.layers})}
    template_out.parent.mkdir(parents=True, exist_ok=True)
    template_out.write_text(template_text())
    lines = [f"{'function':<16}{'code':>10}{'with layers':>14}{'unzipped':>12}  layers (code includes lending_aws)"]
    for fn in fns:
        code = build_function(fn, out)
        zipped = code.stat().st_size + sum(layers[x].stat().st_size for x in fn.layers)
        unzipped = unzipped_size(code) + sum(unzipped_size(layers[x]) for x in fn.layers)
        lines.append(f"{fn.name:<16}{human(code.stat().st_size):>10}{human(zipped):>14}{human(unzipped):>12}  "
                     f"{', '.join(fn.layers)}")
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    parser.add_argument("--template-out", type=Path, default=TEMPLATE)
    parser.add_argument("--skip-dependencies", action="store_true",
                        help="only our own code in the layers (no pip; for quick checks)")
    parser.add_argument("--template-only", action="store_true", help="only write the template (no zips)")
    args = parser.parse_args(argv)
    if args.template_only:
        args.template_out.parent.mkdir(parents=True, exist_ok=True)
        args.template_out.write_text(template_text())
        print(f"wrote {args.template_out}")
        return 0
    for line in build(args.out, not args.skip_dependencies, args.template_out):
        print(line)
    if not (CERTS / "rds-global-bundle.pem").is_file():
        print(f"\nnote: no RDS CA bundle at {CERTS.relative_to(ROOT)}/rds-global-bundle.pem: the database layer's "
              "verify-full connections will fail until it is committed (infra/certs/README.md)", file=sys.stderr)
    print(f"\nzips under {args.out}/ (functions/, layers/); template {args.template_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
