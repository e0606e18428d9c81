"""Fees on PostgreSQL: the account (balance summed by the patron_balances view), paying it, waivers,
declaring overdue loans lost, and finding patrons (migration 0009_fees.sql).

Paying and waiving lock the patron's row in `patrons` first: two payments (or a payment and a
waiver) of one patron take turns, and the second sees what the first did to the balance.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from lending.errors import BalanceChanged, ChargeNotFound, PatronNotFound, PaymentReleased, WaiverRefused
from lending.fees_model import Account, Charge, ChargeKind, FeePolicy, Lost
from lending.model import Book, Patron, User
from lending_postgres.circulation import lock_title
from lending_postgres.fee_moves import declare_one_lost
from lending_postgres.notice_hooks import write_notice
from lending_postgres.patrons import _PATRON, patron_row
from lending_postgres.rows import BOOK_BY_ID, book_row

_CHARGE = ("c.charge_id::text, c.patron_iss, c.patron_sub, c.kind, c.amount_cents, c.currency, c.created_at, "
           "c.loan_id::text, b.title, c.payment_id::text, c.cancels::text, c.reason, "
           "coalesce(c.librarian_name, c.librarian_sub), (c.kind <> 'payment' OR p.state IN ('authorized', 'captured'))")
_FROM = ("FROM charges c LEFT JOIN loans l ON l.loan_id = c.loan_id LEFT JOIN books b ON b.book_id = l.book_id "
         "LEFT JOIN payments p ON p.payment_id = c.payment_id")


_STANDING = ("SELECT coalesce((SELECT balance_cents FROM patron_balances WHERE patron_iss = :iss "
             "AND patron_sub = :sub AND currency = :cur), 0), (SELECT min(due_at) FROM loans "
             "WHERE borrower_iss = :iss AND borrower_sub = :sub AND returned_at IS NULL)")


def charge_row(r: list[Any]) -> Charge:
    return Charge(r[0], r[1], r[2], ChargeKind(r[3]), r[4], r[5].strip(), r[6], r[7], r[8], r[9], r[10], r[11],
                  r[12], bool(r[13]))


def _balance(c: Any, iss: str, sub: str, currency: str) -> int:
    rows = c.run("SELECT balance_cents FROM patron_balances WHERE patron_iss = :iss AND patron_sub = :sub "
                 "AND currency = :cur", iss=iss, sub=sub, cur=currency)
    return int(rows[0][0]) if rows else 0


def _lock_patron(c: Any, iss: str, sub: str) -> None:
    c.run("INSERT INTO patrons (issuer, subject) VALUES (:iss, :sub) ON CONFLICT (issuer, subject) DO NOTHING",
          iss=iss, sub=sub)
    c.run("SELECT 1 FROM patrons WHERE issuer = :iss AND subject = :sub FOR UPDATE", iss=iss, sub=sub)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class FeeRecords:
    pool: Any

    def account(self, patron: User, currency: str) -> Account:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {_CHARGE} {_FROM} WHERE c.patron_iss = :iss AND c.patron_sub = :sub "
                         "ORDER BY c.created_at DESC, c.charge_id LIMIT 500", iss=patron.issuer, sub=patron.subject)
            balance = _balance(c, patron.issuer, patron.subject, currency)
            oldest = c.run("SELECT min(due_at) FROM loans WHERE borrower_iss = :iss AND borrower_sub = :sub "
                           "AND returned_at IS NULL", iss=patron.issuer, sub=patron.subject)[0][0]
        return Account(balance, currency, [charge_row(r) for r in rows], oldest)

    def standing(self, patron: User, currency: str) -> Account:
        with self.pool.connection() as c:
            balance, oldest = c.run(_STANDING, iss=patron.issuer, sub=patron.subject, cur=currency)[0]
        return Account(int(balance), currency, [], oldest)

    def standing_and_copy(self, patron: User, currency: str, book_id: str) -> tuple[Account, Book | None]:
        """Both reads in one round trip (a pipeline), on the primary: the copy is about to be lent."""
        with self.pool.connection() as c:
            standing, copy = c.pipeline((_STANDING, {"iss": patron.issuer, "sub": patron.subject, "cur": currency}),
                                        (BOOK_BY_ID, {"id": book_id}))
        balance, oldest = standing[0]
        return Account(int(balance), currency, [], oldest), book_row(copy[0]) if copy else None

    def fee_payment_charge(self, payment_id: str) -> Charge | None:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {_CHARGE} {_FROM} WHERE c.payment_id = CAST(:p AS uuid)", p=payment_id)
        return charge_row(rows[0]) if rows else None

    def record_fee_payment(self, payment_id: str, patron: User) -> Charge:
        with self.pool.transaction() as c:
            _lock_patron(c, patron.issuer, patron.subject)
            paid = c.run("SELECT amount_cents, currency, state FROM payments WHERE payment_id = CAST(:p AS uuid) "
                         "AND kind = 'fee_payment' AND payer_iss = :iss AND payer_sub = :sub FOR UPDATE",
                         p=payment_id, iss=patron.issuer, sub=patron.subject)
            if not paid or paid[0][2] != "authorized":
                raise PaymentReleased("The payment authorisation was released before it could be credited; "
                                      "nothing was charged, please try again.")
            amount, currency = int(paid[0][0]), paid[0][1].strip()
            if c.run("SELECT 1 FROM charges WHERE payment_id = CAST(:p AS uuid)", p=payment_id):
                raise BalanceChanged("This payment was credited already.", reason="balance_changed")
            if _balance(c, patron.issuer, patron.subject, currency) != amount:
                raise BalanceChanged("Your balance changed while the card was authorised (another payment or a new "
                                     "fee); nothing was charged, please look at your account again.",
                                     reason="balance_changed")
            charge_id = str(uuid.uuid4())
            c.run("INSERT INTO charges (charge_id, patron_iss, patron_sub, kind, amount_cents, currency, payment_id) "
                  "VALUES (CAST(:id AS uuid), :iss, :sub, 'payment', :amount, :cur, CAST(:p AS uuid))",
                  id=charge_id, iss=patron.issuer, sub=patron.subject, amount=-amount, cur=currency, p=payment_id)
            c.run("UPDATE payments SET updated_at = now() WHERE payment_id = CAST(:p AS uuid)", p=payment_id)
            write_notice(c, kind="payment_receipt", patron_iss=patron.issuer, patron_sub=patron.subject,
                         charge_id=charge_id, payment_id=payment_id,
                         details={"amount_cents": amount, "currency": currency})
            rows = c.run(f"SELECT {_CHARGE} {_FROM} WHERE c.charge_id = CAST(:id AS uuid)", id=charge_id)
        return charge_row(rows[0])

    def waive_charge(self, patron_id: str, charge_id: str, librarian: User, reason: str) -> Charge:
        with self.pool.transaction() as c:
            who = c.run("SELECT issuer, subject FROM patrons WHERE patron_id = CAST(:p AS uuid) FOR UPDATE", p=patron_id)
            if not who:
                raise PatronNotFound(f"No patron with id {patron_id}.")
            iss, sub = who[0]
            found = c.run("SELECT kind, amount_cents, currency, loan_id::text, (SELECT coalesce(sum(u.amount_cents), 0) "
                          "FROM charges u WHERE u.cancels = c.charge_id), EXISTS (SELECT 1 FROM charges w WHERE "
                          "w.cancels = c.charge_id AND w.kind = 'waiver') FROM charges c WHERE c.charge_id = CAST(:c AS uuid) "
                          "AND c.patron_iss = :iss AND c.patron_sub = :sub", c=charge_id, iss=iss, sub=sub)
            if not found:
                raise ChargeNotFound(f"This patron has no charge {charge_id}.")
            kind, amount, currency, loan_id, undone, waived = found[0]
            if waived:
                raise WaiverRefused("This charge was waived already.", reason="already_waived")
            left = min(int(amount) + int(undone), _balance(c, iss, sub, currency.strip()))
            if kind not in ("late_fee", "lost_item") or left <= 0:
                raise WaiverRefused("Only a late fee or a lost-item charge still owed can be waived.",
                                    reason="not_waivable")
            waiver_id = str(uuid.uuid4())
            c.run("INSERT INTO charges (charge_id, patron_iss, patron_sub, kind, amount_cents, currency, loan_id, cancels, "
                  "reason, librarian_iss, librarian_sub, librarian_name) VALUES (CAST(:id AS uuid), :iss, :sub, 'waiver', "
                  ":amount, :cur, NULL, CAST(:c AS uuid), :reason, :liss, :lsub, :lname)",
                  id=waiver_id, iss=iss, sub=sub, amount=-left, cur=currency.strip(), c=charge_id, reason=reason,
                  liss=librarian.issuer, lsub=librarian.subject, lname=librarian.name or librarian.handle)
            rows = c.run(f"SELECT {_CHARGE} {_FROM} WHERE c.charge_id = CAST(:id AS uuid)", id=waiver_id)
        return charge_row(rows[0])

    def declare_lost(self, *, now: datetime, lost_after: timedelta, fees: FeePolicy) -> list[Lost]:
        with self.pool.connection() as c:
            due = c.run("SELECT l.loan_id::text, b.title_id::text FROM loans l JOIN books b USING (book_id) "
                        "WHERE l.returned_at IS NULL AND l.due_at < :cut ORDER BY l.due_at LIMIT 1000",
                        cut=now - lost_after)
        lost: list[Lost] = []
        for loan_id, title_id in due:
            with self.pool.transaction() as c:  # one loan per transaction, under its title's lock
                lock_title(c, title_id)
                done = declare_one_lost(c, loan_id, now=now, lost_after=lost_after, fees=fees)
            if done:
                lost.append(Lost(loan_id, done[0], done[1], done[2]))
        return lost

    def search_patrons(self, text: str | None, limit: int) -> list[Patron]:
        where = "TRUE"
        params: dict[str, Any] = {"limit": limit}
        if text:
            where = ("lending_fold(coalesce(name, '') || ' ' || coalesce(email, '') || ' ' || subject) "
                     "LIKE lending_fold(:q)")
            params["q"] = _like(text)
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {_PATRON} FROM patrons WHERE {where} ORDER BY name NULLS LAST, subject LIMIT :limit",
                         **params)
        return [patron_row(r) for r in rows]

    def patron_by_id(self, patron_id: str) -> Patron | None:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {_PATRON} FROM patrons WHERE patron_id = CAST(:p AS uuid)", p=patron_id)
        return patron_row(rows[0]) if rows else None
