"""Forget what the service no longer needs (issue 19 item 6): `idempotency_keys` and `processor_events`
would otherwise grow forever.

A finished idempotency key replays its answer for `idempotency_retention` after it finished; a retry
later than that is a new request. A key still in progress is never deleted (a retry takes it over
when it is stale). A processor event id is kept `processor_event_retention` after it was seen, long
past the processor's own retries (Stripe retries for three days). Rows go in batches, so no one
statement holds many row locks or runs long; a run stops after `max_batches` and says there is more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from lending.clock import Clock
from lending.ports import LendingStore


@dataclass(frozen=True)
class RetentionReport:
    idempotency_keys: int  # deleted
    processor_events: int  # deleted
    batches: int
    more: bool  # stopped at max_batches with rows still due: the next run goes on


def forget_expired(store: LendingStore, clock: Clock, *, idempotency_retention: timedelta,
                   processor_event_retention: timedelta, batch_size: int, max_batches: int = 200) -> RetentionReport:
    now = clock.now()
    keys_before, events_before = now - idempotency_retention, now - processor_event_retention
    keys = events = batches = 0
    while batches < max_batches:
        done = store.purge(keys_finished_before=keys_before, events_received_before=events_before, limit=batch_size)
        keys, events, batches = keys + done.idempotency_keys, events + done.processor_events, batches + 1
        if done.idempotency_keys < batch_size and done.processor_events < batch_size:
            return RetentionReport(keys, events, batches, more=False)
    return RetentionReport(keys, events, batches, more=True)
