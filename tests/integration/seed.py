"""A small, consistent world written straight in SQL, inside a transaction the test rolls back.

Book A is available, B is lent (open loan, captured fee), S is sold (standing sale, captured
price). Spare authorised payments let a test try to attach one where the schema forbids it.
"""

from __future__ import annotations

import uuid

import pg8000.native

_BOOK = ("INSERT INTO books (book_id, isbn, title, author, price_cents, borrow_fee_cents, currency) "
         "VALUES (CAST(:id AS uuid), '9780141439518', 'Emma', 'Jane Austen', 999, 99, 'usd')")
_PAYMENT = ("INSERT INTO payments (payment_id, kind, book_id, payer_iss, payer_sub, amount_cents, currency, state, "
            "intent_id) VALUES (CAST(:id AS uuid), :kind, CAST(:book AS uuid), 'https://issuer.test', 'seed', 99, "
            "'usd', :state, :intent)")


def seed(c: pg8000.native.Connection) -> dict[str, str]:
    ids = {name: str(uuid.uuid4()) for name in (
        "A", "B", "S", "fee_A", "buy_A", "fee_B", "fee_B2", "buy_S", "buy_S2", "fee_S", "loan_B", "sale_S")}
    ids["intent_B"] = f"pi_seed_{uuid.uuid4().hex[:12]}"
    ids["key"], ids["event"] = f"key-{uuid.uuid4().hex}", f"evt_{uuid.uuid4().hex}"
    for book in ("A", "B", "S"):
        c.run(_BOOK, id=ids[book])
    for name, kind, book, state in (("fee_A", "borrow_fee", "A", "authorized"), ("buy_A", "purchase", "A", "authorized"),
                                    ("fee_B", "borrow_fee", "B", "captured"), ("fee_B2", "borrow_fee", "B", "authorized"),
                                    ("buy_S", "purchase", "S", "captured"), ("buy_S2", "purchase", "S", "authorized"),
                                    ("fee_S", "borrow_fee", "S", "authorized")):
        c.run(_PAYMENT, id=ids[name], kind=kind, book=ids[book], state=state,
              intent=ids["intent_B"] if name == "fee_B" else None)
    c.run("UPDATE books SET status = 'borrowed' WHERE book_id = CAST(:b AS uuid)", b=ids["B"])
    c.run("INSERT INTO loans (loan_id, book_id, borrower_iss, borrower_sub, payment_id, due_at) VALUES "
          "(CAST(:l AS uuid), CAST(:b AS uuid), 'https://issuer.test', 'seed', CAST(:p AS uuid), now() + interval '21 days')",
          l=ids["loan_B"], b=ids["B"], p=ids["fee_B"])
    c.run("UPDATE payments SET loan_id = CAST(:l AS uuid) WHERE payment_id = CAST(:p AS uuid)", l=ids["loan_B"], p=ids["fee_B"])
    c.run("UPDATE books SET status = 'sold' WHERE book_id = CAST(:b AS uuid)", b=ids["S"])
    c.run("INSERT INTO purchases (purchase_id, book_id, buyer_iss, buyer_sub, payment_id) VALUES "
          "(CAST(:s AS uuid), CAST(:b AS uuid), 'https://issuer.test', 'seed', CAST(:p AS uuid))",
          s=ids["sale_S"], b=ids["S"], p=ids["buy_S"])
    c.run("UPDATE payments SET purchase_id = CAST(:s AS uuid) WHERE payment_id = CAST(:p AS uuid)",
          s=ids["sale_S"], p=ids["buy_S"])
    c.run("INSERT INTO idempotency_keys (user_iss, user_sub, key, fingerprint) VALUES ('https://issuer.test', 'seed', :k, 'f')",
          k=ids["key"])
    c.run("INSERT INTO processor_events (event_id) VALUES (:e)", e=ids["event"])
    c.run("INSERT INTO job_runs (job, last_finished_at) VALUES ('seed-job', now())")
    # Circulation: the title the copies belong to (made by the copies' trigger), a hold in its queue,
    # and a renewal of B's loan with its own fee (and a spare renewal fee).
    ids["T"] = c.run("SELECT title_id::text FROM books WHERE book_id = CAST(:a AS uuid)", a=ids["A"])[0][0]
    ids["hold"], ids["renewal"], ids["fee_R"], ids["fee_R2"] = (str(uuid.uuid4()) for _ in range(4))
    c.run("INSERT INTO holds (hold_id, title_id, patron_iss, patron_sub, placed_at) VALUES "
          "(CAST(:h AS uuid), CAST(:t AS uuid), 'https://issuer.test', 'seed-holder', now())", h=ids["hold"], t=ids["T"])
    for name in ("fee_R", "fee_R2"):
        c.run(_PAYMENT, id=ids[name], kind="renewal", book=ids["B"], state="captured", intent=None)
    c.run("INSERT INTO renewals (renewal_id, loan_id, number, payment_id, renewed_at, previous_due_at, due_at) VALUES "
          "(CAST(:r AS uuid), CAST(:l AS uuid), 1, CAST(:p AS uuid), now(), now(), now() + interval '21 days')",
          r=ids["renewal"], l=ids["loan_B"], p=ids["fee_R"])
    c.run("UPDATE payments SET renewal_id = CAST(:r AS uuid) WHERE payment_id = CAST(:p AS uuid)",
          r=ids["renewal"], p=ids["fee_R"])
    # Patrons: the one who borrowed B (issue 14's fees and notices hang off this row).
    ids["patron"] = c.run("INSERT INTO patrons (issuer, subject, name, email) VALUES "
                          "('https://issuer.test', 'seed', 'Seed', 'seed@example.org') RETURNING patron_id::text")[0][0]
    # Notices (0010): a due-soon notice of B's loan, waiting in the outbox.
    ids["notice"] = c.run("INSERT INTO notices (kind, patron_iss, patron_sub, event_key, loan_id) VALUES "
                          "('due_soon', 'https://issuer.test', 'seed', CAST(:l AS text) || '@due', CAST(:l AS uuid)) "
                          "RETURNING notice_id::text", l=ids["loan_B"])[0][0]
    # Deferred checks on what was written fire now, so that a test may alter a table afterwards.
    c.run("SET CONSTRAINTS ALL IMMEDIATE")
    c.run("SET CONSTRAINTS ALL DEFERRED")
    return ids
