"""Notices on AWS: SMTP_URL for Amazon SES's SMTP interface comes from Secrets Manager (moto), the
sender from the template, and the send_notices job sends through it (an SMTPS+AUTH aiosmtpd stands in
for SES: the same server the mailer contract tests run the SES path against)."""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest
from lending_mail import SmtpMailer
from lending_mail.smtp import mailer_from
from moto import mock_aws

import lending_settings as config
from lending.notice_model import Mail
from lending_aws import AwsResolver
from tests.support.smtp_server import SmtpServer


@pytest.fixture
def aws() -> Any:
    saved = {k: os.environ.get(k) for k in ("AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_smtp_url_is_read_from_secrets_manager_and_the_mail_goes_through_smtps_with_auth(aws: Any) -> None:
    with SmtpServer(tls="smtps", auth=("AKIAEXAMPLE", "ses-smtp-password")) as ses:
        aws.create_secret(Name="library-lending/ses-smtp-url", SecretString=ses.url)
        env = {"SMTP_URL_SECRET_ARN": "library-lending/ses-smtp-url", "MAIL_FROM": "notices@library.example.org",
               "AWS_REGION": "us-east-1"}
        settings = config.from_env(env, AwsResolver(), layers=("mail",))
        assert settings.smtp_url == ses.url and "ses-smtp-password" not in repr(settings)
        mailer = mailer_from(settings)
        assert mailer.target.scheme == "smtps" and mailer.target.user == "AKIAEXAMPLE"
        tls = SmtpMailer(settings.smtp_url, ssl_context=ses.client_tls())
        tls.send(Mail("<notice-1@library.example.org>", settings.mail_from, "alice@example.org", "Hi", "Hi", "<p>Hi</p>"))
        assert [m["Message-ID"] for m in ses.messages] == ["<notice-1@library.example.org>"]


def test_a_mailer_without_smtp_url_or_sender_refuses_to_be_built_naming_the_setting() -> None:
    with pytest.raises(config.ConfigError, match="SMTP_URL"):
        mailer_from(config.Settings(mail_from="n@x.org"))
    with pytest.raises(config.ConfigError, match="MAIL_FROM"):
        mailer_from(config.Settings(smtp_url="smtp://127.0.0.1:25"))
