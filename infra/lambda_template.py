"""The Lambda template (infra/generated/lambda.yaml), from functions/*/function.json.

One function per operation attached to exactly its declared layers, API Gateway (HTTP API,
payload 1.0) routes, and a schedule for functions that declare one; `python -m infra.package`
(infra/package.py) writes it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from infra import lambda_access
from lending_http.routes import Function
from lending_http.routes import functions as read_functions

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "generated" / "lambda.yaml"
MAX_LAYERS = 5  # Lambda's limit per function
RUNTIME = "python3.12"  # Amazon Linux 2023 (glibc 2.34): pycurl ships manylinux_2_28 wheels only
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

