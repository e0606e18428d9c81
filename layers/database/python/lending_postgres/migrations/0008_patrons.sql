-- Patrons: whoever has signed in or borrowed, with the issuer, subject, name and email their ID
-- token gave the last time it changed. Loans, holds and payments keep naming a patron by
-- (issuer, subject), as before; this table adds what notices and the librarian's desk need.
CREATE TABLE IF NOT EXISTS patrons (
    patron_id   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    issuer      text NOT NULL,
    subject     text NOT NULL,
    name        text,
    email       text,
    reminders   boolean NOT NULL DEFAULT true,  -- due-soon reminders (PUT /me/preferences)
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT patrons_one_per_identity UNIQUE (issuer, subject),
    CONSTRAINT patrons_email_check CHECK (email IS NULL OR (length(email) <= 320 AND position('@' IN email) > 1))
);
