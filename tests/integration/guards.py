"""Every guard in the schema, and SQL that does exactly what it forbids.

Each case names the guard (constraint, unique index or trigger) the database must refuse it
with, and the SQLSTATE. Statements in `isolate` switch off, inside the rolled-back
transaction, another guard that would otherwise refuse the same statement first. `means` is
the domain error the store turns the refusal into when a race meets it (None: not a race,
it stays a database error). Parameters are the ids from tests/integration/seed.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from lending.errors import BookNotFound, BookUnavailable, LendingError, PaymentReleased


@dataclass(frozen=True)
class Case:
    guard: str
    sqlstate: str
    why: str
    sql: str
    isolate: tuple[str, ...] = ()
    means: type[LendingError] | None = None


def _id(name: str) -> str:
    return f"CAST(:{name} AS uuid)"


_NEW = "gen_random_uuid()"
_LOAN = "INSERT INTO loans (loan_id, book_id, borrower_iss, borrower_sub, payment_id, due_at, returned_at) VALUES "
_SALE = "INSERT INTO purchases (purchase_id, book_id, buyer_iss, buyer_sub, payment_id, reversed_at) VALUES "
_DUE = "now() + interval '21 days'"


def _loan(loan: str, book: str, payment: str, returned: str = "NULL") -> str:
    return f"{_LOAN}({loan}, {book}, 'https://issuer.test', 'other', {payment}, {_DUE}, {returned})"


def _sale(sale: str, book: str, payment: str, reversed_at: str = "NULL") -> str:
    return f"{_SALE}({sale}, {book}, 'https://issuer.test', 'other', {payment}, {reversed_at})"


def _set(table: str, assignment: str, key: str, name: str) -> str:
    return f"UPDATE {table} SET {assignment} WHERE {key} = {_id(name)}"


_PAY = ("INSERT INTO payments (payment_id, kind, book_id, payer_iss, payer_sub, amount_cents, currency, state) "
        "VALUES ({id}, 'borrow_fee', {book}, 'https://issuer.test', 'other', 99, 'usd', 'pending')")
_BOOK = ("INSERT INTO books (book_id, isbn, title, author, price_cents, borrow_fee_cents, currency) "
         "VALUES ({id}, '9780141439518', 'Emma', 'Jane Austen', 999, 99, 'usd')")
_NO_PAYMENT_TRIGGER = "ALTER TABLE {} DISABLE TRIGGER {}_payment_pays_for_this"

CASES: tuple[Case, ...] = (
    # books
    Case("books_pkey", "23505", "a second book with the same id", _BOOK.format(id=_id("A"))),
    Case("books_isbn_check", "23514", "an ISBN that is not one", _set("books", "isbn = '12345'", "book_id", "A")),
    Case("books_title_check", "23514", "an empty title", _set("books", "title = ''", "book_id", "A")),
    Case("books_author_check", "23514", "an author of 501 characters", _set("books", "author = repeat('a', 501)", "book_id", "A")),
    Case("books_price_cents_check", "23514", "a free sale", _set("books", "price_cents = 0", "book_id", "A")),
    Case("books_borrow_fee_cents_check", "23514", "a negative fee", _set("books", "borrow_fee_cents = -1", "book_id", "A")),
    Case("books_currency_check", "23514", "a currency not in lower-case ISO form", _set("books", "currency = 'USD'", "book_id", "A")),
    Case("books_status_check", "23514", "a status outside the six", _set("books", "status = 'misplaced'", "book_id", "A")),
    Case("books_book_id_status_key", "23505", "a second (book, status) pair, with the primary key out of the way",
         _BOOK.format(id=_id("A")), isolate=("ALTER TABLE books DROP CONSTRAINT books_pkey CASCADE",)),
    # the status history
    Case("book_status_history_pkey", "23505", "a history entry with a taken id",
         "INSERT INTO book_status_history (entry_id, book_id, status) SELECT entry_id, book_id, status "
         f"FROM book_status_history WHERE book_id = {_id('A')}"),
    Case("book_status_history_book_id_fkey", "23503", "history of a book that does not exist",
         f"INSERT INTO book_status_history (book_id, status) VALUES ({_NEW}, 'available')"),
    Case("book_status_history_append_only", "P0001", "rewriting the history",
         _set("book_status_history", "status = 'sold'", "book_id", "A")),
    Case("book_status_history_append_only", "P0001", "erasing the history",
         f"DELETE FROM book_status_history WHERE book_id = {_id('B')}"),
    # loans
    Case("loans_one_open_per_book", "23505", "a second open loan of a copy", _loan(_NEW, _id("B"), _id("fee_B2")),
         means=BookUnavailable),
    Case("loans_book_id_open_status_fkey", "23503", "a loan of a sold copy", _loan(_NEW, _id("S"), _id("fee_S")),
         means=BookUnavailable),
    Case("loans_book_id_open_status_fkey", "23503", "an open loan of a copy still marked available",
         _loan(_NEW, _id("A"), _id("fee_A")), means=BookUnavailable),
    Case("loans_book_id_open_status_fkey", "23503", "a lent copy marked available while its loan is open",
         _set("books", "status = 'available'", "book_id", "B"), means=BookUnavailable),
    Case("loans_book_id_open_status_fkey", "23503", "a lent copy sold while its loan is open",
         _set("books", "status = 'sold'", "book_id", "B"), means=BookUnavailable),
    Case("loans_book_id_fkey", "23503", "a loan of a book that does not exist",
         _loan(_NEW, _NEW, _id("fee_A"), "now()"), isolate=(_NO_PAYMENT_TRIGGER.format("loans", "loans"),),
         means=BookNotFound),
    Case("loans_payment_id_fkey", "23503", "a loan paid by a payment that does not exist",
         _loan(_NEW, _id("A"), _NEW, "now()"), means=PaymentReleased),
    Case("loans_check", "23514", "a loan returned before it was borrowed",
         _loan(_NEW, _id("A"), _id("fee_A"), "now() - interval '1 day'")),
    Case("loans_pkey", "23505", "a second loan with a taken id", _loan(_id("loan_B"), _id("B"), _id("fee_B2"), "now()")),
    Case("loans_payment_pays_for_this", "P0001", "a loan paid by the payment of a sale",
         _loan(_NEW, _id("S"), _id("buy_S"), "now()"), means=PaymentReleased),
    Case("loans_payment_pays_for_this", "P0001", "two loans paid by one payment",
         _loan(_NEW, _id("B"), _id("fee_B"), "now()"), means=PaymentReleased),
    Case("loans_payment_pays_for_this", "P0001", "a loan paid by another book's fee",
         _loan(_NEW, _id("A"), _id("fee_B2"), "now()"), means=PaymentReleased),
    # purchases
    Case("purchases_one_sale_per_book", "23505", "a second standing sale", _sale(_NEW, _id("S"), _id("buy_S2")),
         means=BookUnavailable),
    Case("purchases_book_id_sold_status_fkey", "23503", "a sale of a copy still marked available",
         _sale(_NEW, _id("A"), _id("buy_A")), means=BookUnavailable),
    Case("purchases_book_id_sold_status_fkey", "23503", "a sold copy marked available while its sale stands",
         _set("books", "status = 'available'", "book_id", "S"), means=BookUnavailable),
    Case("purchases_book_id_sold_status_fkey", "23503", "a sold copy lent while its sale stands",
         _set("books", "status = 'borrowed'", "book_id", "S"), means=BookUnavailable),
    Case("purchases_book_id_fkey", "23503", "a sale of a book that does not exist",
         _sale(_NEW, _NEW, _id("buy_A"), "now()"), isolate=(_NO_PAYMENT_TRIGGER.format("purchases", "purchases"),),
         means=BookNotFound),
    Case("purchases_payment_id_fkey", "23503", "a sale paid by a payment that does not exist",
         _sale(_NEW, _id("A"), _NEW, "now()"), means=PaymentReleased),
    Case("purchases_pkey", "23505", "a second sale with a taken id", _sale(_id("sale_S"), _id("S"), _id("buy_S2"), "now()")),
    Case("purchases_payment_pays_for_this", "P0001", "a sale paid by a borrow fee",
         _sale(_NEW, _id("A"), _id("fee_A"), "now()"), means=PaymentReleased),
    Case("purchases_payment_pays_for_this", "P0001", "two sales paid by one payment",
         _sale(_NEW, _id("S"), _id("buy_S"), "now()"), means=PaymentReleased),
    # the ledger
    Case("payments_pkey", "23505", "a second payment with a taken id", _PAY.format(id=_id("fee_A"), book=_id("A"))),
    Case("payments_book_id_fkey", "23503", "a payment for a book that does not exist", _PAY.format(id=_NEW, book=_NEW)),
    Case("payments_kind_check", "23514", "a payment of an unknown kind", _set("payments", "kind = 'gift'", "payment_id", "fee_A")),
    Case("payments_amount_cents_check", "23514", "a payment of nothing", _set("payments", "amount_cents = 0", "payment_id", "fee_A")),
    Case("payments_state_check", "23514", "a payment in an unknown state", _set("payments", "state = 'lost'", "payment_id", "fee_A")),
    Case("payments_check", "23514", "a payment for two things (both loan and purchase)",
         _set("payments", f"purchase_id = {_id('sale_S')}", "payment_id", "fee_B"), means=PaymentReleased),
    Case("payments_intent_id_key", "23505", "two payments for one processor intent",
         _set("payments", "intent_id = :intent_B", "payment_id", "fee_A")),
    Case("payments_one_per_loan", "23505", "two payments for one loan",
         _set("payments", f"loan_id = {_id('loan_B')}", "payment_id", "fee_B2"), means=PaymentReleased),
    Case("payments_one_per_purchase", "23505", "two payments for one sale",
         _set("payments", f"purchase_id = {_id('sale_S')}", "payment_id", "buy_S2"), means=PaymentReleased),
    Case("payments_loan_id_fkey", "23503", "a payment for a loan that does not exist (checked at commit)",
         _set("payments", f"loan_id = {_NEW}", "payment_id", "fee_A"), isolate=("SET CONSTRAINTS payments_loan_id_fkey IMMEDIATE",)),
    Case("payments_purchase_id_fkey", "23503", "a payment for a sale that does not exist (checked at commit)",
         _set("payments", f"purchase_id = {_NEW}", "payment_id", "buy_A"),
         isolate=("SET CONSTRAINTS payments_purchase_id_fkey IMMEDIATE",)),
    # keys
    Case("idempotency_keys_pkey", "23505", "one user's key stored twice",
         "INSERT INTO idempotency_keys (user_iss, user_sub, key, fingerprint) VALUES ('https://issuer.test', 'seed', :key, 'g')"),
    Case("processor_events_pkey", "23505", "one processor event remembered twice",
         "INSERT INTO processor_events (event_id) VALUES (:event)"),
    Case("job_runs_pkey", "23505", "one job with two last-run rows",
         "INSERT INTO job_runs (job, last_finished_at) VALUES ('seed-job', now())"),
    # titles, holds and renewals (circulation: most of their guards are proven, with the store's own
    # moves around them, in test_circulation_constraints.py; these are the rest)
    Case("titles_pkey", "23505", "a second title with the same id",
         f"INSERT INTO titles (title_id, isbn, title, author) VALUES ({_id('T')}, '9780261102217', 'T', 'A')"),
    Case("titles_isbn_check", "23514", "a title whose ISBN is not one", _set("titles", "isbn = '12345'", "title_id", "T")),
    Case("titles_title_check", "23514", "an empty title", _set("titles", "title = ''", "title_id", "T")),
    Case("titles_author_check", "23514", "an author of 501 characters", _set("titles", "author = repeat('a', 501)", "title_id", "T")),
    Case("titles_publication_year_check", "23514", "a year 0", _set("titles", "publication_year = 0", "title_id", "T")),
    Case("titles_language_check", "23514", "a language that is no ISO 639 code", _set("titles", "language = 'English'", "title_id", "T")),
    Case("titles_description_check", "23514", "a description of 5001 characters",
         _set("titles", "description = repeat('a', 5001)", "title_id", "T")),
    Case("title_counts_check", "23514", "more copies available than the title has (the counts of 0012_search)",
         _set("title_counts", "copies_available = copies_total + 1", "title_id", "T")),
    Case("title_counts_pkey", "23505", "a title counted twice",
         "INSERT INTO title_counts (title_id) SELECT title_id FROM title_counts LIMIT 1"),
    Case("title_counts_title_id_fkey", "23503", "counts of a title that does not exist",
         f"INSERT INTO title_counts (title_id) VALUES ({_NEW})"),
    Case("search_words_pkey", "23505", "a word of the catalogue remembered twice",
         "INSERT INTO search_words (word) SELECT word FROM search_words LIMIT 1"),
    Case("books_title_id_fkey", "23503", "a copy of a title that does not exist", _set("books", f"title_id = {_NEW}", "book_id", "A")),
    Case("holds_pkey", "23505", "a second hold with the same id",
         f"INSERT INTO holds (hold_id, title_id, patron_iss, patron_sub, placed_at) VALUES ({_id('hold')}, {_id('T')}, 'i', 'x', now())"),
    Case("holds_seq_key", "23505", "two holds at one place in the queue",
         f"INSERT INTO holds (hold_id, title_id, patron_iss, patron_sub, placed_at, seq) "
         f"SELECT {_NEW}, title_id, 'i', 'x', now(), seq FROM holds WHERE hold_id = {_id('hold')}"),
    Case("holds_title_id_fkey", "23503", "a hold on a title that does not exist", _set("holds", f"title_id = {_NEW}", "hold_id", "hold")),
    Case("holds_loan_id_fkey", "23503", "a hold fulfilled by a loan that does not exist",
         _set("holds", f"loan_id = {_NEW}", "hold_id", "hold")),
    Case("renewals_pkey", "23505", "a second renewal with the same id",
         f"INSERT INTO renewals (renewal_id, loan_id, number, payment_id, renewed_at, previous_due_at, due_at) "
         f"SELECT renewal_id, loan_id, number + 1, {_id('fee_A')}, now(), now(), now() + interval '1 day' FROM renewals"),
    Case("renewals_number_check", "23514", "a renewal numbered 0", _set("renewals", "number = 0", "renewal_id", "renewal")),
    Case("renewals_loan_id_fkey", "23503", "a renewal of a loan that does not exist",
         _set("renewals", f"loan_id = {_NEW}", "renewal_id", "renewal")),
    Case("renewals_payment_id_fkey", "23503", "a renewal paid by a payment that does not exist",
         _set("renewals", f"payment_id = {_NEW}", "renewal_id", "renewal")),
    Case("payments_renewal_id_fkey", "23503", "a payment for a renewal that does not exist (checked at commit)",
         _set("payments", f"renewal_id = {_NEW}", "payment_id", "fee_R2"), isolate=("SET CONSTRAINTS payments_renewal_id_fkey IMMEDIATE",)),
    Case("payments_one_per_renewal", "23505", "two payments for one renewal",
         _set("payments", f"renewal_id = {_id('renewal')}", "payment_id", "fee_R2")),
    Case("patrons_one_per_identity", "23505", "a second patron for one issuer and subject",
         "INSERT INTO patrons (issuer, subject) VALUES ('https://issuer.test', 'seed')"),
    Case("patrons_pkey", "23505", "a second patron with the same id",
         f"INSERT INTO patrons (patron_id, issuer, subject) VALUES ({_id('patron')}, 'https://issuer.test', 'x')"),
    Case("patrons_email_check", "23514", "an email address with nothing before the @",
         _set("patrons", "email = '@example.org'", "patron_id", "patron")),
    # notices (0010): the outbox
    Case("notices_pkey", "23505", "a second notice with the same id",
         f"INSERT INTO notices (notice_id, kind, patron_iss, patron_sub, event_key, loan_id) "
         f"VALUES ({_id('notice')}, 'overdue', 'i', 'x', 'other', {_id('loan_B')})"),
    Case("notices_one_per_event", "23505", "a second due-soon notice for one loan and due date",
         f"INSERT INTO notices (kind, patron_iss, patron_sub, event_key, loan_id) "
         f"SELECT kind, patron_iss, patron_sub, event_key, loan_id FROM notices WHERE notice_id = {_id('notice')}"),
    Case("notices_kind_check", "23514", "a kind of notice nobody renders", _set("notices", "kind = 'sms'", "notice_id", "notice")),
    Case("notices_state_check", "23514", "a state outside the five", _set("notices", "state = 'lost'", "notice_id", "notice")),
    Case("notices_attempts_check", "23514", "a negative count of attempts",
         _set("notices", "attempts = -1", "notice_id", "notice")),
    Case("notices_details_check", "23514", "details that are not an object",
         _set("notices", "details = '[]'::jsonb", "notice_id", "notice")),
    Case("notices_sent_when_sent", "23514", "a sent notice without the time it was sent",
         _set("notices", "state = 'sent', sent_to = 'a@b.c'", "notice_id", "notice")),
    Case("notices_claimed_when_sending", "23514", "a notice being sent that nobody claimed",
         _set("notices", "state = 'sending', claimed_at = NULL", "notice_id", "notice")),
    Case("notices_names_its_event", "23514", "a due-soon notice about no loan",
         _set("notices", "loan_id = NULL", "notice_id", "notice")),
    Case("notices_loan_id_fkey", "23503", "a notice about a loan that does not exist",
         _set("notices", f"loan_id = {_NEW}", "notice_id", "notice")),
    Case("notices_hold_id_fkey", "23503", "a notice about a hold that does not exist",
         _set("notices", f"hold_id = {_NEW}", "notice_id", "notice")),
    Case("schema_migrations_pkey", "23505", "a migration applied twice",
         "INSERT INTO schema_migrations (name) SELECT name FROM schema_migrations LIMIT 1"),
)
