"""Scheduled: a due-soon notice for each loan due within REMINDER_BEFORE_DUE (patrons who want reminders)."""

from typing import Any

from lending import notices
from lending_http import job
from lending_http.operation import Scope


@job("reminders")
def handle(deps: Scope) -> dict[str, Any]:
    return {"due_soon": notices.write_reminders(deps.store, deps.clock, before_due=deps.settings.reminder_before_due)}
