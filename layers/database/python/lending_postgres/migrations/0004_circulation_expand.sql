-- Circulation (issue 17), step 1 of expand -> migrate -> contract: titles, holds, renewals and
-- the catalogue search, added beside today's schema so the version before this one keeps serving.
-- Online-safe: new tables and functions, nullable columns without defaults (no rewrite), and
-- constraints on existing tables added NOT VALID (no scan under the ACCESS EXCLUSIVE lock), each one
-- that the old version's writes satisfy; the backfill (0005), the copy-has-a-title check (0006) and
-- the VALIDATEs (0007) each run in their own transaction. books.title and books.author stay
-- (the old version reads them): dropping them is a later, destructive migration (docs/circulation.md).

CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
-- pg_trgm prices word similarity like a cheap operator, so the planner would recheck every title
-- (about 1 s per 100,000) instead of using the trigram index (tens of ms). Where we may not alter
-- the extension's functions (it belongs to someone else), search still works, only slower.
DO $$
BEGIN
    ALTER FUNCTION word_similarity_commutator_op(text, text) COST 200;
    ALTER FUNCTION word_similarity(text, text) COST 200;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pg_trgm functions left at their cost: %', SQLERRM;
END $$;

-- unaccent() is only STABLE (its dictionary could change): this wrapper names the dictionary, so
-- it may be declared IMMUTABLE and used in generated columns and indexes.
CREATE FUNCTION lending_fold(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN lower(public.unaccent('public.unaccent'::regdictionary, value));

CREATE TABLE titles (
    title_id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    isbn             text NOT NULL CONSTRAINT titles_isbn_key UNIQUE
                          CONSTRAINT titles_isbn_check CHECK (isbn ~ '^(97[89])?[0-9]{9}[0-9X]$'),
    title            text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    author           text NOT NULL CHECK (length(author) BETWEEN 1 AND 500),
    publication_year integer CONSTRAINT titles_publication_year_check CHECK (publication_year BETWEEN 1 AND 2999),
    language         text CONSTRAINT titles_language_check CHECK (language ~ '^[a-z]{2,3}$'),
    description      text CHECK (length(description) <= 5000),
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- Full-text search (title and ISBN weigh most), accents folded, no stemming: prefixes match as you type.
    search           tsvector GENERATED ALWAYS AS (
                         setweight(to_tsvector('simple'::regconfig, lending_fold(title)), 'A')
                         || setweight(to_tsvector('simple'::regconfig, lending_fold(author)), 'B')
                         || setweight(to_tsvector('simple'::regconfig, isbn), 'A')) STORED,
    -- Folded names for forgiving a typo (pg_trgm word similarity).
    names            text GENERATED ALWAYS AS (lending_fold(title || ' ' || author)) STORED
);
CREATE INDEX titles_search ON titles USING gin (search);
CREATE INDEX titles_names_trgm ON titles USING gin (names gin_trgm_ops);
CREATE INDEX titles_author ON titles (lending_fold(author));
CREATE INDEX titles_language ON titles (language);

-- Copies: today's books rows. Each belongs to a title; a copy may also be on the hold shelf,
-- lost or withdrawn.
ALTER TABLE books ADD COLUMN IF NOT EXISTS title_id uuid;
ALTER TABLE books ADD CONSTRAINT books_title_id_fkey FOREIGN KEY (title_id) REFERENCES titles (title_id) NOT VALID;
-- Not here: books_have_a_title (CHECK title_id IS NOT NULL). A NOT VALID check still holds every
-- row written, updates included, so from this commit to 0005's the version before this one could
-- not lend, return or sell a copy not yet backfilled (500s under a deploy's traffic,
-- tests/deploy/test_online_migration.py). It is added by 0006, once every copy has its title.
ALTER TABLE books DROP CONSTRAINT books_status_check;
ALTER TABLE books ADD CONSTRAINT books_status_check
    CHECK (status IN ('available', 'borrowed', 'on_hold_shelf', 'sold', 'lost', 'withdrawn')) NOT VALID;
CREATE UNIQUE INDEX books_book_title ON books (book_id, title_id);  -- target of holds_copy_of_title
CREATE INDEX books_title_status ON books (title_id, status);

-- A copy added by code that knows no titles (the version before this one) still gets its title.
CREATE FUNCTION assign_title() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.title_id IS NULL THEN
        INSERT INTO titles (isbn, title, author) VALUES (NEW.isbn, NEW.title, NEW.author)
            ON CONFLICT (isbn) DO NOTHING;
        SELECT title_id INTO NEW.title_id FROM titles WHERE isbn = NEW.isbn;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER books_assign_title BEFORE INSERT ON books FOR EACH ROW EXECUTE FUNCTION assign_title();

-- Holds: a patron's place in a title's queue. `seq` is taken under the title's row lock, so the
-- queue's order is the order the holds committed in.
CREATE SEQUENCE holds_seq;
CREATE TABLE holds (
    hold_id      uuid PRIMARY KEY,
    title_id     uuid NOT NULL REFERENCES titles (title_id),
    patron_iss   text NOT NULL,
    patron_sub   text NOT NULL,
    patron_name  text,
    seq          bigint NOT NULL DEFAULT nextval('holds_seq') CONSTRAINT holds_seq_key UNIQUE,
    status       text NOT NULL DEFAULT 'waiting'
                      CONSTRAINT holds_status_check
                      CHECK (status IN ('waiting', 'ready', 'fulfilled', 'cancelled', 'expired')),
    placed_at    timestamptz NOT NULL,
    book_id      uuid,
    loan_id      uuid REFERENCES loans (loan_id),
    ready_at     timestamptz,
    ready_until  timestamptz,
    closed_at    timestamptz,
    -- 'on_hold_shelf' while ready, NULL otherwise: a ready hold must point at a copy on the hold shelf.
    shelf_status text GENERATED ALWAYS AS (CASE WHEN status = 'ready' THEN 'on_hold_shelf' END) STORED,
    CONSTRAINT holds_ready_copy_on_shelf FOREIGN KEY (book_id, shelf_status) REFERENCES books (book_id, status)
        DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT holds_copy_of_title FOREIGN KEY (book_id, title_id) REFERENCES books (book_id, title_id),
    CONSTRAINT holds_ready_has_copy_and_deadline
        CHECK (status <> 'ready' OR (book_id IS NOT NULL AND ready_until IS NOT NULL AND ready_until > ready_at)),
    CONSTRAINT holds_fulfilled_by_a_loan CHECK (status <> 'fulfilled' OR loan_id IS NOT NULL)
);
CREATE UNIQUE INDEX holds_one_active_per_patron ON holds (title_id, patron_iss, patron_sub)
    WHERE status IN ('waiting', 'ready');
CREATE UNIQUE INDEX holds_one_ready_per_copy ON holds (book_id) WHERE status = 'ready';
CREATE INDEX holds_queue ON holds (title_id, seq) WHERE status = 'waiting';
CREATE INDEX holds_patron ON holds (patron_iss, patron_sub, placed_at DESC);
CREATE INDEX holds_ready_until ON holds (ready_until) WHERE status = 'ready';

-- A copy on the hold shelf is waiting for someone: it has exactly one ready hold (checked at commit).
CREATE FUNCTION check_shelf_has_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'on_hold_shelf' AND NOT EXISTS (
            SELECT 1 FROM holds WHERE book_id = NEW.book_id AND status = 'ready') THEN
        RAISE EXCEPTION 'copy % is on the hold shelf but no hold waits for it', NEW.book_id
            USING ERRCODE = 'check_violation', CONSTRAINT = TG_NAME, TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER books_on_shelf_has_a_hold AFTER INSERT OR UPDATE OF status ON books
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.status = 'on_hold_shelf')
    EXECUTE FUNCTION check_shelf_has_hold();

-- A copy on the hold shelf is lent only to the patron it waits for.
CREATE FUNCTION check_loan_of_held_copy() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    holder record;
BEGIN
    SELECT patron_iss, patron_sub INTO holder FROM holds WHERE book_id = NEW.book_id AND status = 'ready';
    IF FOUND AND (holder.patron_iss, holder.patron_sub) IS DISTINCT FROM (NEW.borrower_iss, NEW.borrower_sub) THEN
        RAISE EXCEPTION 'copy % waits on the hold shelf for another patron', NEW.book_id
            USING ERRCODE = 'check_violation', CONSTRAINT = TG_NAME, TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER loans_held_copy_for_its_holder BEFORE INSERT OR UPDATE OF book_id, borrower_iss, borrower_sub
    ON loans FOR EACH ROW EXECUTE FUNCTION check_loan_of_held_copy();

-- Renewals: each one paid for again (payment kind 'renewal'), numbered per loan, so two renewals
-- racing for one loan's next number cannot both stand.
ALTER TABLE loans ADD COLUMN IF NOT EXISTS renewals integer NOT NULL DEFAULT 0;
ALTER TABLE loans ADD CONSTRAINT loans_renewals_check CHECK (renewals >= 0) NOT VALID;
CREATE TABLE renewals (
    renewal_id      uuid PRIMARY KEY,
    loan_id         uuid NOT NULL REFERENCES loans (loan_id),
    number          integer NOT NULL CHECK (number >= 1),
    payment_id      uuid NOT NULL REFERENCES payments (payment_id),
    renewed_at      timestamptz NOT NULL,
    previous_due_at timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    reversed_at     timestamptz,
    CONSTRAINT renewals_one_per_number UNIQUE (loan_id, number),
    CONSTRAINT renewals_extend_the_loan CHECK (due_at > previous_due_at)
);
CREATE UNIQUE INDEX renewals_one_per_payment ON renewals (payment_id);

ALTER TABLE payments ADD COLUMN IF NOT EXISTS renewal_id uuid;
ALTER TABLE payments ADD CONSTRAINT payments_renewal_id_fkey FOREIGN KEY (renewal_id) REFERENCES renewals (renewal_id)
    DEFERRABLE INITIALLY DEFERRED;
CREATE UNIQUE INDEX payments_one_per_renewal ON payments (renewal_id) WHERE renewal_id IS NOT NULL;
ALTER TABLE payments ADD CONSTRAINT payments_pay_for_one_thing
    CHECK (num_nonnulls(loan_id, purchase_id, renewal_id) <= 1) NOT VALID;
ALTER TABLE payments DROP CONSTRAINT payments_kind_check;
ALTER TABLE payments ADD CONSTRAINT payments_kind_check
    CHECK (kind IN ('borrow_fee', 'purchase', 'renewal')) NOT VALID;
-- A renewal's payment is a renewal fee.
ALTER TABLE payments ADD CONSTRAINT payments_renewal_is_a_renewal_fee
    CHECK (renewal_id IS NULL OR kind = 'renewal') NOT VALID;
