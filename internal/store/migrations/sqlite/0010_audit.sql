-- The audit log: a hash chain of events (see internal/audit).
CREATE TABLE audit_events (
    seq       INTEGER PRIMARY KEY,
    event     TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
