-- Functions ($LATEST). Their code signing config is in
-- function_code_signing_configs.
CREATE TABLE functions (
    name                        TEXT PRIMARY KEY,
    runtime                     TEXT NOT NULL,
    handler                     TEXT NOT NULL,
    role                        TEXT NOT NULL,
    description                 TEXT NOT NULL,
    timeout                     INTEGER NOT NULL,
    memory_size                 INTEGER NOT NULL,
    environment                 TEXT NOT NULL,
    code_sha256                 TEXT NOT NULL,
    code_size                   BIGINT NOT NULL,
    code_path                   TEXT NOT NULL,
    signing_profile_version_arn TEXT NOT NULL,
    signing_job_arn             TEXT NOT NULL,
    last_modified               BIGINT NOT NULL,
    revision_id                 TEXT NOT NULL
);
