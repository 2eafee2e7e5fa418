-- The audit log: a hash chain of events (see internal/audit).
CREATE TABLE audit_events (
    seq       BIGINT PRIMARY KEY,
    event     TEXT COLLATE "C" NOT NULL,
    prev_hash TEXT COLLATE "C" NOT NULL,
    hash      TEXT COLLATE "C" NOT NULL
);
