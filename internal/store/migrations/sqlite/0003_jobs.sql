-- Signing jobs. In-progress object jobs are also the durable work queue:
-- a worker leases one (lease_until) and finishes it in one transaction.
CREATE TABLE signing_jobs (
    id                   TEXT PRIMARY KEY,
    client_request_token TEXT NOT NULL,
    kind                 TEXT NOT NULL,
    profile_name         TEXT NOT NULL,
    profile_version      TEXT NOT NULL,
    platform_id          TEXT NOT NULL,
    source_bucket        TEXT NOT NULL DEFAULT '',
    source_key           TEXT NOT NULL DEFAULT '',
    source_version       TEXT NOT NULL DEFAULT '',
    dest_bucket          TEXT NOT NULL DEFAULT '',
    dest_prefix          TEXT NOT NULL DEFAULT '',
    signed_bucket        TEXT NOT NULL DEFAULT '',
    signed_key           TEXT NOT NULL DEFAULT '',
    status               TEXT NOT NULL,
    status_reason        TEXT NOT NULL DEFAULT '',
    created_at           BIGINT NOT NULL,
    completed_at         BIGINT NOT NULL DEFAULT 0,
    signature_expires_at BIGINT NOT NULL DEFAULT 0,
    requested_by         TEXT NOT NULL DEFAULT '',
    job_owner            TEXT NOT NULL,
    job_invoker          TEXT NOT NULL,
    attempts             INTEGER NOT NULL DEFAULT 0,
    lease_until          BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX signing_jobs_token ON signing_jobs (requested_by, client_request_token);
CREATE INDEX signing_jobs_created ON signing_jobs (created_at, id);
CREATE INDEX signing_jobs_queue ON signing_jobs (status, kind, lease_until, created_at);
