-- The id of the district audit secret (gateway/audit/secret.py: a hash of it, never the secret) whose
-- chain key chained the entries up to each checkpoint and restarted the chain at it. A gateway
-- instance whose secret has another id, or whose audit key did not sign the checkpoints, finds the
-- log "damaged" under its own keys: with these ids it can tell that it belongs to another store and
-- refuse to start, naming both (docs/operations.md, "Several instances on PostgreSQL"). NULL in
-- checkpoints signed before this migration.
ALTER TABLE audit_checkpoints ADD COLUMN secret_id TEXT
