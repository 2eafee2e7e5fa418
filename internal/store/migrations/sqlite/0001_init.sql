-- Installation settings: account id, region, root CA.
CREATE TABLE installation (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Access keys. The secret is sealed under the master key.
CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    secret        BLOB NOT NULL,
    session_token TEXT NOT NULL DEFAULT '',
    expires_at    BIGINT NOT NULL DEFAULT 0,
    principal_arn TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- Private keys of the software key store, sealed under the master key.
CREATE TABLE sealed_keys (
    id         TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,
    ciphertext BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE signing_profiles (
    name               TEXT PRIMARY KEY,
    version            TEXT NOT NULL,
    platform_id        TEXT NOT NULL,
    validity_value     INTEGER NOT NULL,
    validity_type      TEXT NOT NULL,
    signing_parameters TEXT NOT NULL,
    overrides          TEXT NOT NULL,
    tags               TEXT NOT NULL,
    status             TEXT NOT NULL,
    status_reason      TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    canceled_at        BIGINT NOT NULL DEFAULT 0,
    policy             TEXT NOT NULL DEFAULT '[]',
    policy_revision    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX signing_profiles_platform ON signing_profiles (platform_id, name);

CREATE TABLE signing_profile_versions (
    profile_name TEXT NOT NULL REFERENCES signing_profiles (name),
    version      TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    certificate  BLOB NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (profile_name, version)
);
