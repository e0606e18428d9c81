-- Reconcile keeps going past a payment it cannot settle: it records the failure on the row and
-- waits (exponential backoff) before it offers that payment again. And a failed payment whose
-- intent may still be open at the processor is looked at until reconcile has seen it closed.
-- Online-safe: each ADD COLUMN has a constant default (or none), so no table rewrite and only a
-- brief ACCESS EXCLUSIVE lock (bounded by the migration's lock_timeout).

ALTER TABLE payments ADD COLUMN IF NOT EXISTS settle_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN IF NOT EXISTS settle_error text;
ALTER TABLE payments ADD COLUMN IF NOT EXISTS settle_after timestamptz;  -- NULL: offer at once
-- false on every existing row: failed payments written before this migration are checked once.
ALTER TABLE payments ADD COLUMN IF NOT EXISTS intent_checked boolean NOT NULL DEFAULT false;
