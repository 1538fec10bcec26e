-- The outbox: work to do for a request later or elsewhere (transactional outbox).
-- A row exists from the moment a request is accepted until its work is done,
-- so a crash of the process that accepted it never loses it.
CREATE TABLE outbox (
    request_id   TEXT NOT NULL REFERENCES requests (id),
    action       TEXT NOT NULL CHECK (action IN ('submit', 'poll', 'callback')),
    due_at       TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    claimed_by   TEXT,
    lease_until  TEXT,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (request_id, action)
);
CREATE INDEX outbox_due ON outbox (due_at);
