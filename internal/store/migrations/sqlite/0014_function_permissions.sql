-- Functions' resource-based policies (Lambda AddPermission).
CREATE TABLE function_permissions (
    function_name TEXT NOT NULL,
    statement_id  TEXT NOT NULL,
    statement     TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (function_name, statement_id)
);
