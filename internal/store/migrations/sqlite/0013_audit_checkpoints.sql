-- Signed checkpoints of the audit chain's head (see internal/audit).
CREATE TABLE audit_checkpoints (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    seq       BIGINT NOT NULL,
    hash      TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    key_id    TEXT NOT NULL,
    signature BLOB NOT NULL
);
