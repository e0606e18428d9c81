-- The librarian's desk (issue 15), expand step: copies get barcodes, withdrawn copies keep why, refunded
-- sales keep who. Expand-only and quick: a nullable column, defaults for new rows, a check NOT VALID (it
-- holds every row written from now on); 0011_desk_backfill gives existing copies their barcode and
-- 0011_desk_validate checks them all. Old code keeps working: a copy it adds gets a generated barcode.
ALTER TABLE books ADD COLUMN IF NOT EXISTS barcode text;
ALTER TABLE books ALTER COLUMN barcode SET DEFAULT ('B' || upper(substr(replace(gen_random_uuid()::text, '-', ''), 1, 16)));
ALTER TABLE books ADD CONSTRAINT books_barcode_check CHECK (barcode ~ '^[A-Za-z0-9._-]{1,64}$') NOT VALID;
CREATE UNIQUE INDEX IF NOT EXISTS books_barcode_key ON books (barcode);

-- A withdrawn copy keeps its history (loans, sales, status history) and says why it left (the desk's
-- withdrawal sets both; a copy withdrawn by other code may say nothing).
ALTER TABLE books ADD COLUMN IF NOT EXISTS withdrawn_reason text;
ALTER TABLE books ADD COLUMN IF NOT EXISTS withdrawn_at timestamptz;

-- A sale a librarian refunded: reversed_at/reversed_reason (0001) say when and why; these say who.
-- The money's own record stays the payment row (captured -> refunded, processor_synced false until the
-- processor has refunded it), so reconcile finishes a refund a crash interrupted.
ALTER TABLE purchases ADD COLUMN IF NOT EXISTS refunded_by_iss text;
ALTER TABLE purchases ADD COLUMN IF NOT EXISTS refunded_by_sub text;
ALTER TABLE payments ADD COLUMN IF NOT EXISTS refunded_at timestamptz;  -- the revenue report's day of a refund

-- The desk's reports read these.
CREATE INDEX IF NOT EXISTS payments_created ON payments (created_at);
CREATE INDEX IF NOT EXISTS loans_open_due ON loans (due_at) WHERE returned_at IS NULL;
