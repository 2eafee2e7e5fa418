-- Layer versions, and the layers a function uses.
CREATE TABLE layer_versions (
    name                        TEXT NOT NULL,
    version                     INTEGER NOT NULL,
    description                 TEXT NOT NULL,
    runtimes                    TEXT NOT NULL,
    code_sha256                 TEXT NOT NULL,
    code_size                   BIGINT NOT NULL,
    code_path                   TEXT NOT NULL,
    created_at                  BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);
ALTER TABLE functions ADD COLUMN layers TEXT NOT NULL DEFAULT '[]';
