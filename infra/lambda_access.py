"""What each Lambda function may read and is told, derived from the layers it declares.

- every function: its own role (no role is shared) that writes to the functions' log group only;
- the database layer: the app's DML-only database secret (never the master's), the replica's host,
  TLS verified against the RDS CA bundle that layer ships, and the VPC (network interfaces);
- the payments layer: the Stripe API key secret; the webhook receiver also the webhook secret;
- everything else (web, docs) reads no secret and runs outside the VPC.
A function without the payments layer is given no Stripe setting at all, so it must start without
one (docs/infrastructure.md says what the settings side accepts).
"""

from __future__ import annotations

from typing import Any

CA_BUNDLE = "/opt/python/lending_postgres/certs/rds-global-bundle.pem"  # in the database layer (Lambda extracts layers into /opt)
WEBHOOK_RECEIVERS = {"stripe_webhook"}  # the functions that verify Stripe's signatures
SECRET_ARN = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
# The estate's app secret is <env>/lending/database-app; its master secret (<env>/lending/database) does not match.
APP_SECRET_PATTERN = (r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[a-z][a-z0-9-]{1,19}"
                      r"/lending/database-app-[A-Za-z0-9]{6}$")
ENI_ACTIONS = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
               "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def _ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def parameters() -> dict[str, Any]:
    return {
        "DatabaseAppSecretArn": {
            "Type": "String", "AllowedPattern": APP_SECRET_PATTERN,
            "ConstraintDescription": "the app's DML-only secret (<env>/lending/database-app), never the master's",
            "Description": "ARN of the app's database credentials secret (estate output DatabaseAppSecretArn)"},
        "DatabaseReadHost": {"Type": "String", "Description": "Read replica endpoint (estate output)"},
        "StripeApiKeySecretName": {"Type": "String", "Default": "library-lending/stripe-api-key",
                                   "Description": "Secrets Manager name of the Stripe API key (out of band)"},
        "StripeWebhookSecretName": {"Type": "String", "Default": "library-lending/stripe-webhook-secret",
                                    "Description": "Secrets Manager name of the Stripe webhook secret (out of band)"},
        "SmtpUrlSecretName": {"Type": "String", "Default": "library-lending/ses-smtp-url",
                              "Description": "Secrets Manager name of SMTP_URL for Amazon SES's SMTP interface"},
        "MailFrom": {"Type": "String", "Default": "notices@library.example.org",
                     "Description": "Sender of notices: an address of the estate's SES identity (MailFromDomain)"},
    }


def uses_database(layers: tuple[str, ...]) -> bool:
    return "database" in layers


def environment(name: str, layers: tuple[str, ...]) -> dict[str, Any]:
    env: dict[str, Any] = {
        "APP_ENV": "production", "APP_VERSION": _ref("ArtifactPrefix"), "POWERTOOLS_SERVICE_NAME": "lending",
        "OIDC_ISSUER": _ref("OidcIssuer"), "OIDC_AUDIENCE": _ref("OidcAudience"),
    }
    if uses_database(layers):
        env |= {"DATABASE_SECRET_ARN": _ref("DatabaseAppSecretArn"), "DATABASE_READ_HOST": _ref("DatabaseReadHost"),
                "DATABASE_NAME": "lending", "DB_POOL_SIZE": "1",
                "DATABASE_SSLMODE": "verify-full", "DATABASE_SSLROOTCERT": CA_BUNDLE}
    if "payments" in layers:
        env["STRIPE_API_KEY_SECRET_ARN"] = _ref("StripeApiKeySecretName")
        if name in WEBHOOK_RECEIVERS:
            env["STRIPE_WEBHOOK_SECRET_SECRET_ARN"] = _ref("StripeWebhookSecretName")
    if "mail" in layers:  # send_notices: through Amazon SES's SMTP interface, the URL held in Secrets Manager
        env |= {"SMTP_URL_SECRET_ARN": _ref("SmtpUrlSecretName"), "MAIL_FROM": _ref("MailFrom")}
    return env


def secrets(name: str, layers: tuple[str, ...]) -> list[Any]:
    """The secrets the function's role may read: exactly those its environment names."""
    env = environment(name, layers)
    readable = []
    if "DATABASE_SECRET_ARN" in env:
        readable.append(_ref("DatabaseAppSecretArn"))
    if "STRIPE_API_KEY_SECRET_ARN" in env:  # created out of band: their ARNs end in a random 6-character suffix
        readable.append(_sub(SECRET_ARN + "${StripeApiKeySecretName}-??????"))
    if "STRIPE_WEBHOOK_SECRET_SECRET_ARN" in env:
        readable.append(_sub(SECRET_ARN + "${StripeWebhookSecretName}-??????"))
    if "SMTP_URL_SECRET_ARN" in env:
        readable.append(_sub(SECRET_ARN + "${SmtpUrlSecretName}-??????"))
    return readable


def role(name: str, layers: tuple[str, ...]) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": {"Fn::GetAtt": ["FunctionLogGroup", "Arn"]}}]
    if uses_database(layers):
        statements.append({"Sid": "VpcNetworkInterfaces", "Effect": "Allow", "Action": ENI_ACTIONS,
                           "Resource": "*"})  # these actions have no resource-level permissions
    readable = secrets(name, layers)
    if readable:
        statements.append({"Sid": "ReadOwnSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                           "Resource": readable})
    return {"Type": "AWS::IAM::Role", "Properties": {
        "Description": f"Lending function {name} - only what it uses",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "Policies": [{"PolicyName": f"lending-{name}", "PolicyDocument": {"Version": "2012-10-17",
                                                                         "Statement": statements}}]}}
