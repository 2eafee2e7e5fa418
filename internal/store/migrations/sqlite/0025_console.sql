-- What the web console reads. audit_index holds one row per audit
-- record (in the database of audit_events), with the fields searches
-- and daily counts filter on; the record itself stays in audit_events,
-- and what is read from the index is checked against it.
CREATE TABLE audit_index (
    seq         INTEGER PRIMARY KEY,
    ts          BIGINT NOT NULL,
    principal   TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL DEFAULT '',
    resource    TEXT NOT NULL DEFAULT '',
    decision    TEXT NOT NULL DEFAULT '',
    category    TEXT NOT NULL DEFAULT '',
    break_glass INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX audit_index_ts ON audit_index (ts);
CREATE INDEX audit_index_category ON audit_index (category, ts);
CREATE INDEX audit_index_principal ON audit_index (principal, ts);
CREATE INDEX audit_index_resource ON audit_index (resource, ts);
CREATE INDEX audit_index_action ON audit_index (action, ts);
CREATE INDEX audit_index_break_glass ON audit_index (break_glass, ts);

-- Console sessions: a signed-in principal's session, known by the hash
-- of its cookie, with the hash of its CSRF token.
CREATE TABLE console_sessions (
    id_hash         TEXT PRIMARY KEY,
    principal_arn   TEXT NOT NULL,
    principal_id    TEXT NOT NULL,
    access_key_id   TEXT NOT NULL,
    source_identity TEXT NOT NULL,
    csrf_hash       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
CREATE INDEX console_sessions_key ON console_sessions (access_key_id);

-- Signing jobs per day and status, read from the index alone.
CREATE INDEX signing_jobs_created_status ON signing_jobs (created_at, status);
