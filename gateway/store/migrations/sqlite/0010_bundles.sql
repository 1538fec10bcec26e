-- Chained items (一链办理): a bundle runs several catalogue items in order, each step a request of its own.
CREATE TABLE bundles (
    id           TEXT PRIMARY KEY,
    caller_id    TEXT NOT NULL,
    chain        TEXT NOT NULL,
    office       TEXT NOT NULL,
    operator     TEXT NOT NULL,
    channel      TEXT NOT NULL,
    status       TEXT NOT NULL,
    body         TEXT NOT NULL,
    steps        TEXT NOT NULL,
    receipt      TEXT,
    error        TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    finished_at  TEXT
);
CREATE INDEX bundles_by_status ON bundles (status, updated_at);
CREATE TABLE bundle_steps (
    request_id   TEXT PRIMARY KEY,
    bundle_id    TEXT NOT NULL REFERENCES bundles (id),
    position     INTEGER NOT NULL
);
CREATE INDEX bundle_steps_by_bundle ON bundle_steps (bundle_id, position);
