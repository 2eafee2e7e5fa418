-- KMS keys, their material (sealed under the master key) and aliases.
CREATE TABLE kms_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    description TEXT COLLATE "C" NOT NULL,
    spec TEXT COLLATE "C" NOT NULL,
    usage TEXT COLLATE "C" NOT NULL,
    state TEXT COLLATE "C" NOT NULL,
    manager TEXT COLLATE "C" NOT NULL,
    policy TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    deletion_date BIGINT NOT NULL,
    material BIGINT NOT NULL,
    rotation_enabled BIGINT NOT NULL,
    rotation_days BIGINT NOT NULL,
    next_rotation BIGINT NOT NULL,
    tags TEXT COLLATE "C" NOT NULL
);
CREATE TABLE kms_key_material (
    key_id TEXT COLLATE "C" NOT NULL REFERENCES kms_keys (id),
    version BIGINT NOT NULL,
    sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, version)
);
CREATE TABLE kms_aliases (
    name TEXT COLLATE "C" PRIMARY KEY,
    key_id TEXT COLLATE "C" NOT NULL REFERENCES kms_keys (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX kms_aliases_key ON kms_aliases (key_id);
CREATE TABLE kms_grants (
    id TEXT COLLATE "C" PRIMARY KEY,
    key_id TEXT COLLATE "C" NOT NULL REFERENCES kms_keys (id),
    name TEXT COLLATE "C" NOT NULL,
    grantee TEXT COLLATE "C" NOT NULL,
    retiring TEXT COLLATE "C" NOT NULL,
    operations TEXT COLLATE "C" NOT NULL,
    constraints TEXT COLLATE "C" NOT NULL,
    issuer TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX kms_grants_key ON kms_grants (key_id);
-- SSM parameters: one row per version; a SecureString's value is its
-- envelope (a KMS-encrypted data key and the AES-256-GCM ciphertext).
CREATE TABLE ssm_parameters (
    name TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    type TEXT COLLATE "C" NOT NULL,
    key_id TEXT COLLATE "C" NOT NULL,
    value BYTEA NOT NULL,
    description TEXT COLLATE "C" NOT NULL,
    allowed_pattern TEXT COLLATE "C" NOT NULL,
    tier TEXT COLLATE "C" NOT NULL,
    data_type TEXT COLLATE "C" NOT NULL,
    labels TEXT COLLATE "C" NOT NULL,
    modified_at BIGINT NOT NULL,
    modified_by TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (name, version)
);
