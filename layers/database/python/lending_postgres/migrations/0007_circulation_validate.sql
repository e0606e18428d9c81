-- Circulation, step 4: the constraints 0004 and 0006 added NOT VALID are validated. VALIDATE takes
-- only a SHARE UPDATE EXCLUSIVE lock (and holds no row locks): reads and writes go on while it
-- scans. On a database that validated them already (0005 once did) each is a no-op.

ALTER TABLE books VALIDATE CONSTRAINT books_title_id_fkey;
ALTER TABLE books VALIDATE CONSTRAINT books_have_a_title;
ALTER TABLE books VALIDATE CONSTRAINT books_status_check;
ALTER TABLE loans VALIDATE CONSTRAINT loans_renewals_check;
ALTER TABLE payments VALIDATE CONSTRAINT payments_pay_for_one_thing;
ALTER TABLE payments VALIDATE CONSTRAINT payments_kind_check;
ALTER TABLE payments VALIDATE CONSTRAINT payments_renewal_is_a_renewal_fee;
