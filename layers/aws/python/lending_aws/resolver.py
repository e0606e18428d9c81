"""Settings held in AWS, read with boto3 (Secrets Manager, SSM), once at start-up."""

from __future__ import annotations

import threading
from typing import Any

import lending_settings
from lending_settings import Settings


class SettingUnreadable(Exception):
    """A secret or parameter could not be read; the message names the cause, never a value."""


class AwsResolver:
    """resolve(kind, name) for lending_settings: "secret" from Secrets Manager, "parameter" from SSM.

    Region, credentials and endpoint (AWS_ENDPOINT_URL) come from the SDK's usual chain. Values are
    remembered, so each reference costs one call per process. (Powertools' Parameters did these
    calls until 2026-12-04: two boto3 calls, for a package of its own on every Lambda cold start
    that reads settings from AWS, and an error that kept only botocore's message.)
    """

    def __init__(self, session: Any = None) -> None:
        self._session = session
        self._clients: dict[str, Any] = {}
        self._values: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def _client(self, kind: str) -> Any:
        if kind not in self._clients:
            if kind not in ("secret", "parameter"):
                raise SettingUnreadable(f"unknown kind {kind!r}")
            # Only here: a host with nothing held in AWS never pays for boto3.
            import boto3

            session = self._session or boto3.session.Session()
            self._clients[kind] = session.client("secretsmanager" if kind == "secret" else "ssm")
        return self._clients[kind]

    def __call__(self, kind: str, name: str) -> str:
        with self._lock:
            if (kind, name) not in self._values:
                self._values[(kind, name)] = self._read(kind, name)
            return self._values[(kind, name)]

    def _read(self, kind: str, name: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            client = self._client(kind)
            if kind == "parameter":
                value: str | bytes = client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
            else:
                answer = client.get_secret_value(SecretId=name)
                value = answer["SecretString"] if "SecretString" in answer else answer["SecretBinary"]
        except ClientError as exc:
            raise SettingUnreadable(f"AWS answered {exc.response.get('Error', {}).get('Code', 'error')}") from None
        except BotoCoreError as exc:  # no credentials, no region, endpoint unreachable
            raise SettingUnreadable(type(exc).__name__) from None
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                raise SettingUnreadable("the binary secret is not UTF-8") from None
        return str(value)


def bootstrap(resolver: AwsResolver | None = None) -> Settings | None:
    """Read settings held in AWS now, before serving; a no-op when the environment references none."""
    if not lending_settings.references():
        return None
    lending_settings.use_resolver(resolver or AwsResolver())
    return lending_settings.settings()
