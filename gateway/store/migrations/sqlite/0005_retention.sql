-- Retention: when a finished request's envelope and result were purged (onewindow purge).
ALTER TABLE requests ADD COLUMN purged_at TEXT;
CREATE INDEX requests_by_finish ON requests (finished_at) WHERE purged_at IS NULL;
