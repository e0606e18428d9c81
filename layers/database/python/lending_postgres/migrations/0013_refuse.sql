-- A statement whose steps did not all happen can refuse itself: `refuse(guard, reason)` raises
-- P0001 named `guard`. Its transaction is then aborted, so the client may send the COMMIT in the
-- same round trip as the statement (a COMMIT after a failed statement is a ROLLBACK), instead of
-- reading the statement's counts first and committing in a second round trip (docs/benchmarks.md,
-- issue 18). lending_postgres.refusals maps each guard to the caller's error.
-- Online-safe: a new function only; code from before this migration does not call it.
CREATE FUNCTION refuse(guard text, reason text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION '%', reason USING ERRCODE = 'P0001', CONSTRAINT = guard;
END $$;
