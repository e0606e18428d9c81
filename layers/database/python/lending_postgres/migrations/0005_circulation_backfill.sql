-- Circulation, step 2: every copy gets its title (copies of one ISBN become one title, named after
-- its earliest copy), then the constraints 0004 added NOT VALID are validated. VALIDATE takes only
-- a SHARE UPDATE EXCLUSIVE lock: reads and writes go on while it scans.

INSERT INTO titles (isbn, title, author, created_at)
SELECT DISTINCT ON (isbn) isbn, title, author, created_at FROM books ORDER BY isbn, created_at, book_id
ON CONFLICT (isbn) DO NOTHING;
UPDATE books b SET title_id = t.title_id FROM titles t WHERE t.isbn = b.isbn AND b.title_id IS NULL;

ALTER TABLE books VALIDATE CONSTRAINT books_title_id_fkey;
ALTER TABLE books VALIDATE CONSTRAINT books_have_a_title;
ALTER TABLE books VALIDATE CONSTRAINT books_status_check;
ALTER TABLE loans VALIDATE CONSTRAINT loans_renewals_check;
ALTER TABLE payments VALIDATE CONSTRAINT payments_pay_for_one_thing;
ALTER TABLE payments VALIDATE CONSTRAINT payments_kind_check;
ALTER TABLE payments VALIDATE CONSTRAINT payments_renewal_is_a_renewal_fee;
