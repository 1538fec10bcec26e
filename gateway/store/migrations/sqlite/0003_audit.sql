-- The tamper-evident audit log (docs/audit.md). Entries are appended, never updated.
-- entry is the exact hashed bytes (JCS JSON), leaf_hash its RFC 9162 leaf hash as
-- recorded at append time, payload the encrypted raw payload (outside the hash,
-- committed to inside the entry). kind, request_id and appended_at repeat the
-- entry's own members so that queries need no JSON parsing, and audit verify
-- checks that they agree.
CREATE TABLE audit_entries (
    seq          INTEGER PRIMARY KEY,
    appended_at  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    request_id   TEXT,
    entry        BLOB NOT NULL,
    leaf_hash    BLOB NOT NULL,
    payload      BLOB
);
CREATE INDEX audit_entries_by_request ON audit_entries (request_id, seq);

-- Hashes of the perfect subtrees of 16 and more leaves: level L, index i covers
-- entries i*2^L .. (i+1)*2^L - 1. A cache for proofs, never trusted on its own.
CREATE TABLE audit_subtrees (
    level  INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    hash   BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

-- The size of the log and the roots of its perfect subtrees (the frontier), from
-- which the next batch extends the tree.
CREATE TABLE audit_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    size      INTEGER NOT NULL,
    frontier  BLOB NOT NULL
);
INSERT INTO audit_head (id, size, frontier) VALUES (1, 0, X'');

-- Signed checkpoints (JSON, format onewindow-checkpoint/v1) with the frontier at
-- their size, from which audit verify --from resumes.
CREATE TABLE audit_checkpoints (
    tree_size   INTEGER PRIMARY KEY,
    signed      TEXT NOT NULL,
    frontier    BLOB NOT NULL,
    created_at  TEXT NOT NULL
);
