-- Secrets Manager: one row per secret; its versions (each value sealed by
-- envelope under the secret's KMS key), tags, policy and rotation state
-- are the JSON document in data. due_at is when the background worker
-- next needs it (rotation step, scheduled rotation, purge); 0 is never.
CREATE TABLE secrets (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL,
    due_at INTEGER NOT NULL
);
CREATE INDEX secrets_due ON secrets (due_at) WHERE due_at <> 0;
