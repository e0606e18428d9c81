-- Circulation, step 2: every copy gets its title (copies of one ISBN become one title, named after
-- its earliest copy). Only the backfill, so the row locks its UPDATE takes are held for as short a
-- time as it runs: the version before this one lends and returns those very copies meanwhile (a
-- borrow of a copy being backfilled waits for this commit). The check that every copy has a title
-- is 0006, the VALIDATEs 0007, each in its own transaction.

INSERT INTO titles (isbn, title, author, created_at)
SELECT DISTINCT ON (isbn) isbn, title, author, created_at FROM books ORDER BY isbn, created_at, book_id
ON CONFLICT (isbn) DO NOTHING;
UPDATE books b SET title_id = t.title_id FROM titles t WHERE t.isbn = b.isbn AND b.title_id IS NULL;
