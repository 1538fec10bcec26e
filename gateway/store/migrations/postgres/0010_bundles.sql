-- Chained items (一链办理): a bundle runs several catalogue items in order, each step a request of its own.
CREATE TABLE bundles (
    id           TEXT PRIMARY KEY,
    caller_id    TEXT NOT NULL,
    chain        TEXT NOT NULL,
    office       TEXT NOT NULL,
    operator     TEXT NOT NULL,
    channel      TEXT NOT NULL,
    status       TEXT NOT NULL,
    body         JSONB NOT NULL,
    steps        JSONB NOT NULL,
    receipt      JSONB,
    error        JSONB,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ
);
CREATE INDEX bundles_by_status ON bundles (status, updated_at);
CREATE TABLE bundle_steps (
    request_id   TEXT PRIMARY KEY,
    bundle_id    TEXT NOT NULL REFERENCES bundles (id),
    position     INTEGER NOT NULL
);
CREATE INDEX bundle_steps_by_bundle ON bundle_steps (bundle_id, position);
