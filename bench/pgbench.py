# ruff: noqa: E501 - the pgbench script keeps one SQL statement per line
"""The database's own limit for this work: pgbench running a borrow -> return cycle's SQL.

The script is the statements lending_postgres runs for one borrow (book lookup, ledger
row, three ledger updates, the conditional move with the loan and the attach, the
capture mark) and one return (lookup, the locked close), each in the same transaction
boundaries, with the extended query protocol (parse + bind + execute per statement)
as the service uses it. No processor, no token, no HTTP: what is left is PostgreSQL.
pgbench's client i works on its own book, as the service's clients do.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

BOOK = "CAST('00000000-0000-4000-8000-' || lpad(:client_id::text, 12, '0') AS uuid)"
BOOK_COLUMNS = "book_id::text, isbn, title, author, price_cents, borrow_fee_cents, currency, status, created_at"
LOAN_COLUMNS = ("l.loan_id::text, l.book_id::text, l.borrower_iss, l.borrower_sub, l.borrower_name, l.borrowed_at, "
                "l.due_at, l.returned_at, l.payment_id::text, l.closed_reason, b.title")

SCRIPT = f"""
SELECT {BOOK_COLUMNS} FROM books WHERE book_id = {BOOK};
BEGIN;
INSERT INTO payments (payment_id, kind, book_id, payer_iss, payer_sub, amount_cents, currency, state, intent_id, idempotency_key, request_id) VALUES (gen_random_uuid(), 'borrow_fee', {BOOK}, 'https://issuer.bench', 'pgbench', 199, 'usd', 'pending', NULL, NULL, 'pgbench') RETURNING payment_id::text AS pid \\gset
COMMIT;
BEGIN;
UPDATE payments SET state = 'pending', intent_id = coalesce('pi_' || :pid, intent_id), failure_reason = coalesce(NULL, failure_reason), processor_synced = true, updated_at = now() WHERE payment_id = CAST(:pid AS uuid) RETURNING 1;
COMMIT;
BEGIN;
UPDATE payments SET state = 'authorized', intent_id = coalesce(NULL, intent_id), failure_reason = coalesce(NULL, failure_reason), processor_synced = true, updated_at = now() WHERE payment_id = CAST(:pid AS uuid) RETURNING 1;
COMMIT;
BEGIN;
UPDATE books SET status = 'borrowed' WHERE book_id = {BOOK} AND status = 'available' RETURNING 1;
INSERT INTO loans (loan_id, book_id, borrower_iss, borrower_sub, borrower_name, payment_id, due_at) VALUES (gen_random_uuid(), {BOOK}, 'https://issuer.bench', 'pgbench', 'Bench', CAST(:pid AS uuid), now() + interval '21 days') RETURNING loan_id::text AS lid \\gset
UPDATE payments SET loan_id = CAST(:lid AS uuid), updated_at = now() WHERE payment_id = CAST(:pid AS uuid) AND state = 'authorized' AND loan_id IS NULL AND purchase_id IS NULL RETURNING 1;
SELECT {LOAN_COLUMNS} FROM loans l JOIN books b USING (book_id) WHERE l.loan_id = CAST(:lid AS uuid);
COMMIT;
BEGIN;
UPDATE payments SET state = 'captured', intent_id = coalesce(NULL, intent_id), failure_reason = coalesce(NULL, failure_reason), processor_synced = true, updated_at = now() WHERE payment_id = CAST(:pid AS uuid) RETURNING 1;
COMMIT;
SELECT {BOOK_COLUMNS} FROM books WHERE book_id = {BOOK};
BEGIN;
SELECT loan_id::text, borrower_iss, borrower_sub FROM loans WHERE book_id = {BOOK} AND returned_at IS NULL FOR UPDATE;
UPDATE loans SET returned_at = now(), closed_reason = 'returned' WHERE loan_id = CAST(:lid AS uuid);
UPDATE books SET status = 'available' WHERE book_id = {BOOK} AND status = 'borrowed' RETURNING 1;
SELECT {LOAN_COLUMNS} FROM loans l JOIN books b USING (book_id) WHERE l.loan_id = CAST(:lid AS uuid);
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
