-- Notices: an outbox of mails to patrons, each written in the same transaction as the event that
-- causes it (a return that puts a copy on the hold shelf, a job that finds a loan due soon or
-- overdue, a lost-copy charge, a payment). The send_notices job sends them; see docs/notices.md.
CREATE TABLE IF NOT EXISTS notices (
    notice_id       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind            text NOT NULL,
    patron_iss      text NOT NULL,
    patron_sub      text NOT NULL,
    event_key       text NOT NULL,  -- the event a notice of this kind is about, once (see notice_hooks.py)
    loan_id         uuid REFERENCES loans (loan_id),
    hold_id         uuid REFERENCES holds (hold_id),
    charge_id       uuid,
    payment_id      uuid,
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    state           text NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_at      timestamptz,
    sent_to         text,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    CONSTRAINT notices_one_per_event UNIQUE (kind, event_key),
    CONSTRAINT notices_kind_check CHECK (kind IN ('due_soon', 'overdue', 'hold_ready', 'lost_charged',
                                                  'payment_receipt')),
    CONSTRAINT notices_state_check CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'no_address')),
    CONSTRAINT notices_attempts_check CHECK (attempts >= 0),
    CONSTRAINT notices_details_check CHECK (jsonb_typeof(details) = 'object'),
    -- sent exactly when it has a time and an address; a claim (sending) has its time
    CONSTRAINT notices_sent_when_sent CHECK ((state = 'sent') = (sent_at IS NOT NULL)
                                             AND (state <> 'sent' OR sent_to IS NOT NULL)),
    CONSTRAINT notices_claimed_when_sending CHECK (state <> 'sending' OR claimed_at IS NOT NULL),
    -- what each kind is about
    CONSTRAINT notices_names_its_event CHECK (
        (kind IN ('due_soon', 'overdue') AND loan_id IS NOT NULL)
        OR (kind = 'hold_ready' AND hold_id IS NOT NULL)
        OR (kind = 'lost_charged' AND charge_id IS NOT NULL)
        OR (kind = 'payment_receipt' AND payment_id IS NOT NULL))
);

CREATE INDEX IF NOT EXISTS notices_to_send ON notices (next_attempt_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS notices_in_flight ON notices (claimed_at) WHERE state = 'sending';
CREATE INDEX IF NOT EXISTS notices_of_patron ON notices (patron_iss, patron_sub, created_at DESC);
