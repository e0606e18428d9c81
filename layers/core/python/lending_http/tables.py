"""A report as JSON (`{"items": [...]}`) or, for `Accept: text/csv`, as CSV with a header row."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from lending_http.messages import Request, Response

CSV = "text/csv; charset=utf-8"
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run these: kept as text


def wants_csv(request: Request) -> bool:
    return "text/csv" in (request.headers.get("accept") or "").lower()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA) and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def table(request: Request, name: str, columns: Sequence[str], rows: list[dict[str, Any]],
          extra: dict[str, Any] | None = None) -> Response:
    if not wants_csv(request):
        return Response(200, {**(extra or {}), "items": rows})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([_cell(row.get(c)) for c in columns] for row in rows)
    return Response(200, out.getvalue(), {"Content-Disposition": f'attachment; filename="{name}.csv"'}, CSV)
