-- Layer versions, and the layers a function uses.
CREATE TABLE layer_versions (
    name                        TEXT COLLATE "C" NOT NULL,
    version                     BIGINT NOT NULL,
    description                 TEXT COLLATE "C" NOT NULL,
    runtimes                    TEXT COLLATE "C" NOT NULL,
    code_sha256                 TEXT COLLATE "C" NOT NULL,
    code_size                   BIGINT NOT NULL,
    code_path                   TEXT COLLATE "C" NOT NULL,
    created_at                  BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);
ALTER TABLE functions ADD COLUMN layers TEXT COLLATE "C" NOT NULL DEFAULT '[]';
