-- The signet serve processes sharing the database, by their heartbeats:
-- how many are alive divides the rate limits among them.
CREATE TABLE nodes (
    id         TEXT PRIMARY KEY,
    started_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL
);
