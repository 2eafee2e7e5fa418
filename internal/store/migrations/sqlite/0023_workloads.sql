-- Continuous validation across nodes: what any node receives (a workload
-- reported running or gone, a revocation) is queued here; the node
-- holding the "workloads" lease applies it in order, records whether it
-- changed anything, and saves the inventory's state, which the other
-- nodes serve and the next holder starts from.
CREATE TABLE workload_inputs (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    input      TEXT NOT NULL,
    applied    INTEGER NOT NULL DEFAULT 0,
    changed    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX workload_inputs_pending ON workload_inputs (applied, seq);

CREATE TABLE workload_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    state      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Work one node at a time does, by name, held until a time.
CREATE TABLE leases (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  INTEGER NOT NULL
);
