-- Functions' resource-based policies (Lambda AddPermission).
CREATE TABLE function_permissions (
    function_name TEXT COLLATE "C" NOT NULL,
    statement_id  TEXT COLLATE "C" NOT NULL,
    statement     TEXT COLLATE "C" NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (function_name, statement_id)
);
