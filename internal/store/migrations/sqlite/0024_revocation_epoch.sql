-- A counter every revocation increments in its own transaction: nodes
-- sharing the database compare it with the one their cached CRLs, OCSP
-- responses and admission verdicts were made under, so a revocation
-- holds on every node from the moment it is answered.
CREATE TABLE revocation_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
