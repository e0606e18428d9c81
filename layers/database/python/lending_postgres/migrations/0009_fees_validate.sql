-- Fees, step 2: the payments checks 0009_fees.sql added NOT VALID are validated, in their own
-- transaction (SHARE UPDATE EXCLUSIVE: reads and writes go on while it scans).
ALTER TABLE payments VALIDATE CONSTRAINT payments_kind_check;
ALTER TABLE payments VALIDATE CONSTRAINT payments_book_unless_fee_payment;
