-- The district's service promises (docs/api.md): the due date of each request on the official
-- calendar (ISO date, China Standard Time) or why there is none, the agency's message while it
-- decides, and the sealed acceptance receipts (受理回执), one row per version.
ALTER TABLE requests ADD COLUMN due_on TEXT;
ALTER TABLE requests ADD COLUMN due_unknown TEXT;
ALTER TABLE requests ADD COLUMN agency_message TEXT;
CREATE INDEX requests_by_due ON requests (due_on) WHERE finished_at IS NULL AND due_on IS NOT NULL;

CREATE TABLE receipts (
    request_id  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    document    JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (request_id, version)
);
