-- A retry with an Idempotency-Key whose first answer was lost finds that attempt's payment
-- (lending.resume): by payer and key, newest first.
CREATE INDEX IF NOT EXISTS payments_by_idempotency_key ON payments (payer_iss, payer_sub, idempotency_key, created_at DESC)
    WHERE idempotency_key IS NOT NULL;
