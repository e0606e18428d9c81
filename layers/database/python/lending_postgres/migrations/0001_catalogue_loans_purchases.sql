-- Books, their status history, loans, purchases, the payments ledger and idempotency keys.
-- Races are settled here: a conditional update on books.status decides who wins, and
-- the constraints below make a second open loan, a second sale, or lending a sold copy
-- impossible even if application code were wrong.

CREATE TABLE books (
    book_id          uuid PRIMARY KEY,
    isbn             text NOT NULL CHECK (isbn ~ '^(97[89])?[0-9]{9}[0-9X]$'),
    title            text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    author           text NOT NULL CHECK (length(author) BETWEEN 1 AND 500),
    price_cents      integer NOT NULL CHECK (price_cents > 0),
    borrow_fee_cents integer NOT NULL CHECK (borrow_fee_cents > 0),
    currency         char(3) NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    status           text NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'borrowed', 'sold')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (book_id, status)  -- target of the loan/sale foreign keys below
);
CREATE INDEX books_isbn ON books (isbn);
CREATE INDEX books_status_created ON books (status, created_at, book_id);

CREATE TABLE book_status_history (
    entry_id   bigserial PRIMARY KEY,
    book_id    uuid NOT NULL REFERENCES books (book_id),
    status     text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX book_status_history_book ON book_status_history (book_id, entry_id);

-- Every status change appends to the history, whatever code made it.
CREATE FUNCTION record_book_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO book_status_history (book_id, status) VALUES (NEW.book_id, NEW.status);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER books_status_history AFTER INSERT OR UPDATE OF status ON books
    FOR EACH ROW EXECUTE FUNCTION record_book_status();

CREATE TABLE payments (
    payment_id       uuid PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('borrow_fee', 'purchase')),
    book_id          uuid NOT NULL REFERENCES books (book_id),
    payer_iss        text NOT NULL,
    payer_sub        text NOT NULL,
    amount_cents     integer NOT NULL CHECK (amount_cents > 0),
    currency         char(3) NOT NULL,
    state            text NOT NULL CHECK (state IN ('pending', 'authorized', 'captured', 'canceled', 'refunded', 'failed')),
    processor_synced boolean NOT NULL DEFAULT true,
    intent_id        text UNIQUE,
    loan_id          uuid,
    purchase_id      uuid,
    idempotency_key  text,
    request_id       text,
    failure_reason   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_unsettled ON payments (updated_at)
    WHERE state IN ('pending', 'authorized') OR NOT processor_synced;

CREATE TABLE loans (
    loan_id       uuid PRIMARY KEY,
    book_id       uuid NOT NULL REFERENCES books (book_id),
    borrower_iss  text NOT NULL,
    borrower_sub  text NOT NULL,
    borrower_name text,
    payment_id    uuid NOT NULL REFERENCES payments (payment_id),
    borrowed_at   timestamptz NOT NULL DEFAULT now(),
    due_at        timestamptz NOT NULL,
    returned_at   timestamptz,
    closed_reason text,
    -- 'borrowed' while open, NULL once closed: an open loan must point at a borrowed book.
    open_status   text GENERATED ALWAYS AS (CASE WHEN returned_at IS NULL THEN 'borrowed' END) STORED,
    FOREIGN KEY (book_id, open_status) REFERENCES books (book_id, status),
    CHECK (returned_at IS NULL OR returned_at >= borrowed_at)
);
CREATE UNIQUE INDEX loans_one_open_per_book ON loans (book_id) WHERE returned_at IS NULL;
CREATE INDEX loans_borrower ON loans (borrower_iss, borrower_sub, borrowed_at DESC);

CREATE TABLE purchases (
    purchase_id   uuid PRIMARY KEY,
    book_id       uuid NOT NULL REFERENCES books (book_id),
    buyer_iss     text NOT NULL,
    buyer_sub     text NOT NULL,
    payment_id    uuid NOT NULL REFERENCES payments (payment_id),
    purchased_at  timestamptz NOT NULL DEFAULT now(),
    reversed_at   timestamptz,
    reversed_reason text,
    -- 'sold' while the sale stands: a standing sale must point at a sold book.
    sold_status   text GENERATED ALWAYS AS (CASE WHEN reversed_at IS NULL THEN 'sold' END) STORED,
    FOREIGN KEY (book_id, sold_status) REFERENCES books (book_id, status)
);
CREATE UNIQUE INDEX purchases_one_sale_per_book ON purchases (book_id) WHERE reversed_at IS NULL;
CREATE INDEX purchases_buyer ON purchases (buyer_iss, buyer_sub, purchased_at DESC);

ALTER TABLE payments ADD FOREIGN KEY (loan_id) REFERENCES loans (loan_id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE payments ADD FOREIGN KEY (purchase_id) REFERENCES purchases (purchase_id) DEFERRABLE INITIALLY DEFERRED;
-- A payment pays for one thing at most.
ALTER TABLE payments ADD CHECK (loan_id IS NULL OR purchase_id IS NULL);
CREATE UNIQUE INDEX payments_one_per_loan ON payments (loan_id) WHERE loan_id IS NOT NULL;
CREATE UNIQUE INDEX payments_one_per_purchase ON payments (purchase_id) WHERE purchase_id IS NOT NULL;

CREATE TABLE idempotency_keys (
    user_iss      text NOT NULL,
    user_sub      text NOT NULL,
    key           text NOT NULL,
    fingerprint   text NOT NULL,
    status_code   integer,
    response_body text,
    content_type  text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    PRIMARY KEY (user_iss, user_sub, key)
);

CREATE TABLE processor_events (
    event_id    text PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now()
);
