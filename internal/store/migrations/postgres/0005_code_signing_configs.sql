-- Lambda code signing configs. Functions reference them by id once
-- functions exist (function_code_signing_configs).
CREATE TABLE code_signing_configs (
    id            TEXT COLLATE "C" PRIMARY KEY,
    description   TEXT COLLATE "C" NOT NULL,
    publishers    TEXT COLLATE "C" NOT NULL,
    policy        TEXT COLLATE "C" NOT NULL,
    last_modified BIGINT NOT NULL
);

CREATE TABLE function_code_signing_configs (
    function_name TEXT COLLATE "C" PRIMARY KEY,
    csc_id        TEXT COLLATE "C" NOT NULL REFERENCES code_signing_configs (id)
);
CREATE INDEX function_code_signing_configs_csc ON function_code_signing_configs (csc_id, function_name);
