-- Published function versions: immutable snapshots of $LATEST.
CREATE TABLE function_versions (
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    snapshot   TEXT NOT NULL,
    code_path  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX function_versions_code ON function_versions (code_path);
