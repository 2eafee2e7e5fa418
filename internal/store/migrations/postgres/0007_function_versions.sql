-- Published function versions: immutable snapshots of $LATEST.
CREATE TABLE function_versions (
    name       TEXT COLLATE "C" NOT NULL,
    version    BIGINT NOT NULL,
    snapshot   TEXT COLLATE "C" NOT NULL,
    code_path  TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX function_versions_code ON function_versions (code_path);
