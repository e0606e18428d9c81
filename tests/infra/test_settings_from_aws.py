"""Settings held in AWS: resolved once at start-up from Secrets Manager and SSM; a missing one stops start-up.

In-process against moto (`mock_aws`) for the config rules, and a real `chalice local` against a
local moto server for "start-up": it serves /ready with credentials it only had from the secret,
or, when a secret is missing, exits naming the setting without ever listening.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import boto3
import pytest
import requests
from moto import mock_aws

import lending_settings as config
from dev.embedded import ROOT, free_port, wait_for_http
from lending_aws import AwsResolver, SettingUnreadable, bootstrap
from tests.infra.conftest import aws_env

STRIPE_KEY = "sk_test_from_parameter_store"
WEBHOOK_SECRET = "whsec_from_secrets_manager"
DB_PASSWORD = "pw-from-the-rds-secret"


def rds_secret(database_url: str) -> str:
    url = urlparse(database_url)
    return json.dumps({"engine": "postgres", "host": url.hostname, "port": url.port, "username": url.username,
                       "password": DB_PASSWORD, "dbname": url.path.lstrip("/")})


def put_settings(prefix: str, database_url: str, endpoint: str | None = None) -> dict[str, str]:
    """Store the secrets and the parameter; returns the environment that references them."""
    kw = {"endpoint_url": endpoint, "aws_access_key_id": "testing", "aws_secret_access_key": "testing"} if endpoint else {}
    sm = boto3.client("secretsmanager", region_name="us-east-1", **kw)
    ssm = boto3.client("ssm", region_name="us-east-1", **kw)
    db_arn = sm.create_secret(Name=f"{prefix}/database", SecretString=rds_secret(database_url))["ARN"]
    sm.create_secret(Name=f"{prefix}/stripe-webhook-secret", SecretString=WEBHOOK_SECRET)
    ssm.put_parameter(Name=f"/{prefix}/lending/stripe-api-key", Value=STRIPE_KEY, Type="SecureString")
    return {"DATABASE_SECRET_ARN": db_arn, "STRIPE_API_KEY_PARAMETER": f"/{prefix}/lending/stripe-api-key",
            "STRIPE_WEBHOOK_SECRET_SECRET_ARN": f"{prefix}/stripe-webhook-secret",
            "OIDC_ISSUER": "https://login.example.org", "OIDC_AUDIENCE": "library-lending"}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in aws_env("").items():
        if name != "AWS_ENDPOINT_URL":
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield
    config.use_resolver(None)


DB_URL = "postgresql://lending@10.40.10.5:5432/lending"


def test_every_reference_is_resolved_and_the_replica_gets_the_same_credentials(aws: None) -> None:
    env = {**put_settings("t1", DB_URL), "DATABASE_READ_HOST": "replica.internal"}
    s = config.from_env(env, AwsResolver())
    assert s.database_url == f"postgresql://lending:{DB_PASSWORD}@10.40.10.5:5432/lending"
    assert s.database_read_url == f"postgresql://lending:{DB_PASSWORD}@replica.internal:5432/lending"
    assert (s.stripe_api_key, s.stripe_webhook_secret) == (STRIPE_KEY, WEBHOOK_SECRET)
    assert STRIPE_KEY not in repr(s) and WEBHOOK_SECRET not in repr(s)


def test_explicit_variables_win_and_their_references_are_not_read(aws: None) -> None:
    env = {**put_settings("t2", DB_URL), "STRIPE_API_KEY": "sk_test_explicit", "DATABASE_URL": "postgresql://me@127.0.0.1/x",
           "STRIPE_WEBHOOK_SECRET_SECRET_ARN": "no/such/secret"}  # would fail if it were read
    env["STRIPE_WEBHOOK_SECRET"] = "whsec_explicit"
    s = config.from_env(env, AwsResolver())
    assert (s.database_url, s.stripe_api_key, s.stripe_webhook_secret) == \
        ("postgresql://me@127.0.0.1/x", "sk_test_explicit", "whsec_explicit")
    assert config.references(env) == []


def test_a_replica_host_alone_gives_a_read_url_with_the_primarys_credentials() -> None:
    env = {"DATABASE_URL": "postgresql://app:s3cret@db.internal:6432/lending?sslmode=require",
           "DATABASE_READ_HOST": "replica.internal", "STRIPE_API_KEY": "sk_test_x",
           "OIDC_ISSUER": "https://login.example.org", "OIDC_AUDIENCE": "a"}
    s = config.from_env(env)  # nothing held in AWS: no resolver needed
    assert s.database_read_url == "postgresql://app:s3cret@replica.internal:6432/lending?sslmode=require"
    assert config.from_env({**env, "DATABASE_READ_URL": "postgresql://r@elsewhere/x"}).database_read_url == \
        "postgresql://r@elsewhere/x"  # an explicit read URL wins


def test_a_missing_secret_names_the_setting_and_never_a_value(aws: None) -> None:
    env = {**put_settings("t3", DB_URL), "STRIPE_WEBHOOK_SECRET_SECRET_ARN": "t3/no-such-secret"}
    with pytest.raises(config.ConfigError) as caught:
        config.from_env(env, AwsResolver())
    message = str(caught.value)
    assert message.startswith("STRIPE_WEBHOOK_SECRET_SECRET_ARN: cannot read the secret 't3/no-such-secret'")
    assert "ResourceNotFoundException" in message
    assert STRIPE_KEY not in message and DB_PASSWORD not in message


def test_a_secret_that_is_not_rds_json_is_refused_without_echoing_it(aws: None) -> None:
    env = put_settings("t4", DB_URL)
    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(
        SecretId=env["DATABASE_SECRET_ARN"], SecretString="hunter2-plain-password")
    with pytest.raises(config.ConfigError, match="^DATABASE_SECRET_ARN: the secret is not RDS's JSON") as caught:
        config.from_env(env, AwsResolver())
    assert "hunter2" not in str(caught.value)


def test_a_binary_secret_is_read_as_utf8_text_and_one_that_is_not_text_is_refused(aws: None) -> None:
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    sm.create_secret(Name="t6/binary", SecretBinary=WEBHOOK_SECRET.encode())
    sm.create_secret(Name="t6/not-text", SecretBinary=b"\xff\xfe\x00")
    resolver = AwsResolver()
    assert resolver("secret", "t6/binary") == WEBHOOK_SECRET
    with pytest.raises(SettingUnreadable, match="^the binary secret is not UTF-8$"):
        resolver("secret", "t6/not-text")


def test_a_missing_parameter_and_an_unknown_kind_are_named_not_guessed(aws: None) -> None:
    resolver = AwsResolver()
    with pytest.raises(SettingUnreadable, match="^AWS answered ParameterNotFound$"):
        resolver("parameter", "/t7/no-such-parameter")
    with pytest.raises(SettingUnreadable, match="unknown kind"):
        resolver("bucket", "anything")


def test_no_region_is_a_clear_error_not_a_traceback(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(SettingUnreadable, match="^NoRegionError$"):
        AwsResolver()("secret", "t8/anything")


def test_settings_are_read_once_at_start_up_and_kept(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    env = put_settings("t5", DB_URL)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("DATABASE_URL", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    started = bootstrap()
    assert started is not None and started.stripe_api_key == STRIPE_KEY
    boto3.client("ssm", region_name="us-east-1").delete_parameter(Name=env["STRIPE_API_KEY_PARAMETER"])
    assert config.settings() is started  # cached: no second trip to AWS


def test_with_nothing_held_in_aws_boto3_is_never_imported() -> None:
    probe = "import sys, lending_aws; print(lending_aws.bootstrap(), 'boto3' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_SECRET_ARN", "_PARAMETER"))}
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert run.stdout.split() == ["None", "False"], run.stderr


# -- a real host: chalice local, settings from a local moto server ------------------------------------------
def chalice_local(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    chalice = Path(sys.executable).with_name("chalice")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "STRIPE_", "OIDC_"))}
    with open(log, "wb") as out:
        return subprocess.Popen([str(chalice), "local", "--no-autoreload", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=ROOT, env={**base, **env, "LENDING_METRICS": "off"}, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def test_the_service_starts_with_settings_only_aws_holds(local_aws: str, database_url: str, tmp_path: Path) -> None:
    env = {**aws_env(local_aws), **put_settings("srv1", database_url, local_aws)}
    port = free_port()
    proc = chalice_local(env, port, tmp_path / "chalice.log")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", timeout=60)
        ready = requests.get(f"http://127.0.0.1:{port}/ready", timeout=10)
        assert ready.status_code == 200, ready.text  # the database address came only from the secret
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    log = (tmp_path / "chalice.log").read_text()
    for value in (DB_PASSWORD, STRIPE_KEY, WEBHOOK_SECRET):
        assert value not in log


def test_a_missing_secret_stops_start_up_before_listening(local_aws: str, database_url: str, tmp_path: Path) -> None:
    env = {**aws_env(local_aws), **put_settings("srv2", database_url, local_aws),
           "STRIPE_WEBHOOK_SECRET_SECRET_ARN": "srv2/deleted-by-mistake"}
    port = free_port()
    proc = chalice_local(env, port, tmp_path / "chalice.log")
    assert proc.wait(timeout=60) != 0
    log = (tmp_path / "chalice.log").read_text()
    assert "STRIPE_WEBHOOK_SECRET_SECRET_ARN: cannot read the secret 'srv2/deleted-by-mistake'" in log
    for value in (DB_PASSWORD, STRIPE_KEY):
        assert value not in log
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
