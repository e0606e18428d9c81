"""Settings held in AWS, read through Powertools Parameters (Secrets Manager, SSM), once at start-up."""

from __future__ import annotations

import re
import threading
from typing import Any

import lending_settings
from lending_settings import Settings

_AWS_CODE = re.compile(r"An error occurred \((\w+)\)")


class SettingUnreadable(Exception):
    """A secret or parameter could not be read; the message names the cause, never a value."""


class AwsResolver:
    """resolve(kind, name) for lending_settings: "secret" from Secrets Manager, "parameter" from SSM.

    Region, credentials and endpoint (AWS_ENDPOINT_URL) come from the SDK's usual chain; Powertools'
    providers do the calls (and decode binary secrets). Values are remembered, so each reference
    costs one call per process.
    """

    def __init__(self, session: Any = None) -> None:
        self._session = session
        self._providers: dict[str, Any] = {}
        self._values: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def _provider(self, kind: str) -> Any:
        if kind not in self._providers:
            # Only here: a host with nothing held in AWS never pays for boto3.
            from aws_lambda_powertools.utilities import parameters

            if kind == "secret":
                self._providers[kind] = parameters.SecretsProvider(boto3_session=self._session)
            elif kind == "parameter":
                self._providers[kind] = parameters.SSMProvider(boto3_session=self._session)
            else:
                raise SettingUnreadable(f"unknown kind {kind!r}")
        return self._providers[kind]

    def __call__(self, kind: str, name: str) -> str:
        with self._lock:
            if (kind, name) not in self._values:
                self._values[(kind, name)] = self._read(kind, name)
            return self._values[(kind, name)]

    def _read(self, kind: str, name: str) -> str:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
        from botocore.exceptions import BotoCoreError, ClientError

        provider = self._provider(kind)
        try:
            value = provider.get(name, decrypt=True) if kind == "parameter" else provider.get(name)
        except GetParameterError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError):
                raise SettingUnreadable(f"AWS answered {cause.response.get('Error', {}).get('Code', 'error')}") from None
            if isinstance(cause, BotoCoreError):  # no credentials, no region, endpoint unreachable
                raise SettingUnreadable(type(cause).__name__) from None
            # Powertools keeps only botocore's message: "An error occurred (Code) when calling ..."
            code = _AWS_CODE.search(str(exc))
            raise SettingUnreadable(f"AWS answered {code.group(1)}" if code else "AWS could not be read") from None
        except BotoCoreError as exc:
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
