-- The librarian's desk (issue 15): copies get barcodes, withdrawn copies keep why, refunded sales keep
-- why and who. Expand-only: old code keeps working (a copy it adds gets a generated barcode).
--
-- Every copy has a barcode, unique: existing copies get one made from their id ('B' + 16 hex digits).
ALTER TABLE books ADD COLUMN IF NOT EXISTS barcode text;
UPDATE books SET barcode = 'B' || upper(substr(replace(book_id::text, '-', ''), 1, 16)) WHERE barcode IS NULL;
ALTER TABLE books ALTER COLUMN barcode SET DEFAULT ('B' || upper(substr(replace(gen_random_uuid()::text, '-', ''), 1, 16)));
ALTER TABLE books ALTER COLUMN barcode SET NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS books_barcode_key ON books (barcode);
ALTER TABLE books ADD CONSTRAINT books_barcode_check CHECK (barcode ~ '^[A-Za-z0-9._-]{1,64}$');

-- A withdrawn copy keeps its history (loans, sales, status history) and says why it left (the desk's
-- withdrawal sets both; a copy withdrawn by other code may say nothing).
ALTER TABLE books ADD COLUMN IF NOT EXISTS withdrawn_reason text;
ALTER TABLE books ADD COLUMN IF NOT EXISTS withdrawn_at timestamptz;

-- A sale a librarian refunded: reversed_at/reversed_reason (0001) say when and why; these say who.
-- The money's own record stays the payment row (captured -> refunded, processor_synced until Stripe
-- has refunded it), so reconcile finishes a refund a crash interrupted.
ALTER TABLE purchases ADD COLUMN IF NOT EXISTS refunded_by_iss text;
ALTER TABLE purchases ADD COLUMN IF NOT EXISTS refunded_by_sub text;
ALTER TABLE payments ADD COLUMN IF NOT EXISTS refunded_at timestamptz;  -- the revenue report's day of a refund

-- The desk's reports read these.
CREATE INDEX IF NOT EXISTS payments_created ON payments (created_at);
CREATE INDEX IF NOT EXISTS loans_open_due ON loans (due_at) WHERE returned_at IS NULL;
