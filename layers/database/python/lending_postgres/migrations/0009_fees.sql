-- Fees (issue 14): charges on a patron's account, a balance the database sums, and a fourth
-- payment kind, 'fee_payment', that pays the balance by card and belongs to no copy.
-- Online-safe: a new table, view and functions; on payments, DROP NOT NULL (catalogue only) and
-- CHECKs added NOT VALID (validated by 0009_fees_validate.sql in its own transaction); on loans, a
-- nullable column without a default (no rewrite).

-- A fee payment pays the account, not a copy: it has no book. Every other kind still has one.
ALTER TABLE payments ALTER COLUMN book_id DROP NOT NULL;
ALTER TABLE payments DROP CONSTRAINT payments_kind_check;
ALTER TABLE payments ADD CONSTRAINT payments_kind_check
    CHECK (kind IN ('borrow_fee', 'purchase', 'renewal', 'fee_payment')) NOT VALID;
ALTER TABLE payments ADD CONSTRAINT payments_book_unless_fee_payment
    CHECK ((book_id IS NULL) = (kind = 'fee_payment')) NOT VALID;

-- A lost loan is closed (closed_reason 'lost'); found_at says when its copy came back.
ALTER TABLE loans ADD COLUMN IF NOT EXISTS found_at timestamptz;

-- Debits are positive (late_fee, lost_item), credits negative (lost_item_reversed, payment, waiver).
CREATE TABLE charges (
    charge_id     uuid PRIMARY KEY,
    patron_iss    text NOT NULL,
    patron_sub    text NOT NULL,
    kind          text NOT NULL CONSTRAINT charges_kind_check
                       CHECK (kind IN ('late_fee', 'lost_item', 'lost_item_reversed', 'payment', 'waiver')),
    amount_cents  integer NOT NULL,
    currency      char(3) NOT NULL CONSTRAINT charges_currency_check CHECK (currency ~ '^[a-z]{3}$'),
    loan_id       uuid CONSTRAINT charges_loan_id_fkey REFERENCES loans (loan_id),
    renewal_id    uuid CONSTRAINT charges_renewal_id_fkey REFERENCES renewals (renewal_id),  -- a late fee settled by renewing
    payment_id    uuid CONSTRAINT charges_payment_id_fkey REFERENCES payments (payment_id),
    cancels       uuid CONSTRAINT charges_cancels_fkey REFERENCES charges (charge_id),  -- what a waiver or reversal undoes
    late_from     timestamptz,  -- a late fee counts the time from late_from to late_until
    late_until    timestamptz,
    reason        text CONSTRAINT charges_reason_check CHECK (length(reason) BETWEEN 1 AND 500),
    librarian_iss text,
    librarian_sub text,
    librarian_name text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT charges_sign CHECK (CASE WHEN kind IN ('late_fee', 'lost_item') THEN amount_cents > 0
                                        ELSE amount_cents < 0 END),
    CONSTRAINT charges_loan_fees_name_a_loan
        CHECK ((kind IN ('late_fee', 'lost_item', 'lost_item_reversed')) = (loan_id IS NOT NULL)),
    CONSTRAINT charges_payment_names_a_payment CHECK ((kind = 'payment') = (payment_id IS NOT NULL)),
    CONSTRAINT charges_undo_names_a_charge CHECK ((kind IN ('waiver', 'lost_item_reversed')) = (cancels IS NOT NULL)),
    CONSTRAINT charges_waiver_by_a_librarian_with_a_reason
        CHECK (kind <> 'waiver' OR (reason IS NOT NULL AND librarian_iss IS NOT NULL AND librarian_sub IS NOT NULL)),
    CONSTRAINT charges_late_fee_period CHECK ((kind = 'late_fee') = (late_from IS NOT NULL AND late_until > late_from)),
    CONSTRAINT charges_renewal_only_on_late_fees CHECK (renewal_id IS NULL OR kind = 'late_fee')
);
CREATE INDEX charges_patron ON charges (patron_iss, patron_sub, created_at DESC);
-- One late fee per return (renewal_id NULL) and one per renewal; one lost charge per loan.
CREATE UNIQUE INDEX charges_one_late_fee_per_return ON charges (loan_id) WHERE kind = 'late_fee' AND renewal_id IS NULL;
CREATE UNIQUE INDEX charges_one_late_fee_per_renewal ON charges (renewal_id) WHERE kind = 'late_fee';
CREATE UNIQUE INDEX charges_one_lost_item_per_loan ON charges (loan_id) WHERE kind = 'lost_item';
-- One waiver per charge, one reversal per lost charge; one payment charge per payment.
CREATE UNIQUE INDEX charges_one_undo_per_charge ON charges (cancels, kind) WHERE cancels IS NOT NULL;
CREATE UNIQUE INDEX charges_one_per_payment ON charges (payment_id) WHERE payment_id IS NOT NULL;

-- Rules that span tables, checked with the row they name locked.
CREATE FUNCTION check_charge() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    paid record;
    undone record;
BEGIN
    IF NEW.kind = 'payment' THEN
        SELECT kind, state, payer_iss, payer_sub, amount_cents, currency INTO paid
            FROM payments WHERE payment_id = NEW.payment_id FOR UPDATE;
        IF NOT FOUND OR paid.kind <> 'fee_payment' OR paid.state NOT IN ('authorized', 'captured')
                OR (paid.payer_iss, paid.payer_sub) IS DISTINCT FROM (NEW.patron_iss, NEW.patron_sub)
                OR paid.amount_cents <> -NEW.amount_cents OR paid.currency <> NEW.currency THEN
            RAISE EXCEPTION 'charge %: a payment charge must credit its patron exactly an authorised or captured fee_payment', NEW.charge_id
                USING ERRCODE = 'check_violation', CONSTRAINT = TG_NAME, TABLE = TG_TABLE_NAME;
        END IF;
    END IF;
    IF NEW.cancels IS NOT NULL THEN
        SELECT kind, patron_iss, patron_sub, amount_cents, loan_id INTO undone FROM charges WHERE charge_id = NEW.cancels;
        IF NOT FOUND OR (undone.patron_iss, undone.patron_sub) IS DISTINCT FROM (NEW.patron_iss, NEW.patron_sub)
                OR undone.amount_cents < -NEW.amount_cents
                OR (NEW.kind = 'waiver' AND undone.kind NOT IN ('late_fee', 'lost_item'))
                OR (NEW.kind = 'lost_item_reversed' AND (undone.kind <> 'lost_item' OR undone.loan_id <> NEW.loan_id)) THEN
            RAISE EXCEPTION 'charge %: a waiver or reversal undoes at most one debit of the same patron', NEW.charge_id
                USING ERRCODE = 'check_violation', CONSTRAINT = TG_NAME, TABLE = TG_TABLE_NAME;
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER charges_rules BEFORE INSERT OR UPDATE ON charges FOR EACH ROW EXECUTE FUNCTION check_charge();

-- Charges are an account's history: appended, never rewritten or removed (a waiver undoes a charge).
CREATE FUNCTION refuse_charge_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'charges are append-only (% of charge %)', TG_OP, OLD.charge_id
        USING ERRCODE = 'check_violation', CONSTRAINT = TG_NAME, TABLE = TG_TABLE_NAME;
END $$;
CREATE TRIGGER charges_append_only BEFORE UPDATE OR DELETE ON charges
    FOR EACH ROW EXECUTE FUNCTION refuse_charge_rewrite();

-- The balance: the sum of the charges, never stored. A payment charge counts while its payment
-- holds the money (authorised or captured); if reconcile releases or refunds it, the debt is back.
CREATE VIEW account_charges AS
    SELECT c.* FROM charges c LEFT JOIN payments p ON p.payment_id = c.payment_id
    WHERE c.kind <> 'payment' OR p.state IN ('authorized', 'captured');
CREATE VIEW patron_balances AS
    SELECT patron_iss, patron_sub, currency, sum(amount_cents)::bigint AS balance_cents
    FROM account_charges GROUP BY patron_iss, patron_sub, currency;

CREATE INDEX IF NOT EXISTS loans_open_due ON loans (due_at) WHERE returned_at IS NULL;
CREATE INDEX IF NOT EXISTS patrons_names ON patrons USING gin (lending_fold(coalesce(name, '') || ' ' || coalesce(email, '') || ' ' || subject) gin_trgm_ops);
