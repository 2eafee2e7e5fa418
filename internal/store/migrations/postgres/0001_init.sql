-- Installation settings: account id, region, root CA.
CREATE TABLE installation (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT COLLATE "C" NOT NULL
);

-- Access keys. The secret is sealed under the master key.
CREATE TABLE access_keys (
    access_key_id TEXT COLLATE "C" PRIMARY KEY,
    secret        BYTEA NOT NULL,
    session_token TEXT COLLATE "C" NOT NULL DEFAULT '',
    expires_at    BIGINT NOT NULL DEFAULT 0,
    principal_arn TEXT COLLATE "C" NOT NULL,
    created_at    BIGINT NOT NULL
);

-- Private keys of the software key store, sealed under the master key.
CREATE TABLE sealed_keys (
    id         TEXT COLLATE "C" PRIMARY KEY,
    spec       TEXT COLLATE "C" NOT NULL,
    ciphertext BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE signing_profiles (
    name               TEXT COLLATE "C" PRIMARY KEY,
    version            TEXT COLLATE "C" NOT NULL,
    platform_id        TEXT COLLATE "C" NOT NULL,
    validity_value     BIGINT NOT NULL,
    validity_type      TEXT COLLATE "C" NOT NULL,
    signing_parameters TEXT COLLATE "C" NOT NULL,
    overrides          TEXT COLLATE "C" NOT NULL,
    tags               TEXT COLLATE "C" NOT NULL,
    status             TEXT COLLATE "C" NOT NULL,
    status_reason      TEXT COLLATE "C" NOT NULL,
    created_at         BIGINT NOT NULL,
    canceled_at        BIGINT NOT NULL DEFAULT 0,
    policy             TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    policy_revision    TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX signing_profiles_platform ON signing_profiles (platform_id, name);

CREATE TABLE signing_profile_versions (
    profile_name TEXT COLLATE "C" NOT NULL REFERENCES signing_profiles (name),
    version      TEXT COLLATE "C" NOT NULL,
    key_id       TEXT COLLATE "C" NOT NULL,
    certificate  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (profile_name, version)
);
