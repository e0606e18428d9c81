-- Guards the product promises that 0001 left to application code alone.
-- Online-safe: new functions and row triggers only. CREATE TRIGGER takes a brief SHARE ROW
-- EXCLUSIVE lock on its table and scans nothing; rows already there are not re-checked.

-- A payment pays for one thing. A loan's payment is a borrow fee for that very book, a sale's
-- is a purchase of that very book, and no two loans (or two sales) share one payment. Checked
-- with the payment row locked, so two transactions attaching the same payment cannot both pass.
CREATE FUNCTION check_payment_pays_for_this() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wanted text := CASE TG_TABLE_NAME WHEN 'loans' THEN 'borrow_fee' ELSE 'purchase' END;
    paid   record;
    shared boolean;
BEGIN
    SELECT kind, book_id INTO paid FROM payments WHERE payment_id = NEW.payment_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NEW;  -- the foreign key to payments reports this
    END IF;
    IF paid.kind <> wanted OR paid.book_id <> NEW.book_id THEN
        RAISE EXCEPTION 'payment % is a % for book %, not a % for book %',
                NEW.payment_id, paid.kind, paid.book_id, wanted, NEW.book_id
            USING CONSTRAINT = TG_NAME, TABLE = TG_TABLE_NAME;
    END IF;
    IF TG_TABLE_NAME = 'loans' THEN
        shared := EXISTS (SELECT 1 FROM loans WHERE payment_id = NEW.payment_id AND loan_id <> NEW.loan_id);
    ELSE
        shared := EXISTS (SELECT 1 FROM purchases WHERE payment_id = NEW.payment_id AND purchase_id <> NEW.purchase_id);
    END IF;
    IF shared THEN
        RAISE EXCEPTION 'payment % already pays for another row of %', NEW.payment_id, TG_TABLE_NAME
            USING CONSTRAINT = TG_NAME, TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER loans_payment_pays_for_this BEFORE INSERT OR UPDATE OF payment_id, book_id ON loans
    FOR EACH ROW EXECUTE FUNCTION check_payment_pays_for_this();
CREATE TRIGGER purchases_payment_pays_for_this BEFORE INSERT OR UPDATE OF payment_id, book_id ON purchases
    FOR EACH ROW EXECUTE FUNCTION check_payment_pays_for_this();

-- The status history is a history: rows are appended (by books_status_history), never
-- rewritten or removed, whatever code runs.
CREATE FUNCTION refuse_history_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'book_status_history is append-only (% of entry %)', TG_OP, OLD.entry_id
        USING CONSTRAINT = TG_NAME, TABLE = TG_TABLE_NAME;
END $$;
CREATE TRIGGER book_status_history_append_only BEFORE UPDATE OR DELETE ON book_status_history
    FOR EACH ROW EXECUTE FUNCTION refuse_history_rewrite();
