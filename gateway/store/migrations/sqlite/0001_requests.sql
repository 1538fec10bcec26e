-- Request records and idempotency keys.
CREATE TABLE requests (
    id               TEXT PRIMARY KEY,
    caller_id        TEXT NOT NULL,
    item             TEXT NOT NULL,
    agency           TEXT NOT NULL,
    office           TEXT NOT NULL,
    operator         TEXT NOT NULL,
    channel          TEXT NOT NULL,
    status           TEXT NOT NULL,
    envelope         TEXT NOT NULL,
    result           TEXT,
    error            TEXT,
    ticket           TEXT,
    agency_reference TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    callback_url     TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    finished_at      TEXT
);
CREATE INDEX requests_by_caller ON requests (caller_id, created_at);
CREATE INDEX requests_by_status ON requests (status, updated_at);

CREATE TABLE idempotency_keys (
    caller_id    TEXT NOT NULL,
    key          TEXT NOT NULL,
    body_digest  TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('in_flight', 'done', 'retryable')),
    status_code  INTEGER,
    response     TEXT,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    lease_until  TEXT NOT NULL,
    PRIMARY KEY (caller_id, key)
);
CREATE INDEX idempotency_by_expiry ON idempotency_keys (expires_at);
