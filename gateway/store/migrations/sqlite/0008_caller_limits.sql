-- Per-caller limits (docs/configuration.md, [[callers]] rate_limit and max_concurrent), shared by every
-- instance on this database. caller_requests holds one row per admitted request within the caller's
-- window (older rows are deleted as the caller calls again), and caller_calls_in_flight one row per intake
-- call being served, removed when it is answered, or by its lease when the instance serving it died.
-- Times are seconds since the epoch by the gateway host's clock (a SQLite store is one host's).
CREATE TABLE caller_requests (
    caller_id   TEXT NOT NULL,
    at          REAL NOT NULL
);
CREATE INDEX caller_requests_by_caller ON caller_requests (caller_id, at);

CREATE TABLE caller_calls_in_flight (
    holder      TEXT PRIMARY KEY,
    caller_id   TEXT NOT NULL,
    instance    TEXT NOT NULL,
    expires_at  REAL NOT NULL
);
CREATE INDEX caller_calls_in_flight_by_caller ON caller_calls_in_flight (caller_id);
CREATE INDEX caller_calls_in_flight_by_instance ON caller_calls_in_flight (instance)
