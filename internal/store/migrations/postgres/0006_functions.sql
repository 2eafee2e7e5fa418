-- Functions ($LATEST). Their code signing config is in
-- function_code_signing_configs.
CREATE TABLE functions (
    name                        TEXT COLLATE "C" PRIMARY KEY,
    runtime                     TEXT COLLATE "C" NOT NULL,
    handler                     TEXT COLLATE "C" NOT NULL,
    role                        TEXT COLLATE "C" NOT NULL,
    description                 TEXT COLLATE "C" NOT NULL,
    timeout                     BIGINT NOT NULL,
    memory_size                 BIGINT NOT NULL,
    environment                 TEXT COLLATE "C" NOT NULL,
    code_sha256                 TEXT COLLATE "C" NOT NULL,
    code_size                   BIGINT NOT NULL,
    code_path                   TEXT COLLATE "C" NOT NULL,
    signing_profile_version_arn TEXT COLLATE "C" NOT NULL,
    signing_job_arn             TEXT COLLATE "C" NOT NULL,
    last_modified               BIGINT NOT NULL,
    revision_id                 TEXT COLLATE "C" NOT NULL
);
