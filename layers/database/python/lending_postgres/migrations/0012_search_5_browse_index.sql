-- no-transaction: CREATE INDEX CONCURRENTLY builds the index while copies are lent and titles added.
-- Search, step 5: browsing without `q` lists titles by title; this index gives a page at any offset
-- without sorting the catalogue. Safe to run again (lending_postgres/migrate.py): a build cut short
-- leaves an invalid index, which is dropped and built anew.
DROP INDEX CONCURRENTLY IF EXISTS titles_by_title;
CREATE INDEX CONCURRENTLY titles_by_title ON titles (title, title_id);
