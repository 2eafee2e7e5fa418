-- Secrets Manager: one row per secret; its versions (each value sealed by
-- envelope under the secret's KMS key), tags, policy and rotation state
-- are the JSON document in data. due_at is when the background worker
-- next needs it (rotation step, scheduled rotation, purge); 0 is never.
CREATE TABLE secrets (
    arn TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL UNIQUE,
    data TEXT COLLATE "C" NOT NULL,
    due_at BIGINT NOT NULL
);
CREATE INDEX secrets_due ON secrets (due_at) WHERE due_at <> 0;
