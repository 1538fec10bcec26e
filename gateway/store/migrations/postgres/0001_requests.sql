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
    envelope         JSONB NOT NULL,
    result           JSONB,
    error            JSONB,
    ticket           TEXT,
    agency_reference TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    callback_url     TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ
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
    response     JSONB,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    lease_until  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (caller_id, key)
);
CREATE INDEX idempotency_by_expiry ON idempotency_keys (expires_at);
