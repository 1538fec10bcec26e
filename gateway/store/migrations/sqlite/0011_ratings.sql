-- Ratings of finished services (好差评): one per request or per bundle, never both.
-- comment is stored with ID numbers, credit codes, phone numbers and the applicant's
-- name masked (it outlives the request's retention period). tags is a JSON list of
-- codes from the fixed list (docs/api.md). item is the item code, or the chain of a bundle.
CREATE TABLE ratings (
    id          TEXT PRIMARY KEY,
    request_id  TEXT UNIQUE,
    bundle_id   TEXT UNIQUE,
    caller_id   TEXT NOT NULL,
    office      TEXT NOT NULL,
    channel     TEXT NOT NULL,
    item        TEXT NOT NULL,
    grade       TEXT NOT NULL CHECK (grade IN ('very_satisfied', 'satisfied', 'basically_satisfied', 'dissatisfied', 'very_dissatisfied')),
    comment     TEXT,
    tags        TEXT NOT NULL,
    rated_at    TEXT NOT NULL,
    CHECK ((request_id IS NULL) <> (bundle_id IS NULL))
);
CREATE INDEX ratings_by_office ON ratings (office, rated_at);

-- The follow-up a bad rating opens, until an operator closes it with a note (masked like comments).
CREATE TABLE rating_follow_ups (
    id         TEXT PRIMARY KEY,
    rating_id  TEXT NOT NULL UNIQUE REFERENCES ratings (id),
    office     TEXT NOT NULL,
    opened_at  TEXT NOT NULL,
    closed_at  TEXT,
    closed_by  TEXT,
    note       TEXT
);
CREATE INDEX rating_follow_ups_by_office ON rating_follow_ups (office, opened_at);

-- Requests refused at intake with a 422 (validation-failed): who sent it, for which
-- office and item, and what was wrong as "path:code" (paths masked and cut, never a
-- value). The district report's top refusal reasons.
CREATE TABLE refusals (
    request_id  TEXT PRIMARY KEY,
    caller_id   TEXT NOT NULL,
    office      TEXT NOT NULL,
    channel     TEXT NOT NULL,
    item        TEXT,
    problems    TEXT NOT NULL,
    refused_at  TEXT NOT NULL
);
CREATE INDEX refusals_by_office ON refusals (office, refused_at);


-- The district report reads a month of requests in pages, in the order they were received.
CREATE INDEX requests_by_created ON requests (created_at, id)
