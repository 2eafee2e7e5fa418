-- Queued Event invocations (the durable async queue).
CREATE TABLE async_invocations (
    id             TEXT PRIMARY KEY,
    function_name  TEXT NOT NULL,
    qualifier      TEXT NOT NULL,
    payload        BLOB NOT NULL,
    client_context TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    attempts       INTEGER NOT NULL,
    not_before     BIGINT NOT NULL,
    lease_until    BIGINT NOT NULL
);
CREATE INDEX async_invocations_due ON async_invocations (not_before, created_at);

-- Reserved concurrency (PutFunctionConcurrency).
CREATE TABLE function_concurrency (
    function_name TEXT PRIMARY KEY,
    reserved      INTEGER NOT NULL
);

-- Function logs, as CloudWatch Logs events.
CREATE TABLE log_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    log_group  TEXT NOT NULL,
    log_stream TEXT NOT NULL,
    ts         BIGINT NOT NULL,
    ingested   BIGINT NOT NULL,
    message    TEXT NOT NULL
);
CREATE INDEX log_events_group_ts ON log_events (log_group, ts, id);
CREATE INDEX log_events_stream ON log_events (log_group, log_stream, ts);
