-- The signet serve processes sharing the database, by their heartbeats:
-- how many are alive divides the rate limits among them.
CREATE TABLE nodes (
    id         TEXT COLLATE "C" PRIMARY KEY,
    started_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL
);
