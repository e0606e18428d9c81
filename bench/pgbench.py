# ruff: noqa: E501 - the pgbench script keeps one SQL statement per line
"""The database's own limit for this work: pgbench running a borrow -> return cycle's SQL.

The script is the statements lending_postgres runs for one borrow (the patron's standing, the book
lookup, the ledger row and its two updates, then in one transaction the title's lock and the one
statement that moves the copy, opens the loan and attaches the payment, and the capture mark) and
one return (in one transaction the title's lock and the statement that closes the loan and shelves
the copy), with the same transaction boundaries and the same round trips: the lock and the statement
after it are pipelined (`\\startpipeline`), as PreparingConnection.pipeline sends them, and since
2026-12-08 the borrow's COMMIT with them (`pipeline(commit=True)`). The extended
query protocol (parse + bind + execute per statement) as the service uses it. No processor, no
token, no HTTP: what is left is PostgreSQL. pgbench's client i works on its own book, as the
service's clients do. Keep it in step with lending_postgres.circulation and .rows.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

BOOK = "CAST('00000000-0000-4000-8000-' || lpad(:client_id::text, 12, '0') AS uuid)"
BOOK_COLUMNS = "book_id::text, isbn, title, author, price_cents, borrow_fee_cents, currency, status, created_at, title_id::text"
LOAN_COLUMNS = ("l.loan_id::text, l.book_id::text, l.borrower_iss, l.borrower_sub, l.borrower_name, l.borrowed_at, "
                "l.due_at, l.returned_at, l.payment_id::text, l.closed_reason, b.title, l.renewals")
PATRON = "patron_iss = 'https://issuer.bench' AND patron_sub = 'pgbench-' || :client_id"
LOCK = f"SELECT t.title_id::text FROM books b JOIN titles t USING (title_id) WHERE b.book_id = {BOOK} FOR NO KEY UPDATE OF t"
UPDATE_PAYMENT = ("UPDATE payments SET state = '{state}', intent_id = coalesce({intent}, intent_id), "
                  "failure_reason = coalesce(NULL, failure_reason), processor_synced = true, updated_at = now(), "
                  "refunded_at = CASE WHEN '{state}' = 'refunded' THEN coalesce(refunded_at, now()) ELSE refunded_at END "
                  "WHERE payment_id = CAST(:pid AS uuid) RETURNING 1")
LEND = ("WITH moved AS (UPDATE books SET status = 'borrowed' WHERE book_id = " + BOOK + " AND status = 'available' RETURNING title), "
        "opened AS (INSERT INTO loans (loan_id, book_id, borrower_iss, borrower_sub, borrower_name, payment_id, due_at) "
        "SELECT gen_random_uuid(), " + BOOK + ", 'https://issuer.bench', 'pgbench-' || :client_id, 'Bench', CAST(:pid AS uuid), "
        "now() + interval '21 days' FROM moved RETURNING *), "
        "attached AS (UPDATE payments SET loan_id = (SELECT loan_id FROM opened), updated_at = now() WHERE payment_id = CAST(:pid AS uuid) "
        "AND state = 'authorized' AND loan_id IS NULL AND purchase_id IS NULL AND renewal_id IS NULL AND EXISTS (SELECT 1 FROM opened) RETURNING 1) "
        "SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM attached), CASE WHEN (SELECT count(*) FROM moved) > 0 "
        "AND (SELECT count(*) FROM attached) = 0 THEN refuse('loans_payment_attached', 'released') END, o.loan_id::text, o.book_id::text, o.borrower_iss, "
        "o.borrower_sub, o.borrower_name, o.borrowed_at, o.due_at, o.returned_at, o.payment_id::text, o.closed_reason, m.title, "
        "o.renewals FROM (VALUES (1)) AS one LEFT JOIN opened o ON true LEFT JOIN moved m ON true")
CLOSE = ("WITH closed AS (UPDATE loans l SET returned_at = now(), closed_reason = 'returned' FROM books b WHERE b.book_id = l.book_id "
         "AND l.book_id = " + BOOK + " AND l.returned_at IS NULL RETURNING " + LOAN_COLUMNS + "), "
         "waiting AS (SELECT hold_id::text, patron_iss, patron_sub FROM holds WHERE title_id = (SELECT title_id FROM books WHERE book_id = "
         + BOOK + ") AND status = 'waiting' ORDER BY seq LIMIT 1 FOR UPDATE), "
         "shelved AS (UPDATE books SET status = CASE WHEN EXISTS (SELECT 1 FROM waiting) THEN 'on_hold_shelf' ELSE 'available' END "
         "WHERE book_id = " + BOOK + " AND status = 'borrowed' AND EXISTS (SELECT 1 FROM closed) RETURNING 1) "
         "SELECT closed.*, (SELECT count(*) FROM shelved), w.hold_id, w.patron_iss, w.patron_sub FROM closed LEFT JOIN waiting w ON true")

SCRIPT = f"""
SELECT coalesce((SELECT balance_cents FROM patron_balances WHERE {PATRON} AND currency = 'usd'), 0), (SELECT min(due_at) FROM loans WHERE borrower_iss = 'https://issuer.bench' AND borrower_sub = 'pgbench-' || :client_id AND returned_at IS NULL);
SELECT {BOOK_COLUMNS} FROM books WHERE book_id = {BOOK};
INSERT INTO payments (payment_id, kind, book_id, payer_iss, payer_sub, amount_cents, currency, state, intent_id, idempotency_key, request_id) VALUES (gen_random_uuid(), 'borrow_fee', {BOOK}, 'https://issuer.bench', 'pgbench-' || :client_id, 199, 'usd', 'pending', NULL, NULL, 'pgbench') RETURNING payment_id::text AS pid \\gset
{UPDATE_PAYMENT.format(state="pending", intent="'pi_' || :pid")};
{UPDATE_PAYMENT.format(state="authorized", intent="NULL")};
\\startpipeline
BEGIN;
{LOCK};
{LEND};
COMMIT;
\\endpipeline
{UPDATE_PAYMENT.format(state="captured", intent="NULL")};
\\startpipeline
BEGIN;
{LOCK};
{CLOSE};
\\endpipeline
COMMIT;
"""


def book_id(client: int) -> str:
    return f"00000000-0000-4000-8000-{client:012d}"


def seed_sql(clients: int) -> list[str]:
    return [f"INSERT INTO books (book_id, isbn, title, author, price_cents, borrow_fee_cents, currency) "
            f"VALUES ('{book_id(i)}', '9780141439518', 'pgbench copy {i}', 'Bench', 1299, 199, 'usd')"
            for i in range(clients)]


def run(pgbench: Path, url_parts: dict[str, str], clients: int, seconds: int, workdir: Path,
        started: Callable[[int], None] = lambda pid: None) -> float:
    """Cycles per second (pgbench 'tps', one script run = one borrow -> return cycle)."""
    script = workdir / "borrow_return.sql"
    script.write_text(SCRIPT)
    cmd = [str(pgbench), "-n", "-M", "extended", "-c", str(clients), "-j", "2", "-T", str(seconds),
           "-f", str(script), "-h", url_parts["host"], "-p", url_parts["port"], "-U", url_parts["user"],
           url_parts["database"]]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started(proc.pid)
    stdout, stderr = proc.communicate(timeout=seconds + 120)
    if proc.returncode != 0:
        raise RuntimeError(f"pgbench failed: {stderr[-2000:]}")
    failed = re.search(r"number of failed transactions: (\d+)", stdout)
    if failed and int(failed.group(1)):
        raise RuntimeError(f"pgbench: {failed.group(1)} failed cycles\n{stdout[-2000:]}")
    match = re.search(r"tps = ([0-9.]+)", stdout)
    if not match:
        raise RuntimeError(f"no tps in pgbench output:\n{stdout}")
    return float(match.group(1))
