-- Requests a restore lost (onewindow audit reconcile, docs/audit.md): requests the
-- audit log shows (given back from the witness) but the restored store does not
-- hold. What their entries say, to check them with their agency, and the keyed
-- digest of the caller's Idempotency-Key, so that a retry of one resumes under its
-- own request id (the agency deduplicates by it) instead of making a new request.
CREATE TABLE lost_requests (
    request_id      TEXT PRIMARY KEY,
    caller_id       TEXT,
    item            TEXT,
    agency          TEXT,
    office          TEXT,
    channel         TEXT,
    operator        TEXT,
    status          TEXT NOT NULL,
    accepted_at     TEXT,
    last_seen_at    TEXT NOT NULL,
    agency_called   INTEGER NOT NULL,
    last_outcome    TEXT,
    key_digest      TEXT,
    request_digest  TEXT,
    reconciliation  INTEGER NOT NULL
);
CREATE INDEX lost_requests_by_key ON lost_requests (caller_id, key_digest);

-- The registry's acts (admin.seal.*) a gateway has appended: it reads their digests
-- back from the log to append each act exactly once.
CREATE INDEX audit_entries_registry_acts ON audit_entries (seq) WHERE kind LIKE 'admin.seal.%';
