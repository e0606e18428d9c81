"""The boto3 side of lending.config's resolver: one call per referenced setting, at start-up."""

from __future__ import annotations

import threading
from typing import Any

from lending import config


class SettingUnreadable(Exception):
    """A secret or parameter could not be read; the message names the cause, never a value."""


class AwsResolver:
    """resolve(kind, name) for lending.config: "secret" from Secrets Manager, "parameter" from SSM.

    Region, credentials and endpoint (AWS_ENDPOINT_URL) come from the SDK's usual chain. Values are
    remembered, so each reference costs one call per process.
    """

    def __init__(self, session: Any = None) -> None:
        self._session = session
        self._clients: dict[str, Any] = {}
        self._values: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            if self._session is None:
                import boto3  # only here: a host with nothing in AWS never pays for the import

                self._session = boto3.session.Session()
            self._clients[service] = self._session.client(service)
        return self._clients[service]

    def __call__(self, kind: str, name: str) -> str:
        with self._lock:
            if (kind, name) not in self._values:
                self._values[(kind, name)] = self._read(kind, name)
            return self._values[(kind, name)]

    def _read(self, kind: str, name: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            if kind == "secret":
                answer = self._client("secretsmanager").get_secret_value(SecretId=name)
                if "SecretString" in answer:
                    return str(answer["SecretString"])
                return bytes(answer["SecretBinary"]).decode("utf-8")
            if kind == "parameter":
                answer = self._client("ssm").get_parameter(Name=name, WithDecryption=True)
                return str(answer["Parameter"]["Value"])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise SettingUnreadable(f"AWS answered {code}") from None
        except BotoCoreError as exc:  # no credentials, no region, endpoint unreachable
            raise SettingUnreadable(type(exc).__name__) from None
        except UnicodeDecodeError:
            raise SettingUnreadable("the binary secret is not UTF-8") from None
        raise SettingUnreadable(f"unknown kind {kind!r}")


def bootstrap(resolver: AwsResolver | None = None) -> config.Settings | None:
    """Read settings held in AWS now, before serving; a no-op when the environment references none."""
    if not config.references():
        return None
    config.use_resolver(resolver or AwsResolver())
    return config.settings()
