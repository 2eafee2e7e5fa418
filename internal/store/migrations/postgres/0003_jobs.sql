-- Signing jobs. In-progress object jobs are also the durable work queue:
-- a worker leases one (lease_until) and finishes it in one transaction.
CREATE TABLE signing_jobs (
    id                   TEXT COLLATE "C" PRIMARY KEY,
    client_request_token TEXT COLLATE "C" NOT NULL,
    kind                 TEXT COLLATE "C" NOT NULL,
    profile_name         TEXT COLLATE "C" NOT NULL,
    profile_version      TEXT COLLATE "C" NOT NULL,
    platform_id          TEXT COLLATE "C" NOT NULL,
    source_bucket        TEXT COLLATE "C" NOT NULL DEFAULT '',
    source_key           TEXT COLLATE "C" NOT NULL DEFAULT '',
    source_version       TEXT COLLATE "C" NOT NULL DEFAULT '',
    dest_bucket          TEXT COLLATE "C" NOT NULL DEFAULT '',
    dest_prefix          TEXT COLLATE "C" NOT NULL DEFAULT '',
    signed_bucket        TEXT COLLATE "C" NOT NULL DEFAULT '',
    signed_key           TEXT COLLATE "C" NOT NULL DEFAULT '',
    status               TEXT COLLATE "C" NOT NULL,
    status_reason        TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at           BIGINT NOT NULL,
    completed_at         BIGINT NOT NULL DEFAULT 0,
    signature_expires_at BIGINT NOT NULL DEFAULT 0,
    requested_by         TEXT COLLATE "C" NOT NULL DEFAULT '',
    job_owner            TEXT COLLATE "C" NOT NULL,
    job_invoker          TEXT COLLATE "C" NOT NULL,
    attempts             BIGINT NOT NULL DEFAULT 0,
    lease_until          BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX signing_jobs_token ON signing_jobs (requested_by, client_request_token);
CREATE INDEX signing_jobs_created ON signing_jobs (created_at, id);
CREATE INDEX signing_jobs_queue ON signing_jobs (status, kind, lease_until, created_at);
