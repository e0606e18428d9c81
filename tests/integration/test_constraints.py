"""The database refuses, on its own, what each guard forbids: no application code runs here.

Every constraint, unique index and trigger of the migrated schema is found in pg_catalog, and
`test_every_guard_in_the_schema_has_a_test` fails while one has no case in guards.py (or a
case names a guard that is gone), so a future guard must come with its test.
"""

from __future__ import annotations

from typing import Any

import pg8000.native
import pytest
from pg8000.exceptions import DatabaseError

from lending_postgres.refusals import refusal
from tests.integration.guards import CASES, Case

Db = tuple[pg8000.native.Connection, dict[str, str]]
TESTED_ELSEWHERE = {"books_status_history": "test_every_status_change_appends_to_the_history_whatever_code_makes_it"} | {
    # test_circulation_constraints.py: each with the store's moves around it
    name: "test_circulation_constraints" for name in (
        "books_have_a_title", "books_on_shelf_has_a_hold", "holds_copy_of_title", "holds_fulfilled_by_a_loan",
        "holds_one_active_per_patron", "holds_one_ready_per_copy", "holds_ready_copy_on_shelf",
        "holds_ready_has_copy_and_deadline", "holds_status_check", "loans_held_copy_for_its_holder",
        "loans_renewals_check", "payments_pay_for_one_thing", "payments_renewal_is_a_renewal_fee",
        "renewals_extend_the_loan", "renewals_one_per_number", "renewals_one_per_payment", "titles_isbn_key")} | {
    # not refusals: the unique (copy, title) pair is implied by books_pkey and exists as the target of
    # holds_copy_of_title; the trigger gives a copy added by old code its title (the migration test)
    "books_book_title": "books_pkey", "books_assign_title": "test_circulation_migration"} | {
    # not refusals: the triggers that keep each title's counts and words (0012_search_2), each step checked
    # against a recount in test_search_counts.py
    name: "test_search_counts" for name in (
        "books_count_copies_added", "books_count_copies_removed", "books_count_copies_moved", "holds_count_waiting",
        "holds_count_waiting_moved", "titles_remember_words", "titles_remember_renamed_words")}
_GUARDS = """
SELECT conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype <> 'n'
UNION
SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE c.relnamespace = 'public'::regnamespace AND i.indisunique
   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))
UNION
SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
"""
_NOT_NULL = """
SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
   AND a.attnotnull AND a.attgenerated = ''
 ORDER BY 1, 2
"""


def refused(c: pg8000.native.Connection, sql: str, ids: dict[str, str], isolate: tuple[str, ...] = ()) -> DatabaseError:
    c.run("SAVEPOINT forbidden")
    for statement in isolate:
        c.run(statement)
    with pytest.raises(DatabaseError) as caught:
        c.run(sql, **ids)
    c.run("ROLLBACK TO SAVEPOINT forbidden")
    return caught.value


def fields(exc: DatabaseError) -> dict[str, Any]:
    return exc.args[0]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.guard}: {c.why}" for c in CASES])
def test_the_database_refuses_what_the_guard_forbids(case: Case, db: Db) -> None:
    c, ids = db
    error = fields(refused(c, case.sql, ids, case.isolate))
    assert (error["C"], error.get("n")) == (case.sqlstate, case.guard), error["M"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.guard}: {c.why}" for c in CASES])
def test_the_store_turns_a_refusal_into_the_error_a_race_loser_gets(case: Case, db: Db) -> None:
    c, ids = db
    translated = refusal(refused(c, case.sql, ids, case.isolate))
    assert type(translated) is case.means if case.means else translated is None, translated


def test_every_status_change_appends_to_the_history_whatever_code_makes_it(db: Db) -> None:
    c, ids = db

    def history(book: str) -> list[str]:
        return [r[0] for r in c.run("SELECT status FROM book_status_history WHERE book_id = CAST(:b AS uuid) "
                                    "ORDER BY entry_id", b=ids[book])]

    assert history("A") == ["available"]
    assert history("B") == ["available", "borrowed"]
    c.run("UPDATE books SET status = 'sold' WHERE book_id = CAST(:b AS uuid)", b=ids["A"])
    assert history("A") == ["available", "sold"], "a status change without its history row"
    c.run("UPDATE books SET status = status, title = 'Emma (2nd)' WHERE book_id = CAST(:b AS uuid)", b=ids["A"])
    assert history("A") == ["available", "sold"], "an update that changed no status added history"
    c.run("UPDATE books SET status = 'available' WHERE book_id = CAST(:b AS uuid)", b=ids["A"])
    assert history("A") == ["available", "sold", "available"]


def test_not_null_columns_refuse_null(db: Db) -> None:
    c, ids = db
    columns = c.run(_NOT_NULL)
    assert len(columns) > 40, columns  # the catalogue query itself is not silently empty
    missed = []
    for table, column in columns:
        isolate = ("ALTER TABLE book_status_history DISABLE TRIGGER book_status_history_append_only",) \
            if table == "book_status_history" else ()
        sql = f"UPDATE {table} SET {column} = NULL WHERE ctid = (SELECT ctid FROM {table} LIMIT 1)"
        error = fields(refused(c, sql, ids, isolate))
        if (error["C"], error.get("c")) != ("23502", column):
            missed.append((table, column, error["C"], error["M"]))
    assert missed == []


def test_every_guard_in_the_schema_has_a_test(db: Db) -> None:
    c, _ = db
    in_schema = {r[0] for r in c.run(_GUARDS)}
    tested = {case.guard for case in CASES} | set(TESTED_ELSEWHERE)
    assert in_schema - tested == set(), "guards without a test: add a Case to tests/integration/guards.py"
    assert tested - in_schema == set(), "tests for guards the schema no longer has"
    assert "loans_one_open_per_book" in in_schema and "books_status_history" in in_schema
