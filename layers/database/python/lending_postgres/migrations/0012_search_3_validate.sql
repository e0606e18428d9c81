-- Search, step 3: the counts' check (0012_search_1, NOT VALID) is validated: SHARE UPDATE EXCLUSIVE,
-- so reads and writes go on while it scans.
ALTER TABLE titles VALIDATE CONSTRAINT titles_counts_check;
