"""`make package`: one zip per function and per layer, each function with exactly its layers, no stripe in return's.

Built here without dependencies (no network in tests); `make package` adds each layer's requirements,
installed for Lambda's platform, into the same layout.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from infra import bytecode, checks, lambda_template, lambda_zips

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = {p.parent.name: json.loads(p.read_text()) for p in sorted((ROOT / "functions").glob("*/function.json"))}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("package")
    run = subprocess.run([sys.executable, "-m", "infra.package", "--skip-dependencies", "--out", str(out),
                          "--template-out", str(out / "lambda.yaml")], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    return out, run.stdout, checks.load(out / "lambda.yaml")


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as z:
        return z.namelist()


def package_of(out: Path, function: str) -> list[str]:
    """Every file Lambda would put together for this function: its code and its layers."""
    files = names(out / "functions" / f"{function}.zip")
    for layer in FUNCTIONS[function]["layers"]:
        files += names(out / "layers" / f"{layer}.zip")
    return files


def test_one_zip_per_function_holding_only_that_function(built: tuple[Path, str, dict[str, Any]]) -> None:
    out, _, _ = built
    assert sorted(p.stem for p in (out / "functions").glob("*.zip")) == sorted(FUNCTIONS)
    for function in FUNCTIONS:
        files = names(out / "functions" / f"{function}.zip")
        assert "lending_aws/entry.py" in files and f"functions/{function}/handler.py" in files
        assert {f.split("/")[0] for f in files} == {"functions", "lending_aws"}
        assert {f.split("/")[1] for f in files if f.startswith("functions/") and f.count("/") > 1} == {function}


def test_one_zip_per_layer_in_lambda_layout(built: tuple[Path, str, dict[str, Any]]) -> None:
    out, _, _ = built
    used = {layer for spec in FUNCTIONS.values() for layer in spec["layers"]}
    assert {p.stem for p in (out / "layers").glob("*.zip")} == used
    for layer in used:
        packages = {f.split("/")[1] for f in names(out / "layers" / f"{layer}.zip")}
        assert all(f.startswith("python/") for f in names(out / "layers" / f"{layer}.zip"))
        assert packages == {p.name for p in (ROOT / "layers" / layer / "python").iterdir() if p.is_dir()}


def test_the_report_gives_each_functions_size_and_layers(built: tuple[Path, str, dict[str, Any]]) -> None:
    _, stdout, _ = built
    rows = {line.split()[0]: line for line in stdout.splitlines()[1:] if line.strip() and not line.startswith(("zips", "bytecode"))}
    assert set(rows) == set(FUNCTIONS)
    for function, spec in FUNCTIONS.items():
        assert rows[function].endswith("  " + ", ".join(spec["layers"])), rows[function]
        assert " KB" in rows[function]


def test_return_carries_no_stripe_and_borrow_does(built: tuple[Path, str, dict[str, Any]]) -> None:
    out, _, _ = built
    assert not [f for f in package_of(out, "return") if "stripe" in f.lower()]
    assert any(f.startswith("python/lending_stripe/") for f in package_of(out, "borrow"))
    # With dependencies, stripe can only arrive through the payments layer's requirements.
    assert any(r.startswith("stripe==") for r in lambda_zips.layer_requirements("payments"))
    others = [layer for layer in FUNCTIONS["return"]["layers"]]
    assert not [r for layer in others for r in lambda_zips.layer_requirements(layer) if "stripe" in r]
    assert lambda_zips.layer_requirements("aws") == []  # boto3 comes with Lambda's runtime


def test_the_template_wires_each_function_to_exactly_its_layers_and_routes(built: tuple[Path, str, dict[str, Any]]) -> None:
    out, _, template = built
    resources = template["Resources"]
    lambdas = {k: v for k, v in resources.items() if v["Type"] == "AWS::Lambda::Function"}
    assert len(lambdas) == len(FUNCTIONS)
    for function, spec in FUNCTIONS.items():
        logical = lambda_template.camel(function)
        props = resources[f"{logical}Function"]["Properties"]
        assert props["Layers"] == [{"Ref": f"{lambda_template.camel(layer)}Layer"} for layer in spec["layers"]]
        assert props["Handler"] == "lending_aws.entry.handle" and props["Runtime"] == "python3.12"
        assert props["Code"]["S3Key"] == {"Fn::Sub": f"${{ArtifactPrefix}}/functions/{function}.zip"}
        routes = {r["Properties"]["RouteKey"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Route"
                  and r["Properties"]["Target"] == {"Fn::Sub": f"integrations/${{{logical}Integration}}"}}
        assert routes == {f"{m} {p}" for m, p in spec["routes"]}
        if spec["routes"]:
            integration = resources[f"{logical}Integration"]["Properties"]
            assert integration["PayloadFormatVersion"] == "1.0"  # the proxy event our handlers take
    assert "ReconcileIntegration" not in resources


def test_every_job_runs_on_its_schedule_through_an_eventbridge_rule(built: tuple[Path, str, dict[str, Any]]) -> None:
    _, _, template = built
    resources = template["Resources"]
    jobs = {name: spec["schedule"] for name, spec in FUNCTIONS.items() if spec.get("schedule")}
    assert {"expire_holds", "reconcile", "retention"} <= set(jobs)
    rules = {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::Events::Rule"}
    assert set(rules) == {f"{lambda_template.camel(name)}Schedule" for name in jobs}
    for name, schedule in jobs.items():
        logical = lambda_template.camel(name)
        rule = rules[f"{logical}Schedule"]
        assert rule["ScheduleExpression"] == schedule and rule["State"] == "ENABLED"
        assert rule["Targets"] == [{"Id": name, "Arn": {"Fn::GetAtt": [f"{logical}Function", "Arn"]}}]
        permission = resources[f"{logical}SchedulePermission"]["Properties"]
        assert permission["Principal"] == "events.amazonaws.com" and permission["FunctionName"] == {"Ref": f"{logical}Function"}
        assert permission["SourceArn"] == {"Fn::GetAtt": [f"{logical}Schedule", "Arn"]}
        assert resources[f"{logical}Function"]["Properties"]["Timeout"] > 29  # a job is no API call
    assert resources["RetentionSchedule"]["Properties"]["ScheduleExpression"] == "rate(1 hour)"


def _readable_secrets(resources: dict[str, Any], function: str) -> list[str]:
    role = resources[f"{lambda_template.camel(function)}Role"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    readable = [r for s in statements if s["Action"] == "secretsmanager:GetSecretValue" for r in s["Resource"]]
    return sorted(json.dumps(r) for r in readable)


def test_each_function_has_its_own_role_reading_only_the_secrets_it_uses(
        built: tuple[Path, str, dict[str, Any]]) -> None:
    _, _, template = built
    resources = template["Resources"]
    roles = [resources[f"{lambda_template.camel(f)}Function"]["Properties"]["Role"]["Fn::GetAtt"][0] for f in FUNCTIONS]
    assert len(set(roles)) == len(FUNCTIONS) and "FunctionRole" not in resources
    webhook_users = {f for f in FUNCTIONS if "stripe_webhook_secret" in (ROOT / "functions" / f / "handler.py").read_text()}
    assert webhook_users == {"stripe_webhook"}
    for function, spec in FUNCTIONS.items():
        props = resources[f"{lambda_template.camel(function)}Function"]["Properties"]
        env = props["Environment"]["Variables"]
        readable = " ".join(_readable_secrets(resources, function))
        payments, database = "payments" in spec["layers"], "database" in spec["layers"]
        assert ("StripeApiKeySecretName" in readable) == payments == ("STRIPE_API_KEY_SECRET_ARN" in env), function
        assert ("StripeWebhookSecretName" in readable) == (function in webhook_users) == \
            ("STRIPE_WEBHOOK_SECRET_SECRET_ARN" in env), function
        assert ("DatabaseAppSecretArn" in readable) == database == ("DATABASE_SECRET_ARN" in env), function
        mail = "mail" in spec["layers"]  # send_notices only: SES's SMTP credentials, and nobody else
        assert ("SmtpUrlSecretName" in readable) == mail == ("SMTP_URL_SECRET_ARN" in env) == ("MAIL_FROM" in env)
        assert ("VpcConfig" in props) == database, function
        if database:
            assert (env["DATABASE_SSLMODE"], env["DATABASE_SSLROOTCERT"]) == ("verify-full", "/opt/python/lending_postgres/certs/rds-global-bundle.pem")
        if not payments:
            assert not [k for k in env if k.startswith("STRIPE_")], function  # it must start without one
    assert _readable_secrets(resources, "web") == [] == _readable_secrets(resources, "docs")
    # The one database secret a function can be given is the app's DML-only one: the master's ARN is refused.
    pattern = template["Parameters"]["DatabaseAppSecretArn"]["AllowedPattern"]
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:production/lending/database{}-AbC123"
    assert re.match(pattern, arn.format("-app")) and not re.match(pattern, arn.format(""))


def test_the_database_layer_carries_the_rds_ca_bundle_folder_where_lambda_puts_it(
        built: tuple[Path, str, dict[str, Any]]) -> None:
    out, _, _ = built
    files = names(out / "layers" / "database.zip")
    # Extracted to /opt/python/lending_postgres/certs/, beside the bundle once it is committed.
    assert "python/lending_postgres/certs/README.md" in files
    assert not [f for f in names(out / "layers" / "core.zip") if "/certs/" in f]


def test_web_starts_from_its_package_with_no_database_and_no_stripe_setting(
        built: tuple[Path, str, dict[str, Any]], tmp_path: Path) -> None:
    out, _, template = built
    env = {k: v for k, v in template["Resources"]["WebFunction"]["Properties"]["Environment"]["Variables"].items()
           if isinstance(v, str)}
    env |= {"PATH": os.environ["PATH"], "OIDC_ISSUER": "https://login.example.org", "OIDC_AUDIENCE": "web",
            "LENDING_METRICS": "off"}
    task = tmp_path / "task"
    with zipfile.ZipFile(out / "functions" / "web.zip") as z:
        z.extractall(task)
    paths = [str(task)]
    for layer in FUNCTIONS["web"]["layers"]:
        with zipfile.ZipFile(out / "layers" / f"{layer}.zip") as z:
            z.extractall(tmp_path / layer)
        paths.append(str(tmp_path / layer / "python"))
    import site

    probe = PROBE.replace('"/health"', '"/config.json"').replace('sys.argv[2] == "health"', "True")
    run = subprocess.run([sys.executable, "-S", "-c", f"import sys; sys.path += {site.getsitepackages()!r}\n" + probe,
                          json.dumps(paths), "web"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.strip().splitlines()[-1])["status"] == 200


def test_the_generated_template_lints(built: tuple[Path, str, dict[str, Any]]) -> None:
    out, _, template = built
    lint = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), str(out / "lambda.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert checks.check(template) == []


PROBE = """
import json, sys
sys.path[:0] = json.loads(sys.argv[1])
from lending_aws import entry
event = {"resource": "/health", "path": "/health", "httpMethod": "GET", "headers": {}, "multiValueHeaders": {},
         "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
         "requestContext": {"requestId": "probe"}, "body": None, "isBase64Encoded": False}
answer = entry.handle(event, None) if sys.argv[2] == "health" else {"statusCode": 0}
print(json.dumps({"status": answer["statusCode"], "modules": sorted({m.split('.')[0] for m in sys.modules})}))
"""


@pytest.mark.parametrize("function", ["health", "return"])
def test_a_packaged_function_starts_from_its_zip_and_layers_alone(
        function: str, built: tuple[Path, str, dict[str, Any]], tmp_path: Path) -> None:
    out, _, _ = built
    task = tmp_path / "task"
    with zipfile.ZipFile(out / "functions" / f"{function}.zip") as z:
        z.extractall(task)
    paths = [str(task)]
    for layer in FUNCTIONS[function]["layers"]:
        with zipfile.ZipFile(out / "layers" / f"{layer}.zip") as z:
            z.extractall(tmp_path / layer)
        paths.append(str(tmp_path / layer / "python"))
    import site  # vendor libraries from the venv (the layers were built without them), not our .pth

    env = {k: v for k, v in os.environ.items() if not k.endswith(("_SECRET_ARN", "_PARAMETER"))}
    env["LENDING_METRICS"] = "off"
    # What the template gives the function (its settings are read at init; /health never connects).
    env.update({"DATABASE_URL": "postgresql://lending@127.0.0.1:9/lending", "OIDC_ISSUER": "https://issuer.test",
                "OIDC_AUDIENCE": "lending-web"})
    run = subprocess.run([sys.executable, "-S", "-c", f"import sys; sys.path += {site.getsitepackages()!r}\n" + PROBE,
                          json.dumps(paths), function], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert "stripe" not in result["modules"] and "lending_stripe" not in result["modules"]
    assert "boto3" not in result["modules"]  # nothing held in AWS here: bootstrap never imports boto3
    if function == "health":
        assert result["status"] == 200


def test_the_zips_say_whether_they_carry_bytecode_and_compiled_trees_load_without_their_source(
        built: tuple[Path, str, dict[str, Any]], tmp_path: Path) -> None:
    _, stdout, _ = built
    found = bytecode.runtime_python()
    assert (f"bytecode: {bytecode.RUNTIME_TAG}, compiled by {found}" if found else "bytecode: none") in stdout
    tree = tmp_path / "tree" / "pkg"
    tree.mkdir(parents=True)
    (tree / "__init__.py").write_text("ANSWER = 6 * 7\n")
    (tree / "broken.py").write_text("def (:\n")  # does not compile: left without bytecode, not a failure
    made = bytecode.compiled(tmp_path / "tree", sys.executable)
    assert list(made) == [f"pkg/__pycache__/__init__.{sys.implementation.cache_tag}.pyc"]
    assert bytecode.compiled(tmp_path / "tree", None) == {}
    # unchecked-hash: the bytecode alone is imported, whatever the source file's timestamp
    (tree / "__pycache__").mkdir()
    (tree / "__pycache__" / f"__init__.{sys.implementation.cache_tag}.pyc").write_bytes(made[next(iter(made))])
    (tree / "__init__.py").write_text("ANSWER = 0\n")
    run = subprocess.run([sys.executable, "-c", "import pkg; print(pkg.ANSWER)"], cwd=tmp_path / "tree",
                         capture_output=True, text=True, timeout=30)
    assert run.stdout.strip() == "42", run.stderr
