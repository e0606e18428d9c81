"""GET /reports/overdue, /reports/hold-shelf, /reports/revenue?from=&to=, /reports/circulation?from=&to=:
JSON, or CSV with a header row for `Accept: text/csv`. Days are LIBRARY_TIMEZONE's."""

from lending_http import LIBRARIAN, Call, Response, desk_fields, operation, tables
from lending_http.desk_scope import desk_store

OVERDUE = ("loan_id", "patron_sub", "patron_name", "title", "barcode", "book_id", "borrowed_at", "due_at",
           "days_overdue")
HOLD_SHELF = ("hold_id", "patron_sub", "patron_name", "title", "barcode", "book_id", "ready_at", "ready_until")
REVENUE = ("day", "currency", "borrow_fees_cents", "renewals_cents", "sales_cents", "fee_payments_cents",
           "other_cents", "refunds_cents", "net_cents")
CIRCULATION = ("day", "loans", "returns", "holds_placed", "holds_filled")


@operation("reports", caller=LIBRARIAN)
def handle(call: Call) -> Response:
    request, store, now, zone = call.request, desk_store(call), call.clock.now(), call.settings.library_timezone
    report = request.path.rstrip("/").rsplit("/", 1)[-1]
    if report == "overdue":
        return tables.table(request, report, OVERDUE, store.overdue_report(now))
    if report == "hold-shelf":
        return tables.table(request, report, HOLD_SHELF, store.hold_shelf_report())
    start, end = desk_fields.day_range(request.query_one, desk_fields.local_today(now, zone))
    rows = store.revenue_report(start, end, zone) if report == "revenue" else store.circulation_report(start, end, zone)
    extra = {"from": start.isoformat(), "to": end.isoformat(), "timezone": zone}
    return tables.table(request, report, REVENUE if report == "revenue" else CIRCULATION, rows, extra)
