-- Circulation, step 3: a copy has a title. Added NOT VALID (a moment's ACCESS EXCLUSIVE lock, no
-- scan) only now that 0005 has given every copy its title and books_assign_title gives one to every
-- copy the version before this one adds: from here on no write, by either version, can leave a
-- copy without one. In 0004 it refused the old version's updates of copies not yet backfilled.
-- The statement stands alone in its transaction, so while it waits for its lock it holds none.
-- A database that ran 0004 while it still added this constraint has it already.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'books'::regclass AND conname = 'books_have_a_title') THEN
        ALTER TABLE books ADD CONSTRAINT books_have_a_title CHECK (title_id IS NOT NULL) NOT VALID;
    END IF;
END $$;
