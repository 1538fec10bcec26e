-- Callers' request-signing keys (RFC 9421): an Ed25519 public key in the clear, or an
-- HMAC secret sealed under the seal passphrase (scrypt, AES-256-GCM, never in clear).
-- A retired key stays, with when it was retired, for whoever reads the audit log later.
CREATE TABLE caller_keys (
    key_id      TEXT PRIMARY KEY,
    caller_id   TEXT NOT NULL,
    alg         TEXT NOT NULL CHECK (alg IN ('hmac-sha256', 'ed25519')),
    public_key  TEXT,
    sealed_secret TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    retired_at  TIMESTAMPTZ
);
CREATE INDEX caller_keys_by_caller ON caller_keys (caller_id, retired_at);

-- The nonces of accepted signatures, until no signature carrying them could be accepted
-- any more: a replay to any gateway sharing this store is refused.
CREATE TABLE signature_nonces (
    key_id      TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX signature_nonces_by_expiry ON signature_nonces (expires_at);
