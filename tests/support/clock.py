"""A clock tests move by hand (lending.clock.Clock): time passes when a test says so, never by sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class MovedClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.at = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> None:
        self.at += by
