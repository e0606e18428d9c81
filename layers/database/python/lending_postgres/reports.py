"""The librarian's reports on PostgreSQL: overdue loans, the hold shelf, revenue and circulation per day.

Days are the library's (`LIBRARY_TIMEZONE`). Revenue comes from the payments ledger only: a payment
counts on the day it was made, in its kind's column, once the processor captured it (`captured`, or
`refunded`: money that was captured and given back); a refund counts on the day the ledger recorded
it, once the processor has made it (`processor_synced`). So each day's net is what the processor
captured that day minus what it refunded.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from lending_postgres.connection import ConnectionPool

KIND_COLUMNS = {"borrow_fee": "borrow_fees_cents", "renewal": "renewals_cents", "purchase": "sales_cents",
                "fee_payment": "fee_payments_cents"}
REVENUE_COLUMNS = ("day", "currency", *KIND_COLUMNS.values(), "other_cents", "refunds_cents", "net_cents")

_OVERDUE = """
SELECT l.loan_id::text, l.borrower_sub, l.borrower_name, t.title, b.barcode, b.book_id::text, l.borrowed_at,
       l.due_at, floor(extract(epoch FROM (:now - l.due_at)) / 86400)::int
  FROM loans l JOIN books b USING (book_id) JOIN titles t ON t.title_id = b.title_id
 WHERE l.returned_at IS NULL AND l.due_at < :now
 ORDER BY l.due_at, l.loan_id LIMIT 5000"""
_HOLD_SHELF = """
SELECT h.hold_id::text, h.patron_sub, h.patron_name, t.title, b.barcode, b.book_id::text, h.ready_at, h.ready_until
  FROM holds h JOIN books b ON b.book_id = h.book_id JOIN titles t ON t.title_id = h.title_id
 WHERE h.status = 'ready' ORDER BY h.ready_until, h.hold_id LIMIT 5000"""
_REVENUE = """
SELECT (created_at AT TIME ZONE :tz)::date AS day, currency, kind, sum(amount_cents)::bigint, 'in'
  FROM payments WHERE state IN ('captured', 'refunded')
   AND created_at >= (CAST(:start AS date)::timestamp AT TIME ZONE :tz)
   AND created_at < ((CAST(:end AS date) + 1)::timestamp AT TIME ZONE :tz)
 GROUP BY 1, 2, 3
UNION ALL
SELECT (refunded_at AT TIME ZONE :tz)::date, currency, kind, sum(amount_cents)::bigint, 'out'
  FROM payments WHERE state = 'refunded' AND processor_synced AND refunded_at IS NOT NULL
   AND refunded_at >= (CAST(:start AS date)::timestamp AT TIME ZONE :tz)
   AND refunded_at < ((CAST(:end AS date) + 1)::timestamp AT TIME ZONE :tz)
 GROUP BY 1, 2, 3"""
_CIRCULATION = """
WITH days AS (SELECT d::date AS day FROM generate_series(CAST(:start AS date), CAST(:end AS date), interval '1 day') d),
 bounds AS (SELECT (CAST(:start AS date)::timestamp AT TIME ZONE :tz) AS lo,
                   ((CAST(:end AS date) + 1)::timestamp AT TIME ZONE :tz) AS hi)
SELECT days.day,
  (SELECT count(*) FROM loans, bounds WHERE borrowed_at >= lo AND borrowed_at < hi
      AND (borrowed_at AT TIME ZONE :tz)::date = days.day),
  (SELECT count(*) FROM loans, bounds WHERE closed_reason = 'returned' AND returned_at >= lo AND returned_at < hi
      AND (returned_at AT TIME ZONE :tz)::date = days.day),
  (SELECT count(*) FROM holds, bounds WHERE placed_at >= lo AND placed_at < hi
      AND (placed_at AT TIME ZONE :tz)::date = days.day),
  (SELECT count(*) FROM holds, bounds WHERE status = 'fulfilled' AND closed_at >= lo AND closed_at < hi
      AND (closed_at AT TIME ZONE :tz)::date = days.day)
  FROM days ORDER BY days.day"""


def _day(value: date) -> str:
    return value.isoformat()


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


class DeskReports:
    pool: ConnectionPool

    def overdue_report(self, now: datetime) -> list[dict[str, Any]]:
        with self.pool.connection() as c:
            rows = c.run(_OVERDUE, now=now)
        return [{"loan_id": r[0], "patron_sub": r[1], "patron_name": r[2], "title": r[3], "barcode": r[4],
                 "book_id": r[5], "borrowed_at": _time(r[6]), "due_at": _time(r[7]), "days_overdue": r[8]}
                for r in rows]

    def hold_shelf_report(self) -> list[dict[str, Any]]:
        with self.pool.connection() as c:
            rows = c.run(_HOLD_SHELF)
        return [{"hold_id": r[0], "patron_sub": r[1], "patron_name": r[2], "title": r[3], "barcode": r[4],
                 "book_id": r[5], "ready_at": _time(r[6]), "ready_until": _time(r[7])} for r in rows]

    def revenue_report(self, start: date, end: date, timezone: str) -> list[dict[str, Any]]:
        with self.pool.connection() as c:
            rows = c.run(_REVENUE, start=start, end=end, tz=timezone)
        days: dict[tuple[date, str], dict[str, Any]] = {}
        for day, currency, kind, cents, direction in rows:
            row = days.setdefault((day, currency.strip()), {
                "day": _day(day), "currency": currency.strip(), **dict.fromkeys(REVENUE_COLUMNS[2:], 0)})
            if direction == "out":
                row["refunds_cents"] += int(cents)
                row["net_cents"] -= int(cents)
            else:
                row[KIND_COLUMNS.get(kind, "other_cents")] += int(cents)
                row["net_cents"] += int(cents)
        return [days[k] for k in sorted(days)]

    def circulation_report(self, start: date, end: date, timezone: str) -> list[dict[str, Any]]:
        with self.pool.connection() as c:
            rows = c.run(_CIRCULATION, start=start, end=end, tz=timezone)
        return [{"day": _day(r[0]), "loans": r[1], "returns": r[2], "holds_placed": r[3], "holds_filled": r[4]}
                for r in rows]
