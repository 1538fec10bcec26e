-- The entry chain (docs/audit.md, "The entry chain"): each entry's MAC under the
-- district audit secret's chain key, linked to the one before it, and the chain
-- value the next entry links to in the head row. NULL in entries written before
-- this migration: the chain starts at the first entry after it, anchored by the
-- latest signed checkpoint (the gateway anchors it at its first start).
ALTER TABLE audit_entries ADD COLUMN chain BLOB;
ALTER TABLE audit_head ADD COLUMN chain BLOB;

-- What an operator's recovery (onewindow audit recover) moved out of the log:
-- entries the gateway did not write (or that were altered or written without a
-- chain) and checkpoints whose signature does not hold. Kept as evidence, never
-- part of the tree. recovery is the seq of the admin.audit_recovered entry that
-- records the act.
CREATE TABLE audit_entries_set_aside (
    recovery      INTEGER NOT NULL,
    set_aside_at  TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    appended_at   TEXT,
    kind          TEXT,
    request_id    TEXT,
    entry         BLOB,
    leaf_hash     BLOB,
    payload       BLOB,
    chain         BLOB
);
CREATE INDEX audit_entries_set_aside_by_recovery ON audit_entries_set_aside (recovery, seq);

CREATE TABLE audit_checkpoints_set_aside (
    recovery      INTEGER NOT NULL,
    set_aside_at  TEXT NOT NULL,
    tree_size     INTEGER NOT NULL,
    signed        TEXT,
    frontier      BLOB,
    created_at    TEXT
);
