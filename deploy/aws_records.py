"""The AWS estate's deploy lock and audit log: an SSM parameter and a CloudWatch Logs stream.

- lock: the SSM parameter /<env>/lending/deploy-lock, created with Overwrite=False (atomic:
  exactly one of any number of machines creates it), deleted by its holder's token, renewed by
  a live deploy, taken over by one taker once its lease has run out;
- audit: CloudWatch Logs group /<env>/lending/deploys, stream `audit`, one JSON event per entry.
The driver that uses them is deploy/aws.py.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from deploy.model import AuditEntry, Clock, LockHeld, LockHolder, utc_now


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class SsmParameterLock:
    """The lock as an SSM parameter, created with Overwrite=False: exactly one creator wins.

    A holder whose lease ran out is replaced by one taker only: the takers race to create a marker
    parameter named after the expired holder's token (create-only again), and only the winner
    overwrites the expired record with its own. A taker that crashes between those calls leaves
    the lock for `break-lock`; an expired holder that wakes between the winner's check and its
    overwrite (it stalled for a whole lease) loses the lock and learns it at its next renewal.
    """

    def __init__(self, ssm: Any, name: str, clock: Clock = utc_now) -> None:
        self.ssm, self.name, self.clock = ssm, name, clock

    def _create(self, holder: LockHolder) -> None:
        self.ssm.put_parameter(Name=self.name, Value=holder.to_json(), Type="String", Overwrite=False,
                               Description="deploy lock (deploy/aws.py); delete only to break a stale lock")

    def acquire(self, holder: LockHolder) -> LockHolder | None:
        try:
            self._create(holder)
            return None
        except ClientError as error:
            if error_code(error) != "ParameterAlreadyExists":
                raise
        current = self.current()
        if current is None or not current.expired(self.clock()):
            raise LockHeld(current or holder)
        return self._take_over(current, holder)

    def _take_over(self, expired: LockHolder, holder: LockHolder) -> LockHolder:
        marker = f"{self.name}-takeover/{expired.token}"
        try:
            self.ssm.put_parameter(Name=marker, Value=holder.token, Type="String", Overwrite=False,
                                   Description="who replaces an expired deploy lock (deploy/aws.py)")
        except ClientError as error:
            if error_code(error) != "ParameterAlreadyExists":
                raise
            raise LockHeld(self.current() or expired) from None  # another taker won this one
        try:
            again = self.current()
            if again is None or again.token != expired.token:
                raise LockHeld(again or expired)  # released, or renewed, meanwhile
            # Overwritten in place, never deleted first: a plain create could slip into the gap.
            self.ssm.put_parameter(Name=self.name, Value=holder.to_json(), Type="String", Overwrite=True)
            return expired
        finally:
            self._delete(marker)

    def renew(self, holder: LockHolder) -> bool:
        current = self.current()
        if current is None or current.token != holder.token:
            return False
        self.ssm.put_parameter(Name=self.name, Value=holder.to_json(), Type="String", Overwrite=True)
        return True

    def current(self) -> LockHolder | None:
        try:
            value = self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"]
        except ClientError as error:
            if error_code(error) == "ParameterNotFound":
                return None
            raise
        return LockHolder.from_json(str(value))

    def release(self, holder: LockHolder) -> None:
        # Read, then delete: a lock broken and retaken between the two calls would be lost, which
        # only an operator breaking a live holder's lock can cause (and the audit log records that).
        current = self.current()
        if current is not None and current.token == holder.token:
            self._delete(self.name)

    def break_lock(self) -> LockHolder | None:
        current = self.current()
        self._delete(self.name)
        if current is not None:
            self._delete(f"{self.name}-takeover/{current.token}")
        return current

    def _delete(self, name: str) -> None:
        try:
            self.ssm.delete_parameter(Name=name)
        except ClientError as error:
            if error_code(error) != "ParameterNotFound":
                raise


class CloudWatchAudit:
    def __init__(self, logs: Any, group: str, stream: str = "audit") -> None:
        self.logs, self.group, self.stream = logs, group, stream

    def _ensure(self) -> None:
        for call, kwargs in ((self.logs.create_log_group, {"logGroupName": self.group}),
                             (self.logs.create_log_stream, {"logGroupName": self.group, "logStreamName": self.stream})):
            try:
                call(**kwargs)
            except ClientError as error:
                if error_code(error) != "ResourceAlreadyExistsException":
                    raise

    def append(self, entry: AuditEntry) -> None:
        self._ensure()
        self.logs.put_log_events(logGroupName=self.group, logStreamName=self.stream,
                                 logEvents=[{"timestamp": int(time.time() * 1000), "message": entry.to_json()}])

    def last(self, count: int) -> list[AuditEntry]:
        try:
            events = self.logs.get_log_events(logGroupName=self.group, logStreamName=self.stream, startFromHead=False,
                                              limit=count)["events"]
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return []
            raise
        return [AuditEntry.from_json(e["message"]) for e in events][-count:]

