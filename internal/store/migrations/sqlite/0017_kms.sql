-- KMS keys, their material (sealed under the master key) and aliases.
CREATE TABLE kms_keys (
    id TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    spec TEXT NOT NULL,
    usage TEXT NOT NULL,
    state TEXT NOT NULL,
    manager TEXT NOT NULL,
    policy TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    deletion_date INTEGER NOT NULL,
    material INTEGER NOT NULL,
    rotation_enabled INTEGER NOT NULL,
    rotation_days INTEGER NOT NULL,
    next_rotation INTEGER NOT NULL,
    tags TEXT NOT NULL
);
CREATE TABLE kms_key_material (
    key_id TEXT NOT NULL REFERENCES kms_keys (id),
    version INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (key_id, version)
);
CREATE TABLE kms_aliases (
    name TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES kms_keys (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX kms_aliases_key ON kms_aliases (key_id);
CREATE TABLE kms_grants (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES kms_keys (id),
    name TEXT NOT NULL,
    grantee TEXT NOT NULL,
    retiring TEXT NOT NULL,
    operations TEXT NOT NULL,
    constraints TEXT NOT NULL,
    issuer TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX kms_grants_key ON kms_grants (key_id);
-- SSM parameters: one row per version; a SecureString's value is its
-- envelope (a KMS-encrypted data key and the AES-256-GCM ciphertext).
CREATE TABLE ssm_parameters (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    type TEXT NOT NULL,
    key_id TEXT NOT NULL,
    value BLOB NOT NULL,
    description TEXT NOT NULL,
    allowed_pattern TEXT NOT NULL,
    tier TEXT NOT NULL,
    data_type TEXT NOT NULL,
    labels TEXT NOT NULL,
    modified_at INTEGER NOT NULL,
    modified_by TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
